//! Byte streams to the broker: plain TCP, certificate TLS (rustls) and
//! TLS-PSK (OpenSSL). All run non-blocking on the client's I/O thread, which
//! polls the socket with mio; none needs an async runtime.

use std::io;
use std::sync::Arc;

use crate::error::ConnectError;
use crate::options::Options;

mod psk;
mod tcp;
mod tls;

/// A connected stream to the broker, in non-blocking mode. Reads and writes
/// return `WouldBlock` when the socket is not ready; the engine then waits
/// for the socket's readiness and calls again.
pub trait Transport: Send {
    /// Advances the TLS handshake. `Ok(true)` once it is complete;
    /// `Ok(false)` when it waits for the socket (readable, and writable when
    /// [`Transport::wants_write`]).
    fn handshake(&mut self) -> Result<bool, ConnectError>;

    /// Reads decrypted bytes. `Ok(0)` means the broker closed the stream.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Takes plaintext to send; may accept only part of `buf`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;

    /// Pushes out bytes buffered inside the transport (TLS records).
    fn flush(&mut self) -> io::Result<()>;

    /// True while the transport holds bytes that [`Transport::flush`] must send.
    fn wants_write(&self) -> bool;

    /// The socket, for registration with the poller.
    fn socket_mut(&mut self) -> &mut mio::net::TcpStream;

    /// Turns an I/O error of this transport into the cause a user can act
    /// on (a TLS alert becomes "the broker requires a client certificate").
    fn explain(&self, err: &io::Error) -> ConnectError {
        ConnectError::ConnectionLost(err.to_string())
    }
}

/// True for the ways a socket ends abruptly: a plain MQTT listener answers
/// a TLS ClientHello by resetting the connection, which the TLS transports
/// report as "closed during the TLS handshake".
pub(crate) fn is_reset(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// How to secure a connection, prepared from the options once per attempt so
/// that files fixed by the user are picked up on the next try.
pub(crate) enum Security {
    Plain,
    Certificates(Arc<tls::CertificateTls>),
    Psk(Arc<psk::PskConnector>),
}

impl Security {
    pub(crate) fn from_options(options: &Options) -> Result<Security, ConnectError> {
        if let Some(psk) = options.psk() {
            return Ok(Security::Psk(Arc::new(psk::PskConnector::new(
                &psk,
                options.tls_version,
            )?)));
        }
        if options.ca_file.is_some() {
            return Ok(Security::Certificates(Arc::new(
                tls::CertificateTls::from_options(options)?,
            )));
        }
        Ok(Security::Plain)
    }

    /// Wraps a connected socket; the handshake happens in
    /// [`Transport::handshake`].
    pub(crate) fn wrap(
        &self,
        socket: mio::net::TcpStream,
        host: &str,
        port: u16,
    ) -> Result<Box<dyn Transport>, ConnectError> {
        match self {
            Security::Plain => Ok(Box::new(tcp::TcpTransport::new(socket))),
            Security::Certificates(tls) => Ok(Box::new(tls.wrap(socket, host, port)?)),
            Security::Psk(psk) => psk.wrap(socket, host, port),
        }
    }
}
