//! The LOG option: lines on stderr prefixed with the client id. What our
//! dependencies (rustls) log through the `log` crate reaches the same place,
//! at the highest LOG level any client asked for.

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
        DependencyLogs::raise(level);
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

/// The `log` crate's records (rustls, rumqttc) as LOG lines, labelled with
/// the crate they come from. There is one logger per process, so it takes
/// the highest level any client set.
struct DependencyLogs;

static DEPENDENCY_LOGS: DependencyLogs = DependencyLogs;
static DEPENDENCY_LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Off as u8);

impl DependencyLogs {
    fn raise(level: LogLevel) {
        if DEPENDENCY_LEVEL.fetch_max(level as u8, Ordering::Relaxed) >= level as u8 {
            return;
        }
        // Fails only if the application installed a logger of its own,
        // which then receives these records instead.
        let _ = ::log::set_logger(&DEPENDENCY_LOGS);
        ::log::set_max_level(match level {
            LogLevel::Off => ::log::LevelFilter::Off,
            LogLevel::Error => ::log::LevelFilter::Error,
            LogLevel::Warn => ::log::LevelFilter::Warn,
            LogLevel::Info => ::log::LevelFilter::Info,
            LogLevel::Debug => ::log::LevelFilter::Debug,
        });
    }

    fn level_of(level: ::log::Level) -> LogLevel {
        match level {
            ::log::Level::Error => LogLevel::Error,
            ::log::Level::Warn => LogLevel::Warn,
            ::log::Level::Info => LogLevel::Info,
            ::log::Level::Debug | ::log::Level::Trace => LogLevel::Debug,
        }
    }
}

impl ::log::Log for DependencyLogs {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        metadata.level() <= ::log::Level::Debug
            && Self::level_of(metadata.level()) as u8 <= DEPENDENCY_LEVEL.load(Ordering::Relaxed)
    }

    fn log(&self, record: &::log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let crate_name = record.target().split("::").next().unwrap_or("?");
            eprintln!(
                "etkmqtt[{crate_name}] {}: {}",
                Self::level_of(record.level()).label(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_records_pass_at_the_highest_level_a_client_set() {
        let logger = Logger::new("t");
        logger.set_level(LogLevel::Info);
        let meta = |level| {
            ::log::Metadata::builder()
                .level(level)
                .target("rustls::client")
                .build()
        };
        assert!(::log::Log::enabled(
            &DEPENDENCY_LOGS,
            &meta(::log::Level::Warn)
        ));
        assert!(::log::Log::enabled(
            &DEPENDENCY_LOGS,
            &meta(::log::Level::Info)
        ));
        assert!(::log::max_level() >= ::log::LevelFilter::Info);
        // Trace is never forwarded: rustls' trace output is byte dumps.
        assert!(!::log::Log::enabled(
            &DEPENDENCY_LOGS,
            &meta(::log::Level::Trace)
        ));
    }
}
