//! TLS-PSK with OpenSSL (placeholder while the PSK transport is written).

use super::Transport;
use crate::error::ConnectError;
use crate::options::{PskOptions, TlsVersion};

pub(crate) struct PskConnector;

impl PskConnector {
    pub(crate) fn new(
        _psk: &PskOptions,
        _version: TlsVersion,
    ) -> Result<PskConnector, ConnectError> {
        Err(ConnectError::Tls(
            "TLS-PSK is not available in this build yet".to_owned(),
        ))
    }

    pub(crate) fn wrap(
        &self,
        _socket: mio::net::TcpStream,
        _host: &str,
        _port: u16,
    ) -> Result<Box<dyn Transport>, ConnectError> {
        Err(ConnectError::Tls(
            "TLS-PSK is not available in this build yet".to_owned(),
        ))
    }
}
