//! The connection status codes of the Flexy API.

/// Where a client is in its life, with the numeric codes of the Flexy's
/// `MqttClient.getStatus()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ConnectionStatus {
    /// Not known (never returned by this implementation; part of the API).
    Unknown = -1,
    /// `connect()` was called and the I/O thread is starting.
    Starting = 2,
    /// Trying to connect, or waiting before the next try after a failure.
    TryingToConnect = 3,
    /// Not connected and not trying: before `connect()` and after `close()`.
    Disconnected = 4,
    /// Connected: the broker accepted the CONNECT.
    Connected = 5,
}

impl ConnectionStatus {
    /// The Flexy API code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The status for a code, `Unknown` for codes that are not statuses.
    pub fn from_code(code: i32) -> ConnectionStatus {
        match code {
            2 => ConnectionStatus::Starting,
            3 => ConnectionStatus::TryingToConnect,
            4 => ConnectionStatus::Disconnected,
            5 => ConnectionStatus::Connected,
            _ => ConnectionStatus::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConnectionStatus;

    #[test]
    fn codes_match_the_flexy_api() {
        for (status, code) in [
            (ConnectionStatus::Unknown, -1),
            (ConnectionStatus::Starting, 2),
            (ConnectionStatus::TryingToConnect, 3),
            (ConnectionStatus::Disconnected, 4),
            (ConnectionStatus::Connected, 5),
        ] {
            assert_eq!(status.code(), code);
            assert_eq!(ConnectionStatus::from_code(code), status);
        }
        assert_eq!(ConnectionStatus::from_code(1), ConnectionStatus::Unknown);
    }
}
