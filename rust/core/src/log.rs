//! The LOG option: lines on stderr prefixed with the client id.

use std::sync::atomic::{AtomicU8, Ordering};

/// How much to log, from the LOG option (0 off … 4 debug).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum LogLevel {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl LogLevel {
    pub fn from_u8(level: u8) -> Option<LogLevel> {
        Some(match level {
            0 => LogLevel::Off,
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            _ => return None,
        })
    }

    fn label(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// A client's logger. Callers must never pass secrets: options log their
/// names, not their values, and errors are built without secrets.
#[derive(Debug)]
pub struct Logger {
    client_id: String,
    level: AtomicU8,
}

impl Logger {
    pub fn new(client_id: &str) -> Logger {
        Logger {
            client_id: client_id.to_owned(),
            level: AtomicU8::new(LogLevel::Off as u8),
        }
    }

    pub fn set_level(&self, level: LogLevel) {
        self.level.store(level as u8, Ordering::Relaxed);
    }

    pub fn enabled(&self, level: LogLevel) -> bool {
        level != LogLevel::Off && level as u8 <= self.level.load(Ordering::Relaxed)
    }

    pub fn log(&self, level: LogLevel, message: std::fmt::Arguments<'_>) {
        if self.enabled(level) {
            eprintln!("etkmqtt[{}] {}: {}", self.client_id, level.label(), message);
        }
    }
}

/// `log!(logger, Info, "connected to {}", addr)`: formats only when enabled.
macro_rules! log {
    ($logger:expr, $level:ident, $($arg:tt)+) => {
        if $logger.enabled($crate::log::LogLevel::$level) {
            $logger.log($crate::log::LogLevel::$level, format_args!($($arg)+));
        }
    };
}
pub(crate) use log;
