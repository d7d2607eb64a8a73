//! Byte streams to the broker: plain TCP, certificate TLS (rustls) and
//! TLS-PSK (OpenSSL), optionally through an HTTP or SOCKS5 proxy (PROXY)
//! and optionally carrying MQTT in WebSocket frames (TRANSPORT websocket).
//! All run non-blocking on the client's I/O thread, which polls the socket
//! with mio; none needs an async runtime.
//!
//! The layers, outermost first, as [`Connector::wrap`] stacks them:
//!
//! ```text
//! WebSocket (websocket.rs)   binary frames, subprotocol mqtt, WSPATH
//!   TLS or TLS-PSK           tls.rs / psk.rs, with ALPN
//!     proxy tunnel           proxy.rs: HTTP CONNECT or SOCKS5, on the raw socket
//!       TCP socket           connected to Connector::tcp_target
//! ```
//!
//! Each layer's `handshake` first completes the one below it, so the
//! engine's single handshake loop drives them all.

use std::io;
use std::sync::Arc;

use crate::error::ConnectError;
use crate::options::{Options, ProxyOptions};

mod proxy;
mod psk;
mod tcp;
mod tls;
mod websocket;

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

    /// What [`Transport::handshake`] is doing, for the timeout message
    /// ("timed out after 30 s {phase} broker:8883").
    fn phase(&self) -> &'static str {
        "in the TLS handshake with"
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

/// How to secure a connection, prepared from the options by `connect()`
/// (which reads the certificate and key files, so that a bad one is the
/// caller's error) and used by every attempt.
#[derive(Clone)]
pub(crate) enum Security {
    Plain,
    Certificates(Arc<tls::CertificateTls>),
    Psk(Arc<psk::PskConnector>),
}

impl Security {
    pub(crate) fn from_options(options: &Options) -> Result<Security, ConnectError> {
        if let Some(psk) = options.psk() {
            return Ok(Security::Psk(Arc::new(
                psk::PskConnector::new(&psk, options.tls_version)?.with_alpn(&options.alpn),
            )));
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

/// Everything a connection attempt needs to reach the broker: security,
/// proxy and WebSocket settings, prepared from the options once by
/// `connect()`. The engine asks [`Connector::tcp_target`] where to open the
/// TCP connection, then hands the socket to [`Connector::wrap`].
pub(crate) struct Connector {
    security: Security,
    proxy: Option<ProxyOptions>,
    websocket: Option<websocket::Settings>,
}

impl Connector {
    pub(crate) fn from_options(options: &Options) -> Result<Connector, ConnectError> {
        let security = Security::from_options(options)?;
        Ok(Connector {
            websocket: options.websocket.then(|| websocket::Settings {
                path: options.ws_path().to_owned(),
                secure: options.uses_tls(),
            }),
            security,
            proxy: options.proxy.clone(),
        })
    }

    /// Where to open the TCP connection: the proxy's host and port when
    /// PROXY is set, else the broker's. The broker's name is then resolved
    /// by the proxy, not here.
    pub(crate) fn tcp_target<'a>(&'a self, host: &'a str, port: u16) -> (&'a str, u16) {
        match &self.proxy {
            Some(proxy) => (proxy.host.as_str(), proxy.port),
            None => (host, port),
        }
    }

    /// With PROXY set, a failure to reach the proxy is reported as such
    /// (the engine's words name a broker). Other errors pass unchanged.
    pub(crate) fn tcp_error(&self, error: ConnectError) -> ConnectError {
        let Some(proxy) = &self.proxy else {
            return error;
        };
        let reason = match &error {
            ConnectError::Refused { addr } => format!("connection refused by {addr}"),
            ConnectError::Unreachable { reason, .. } => reason.clone(),
            ConnectError::Dns { host, reason } => format!("cannot resolve '{host}': {reason}"),
            ConnectError::Timeout { seconds, .. } => {
                format!("no TCP connection within {seconds} s (CONNECTTIMEOUT {seconds})")
            }
            _ => return error,
        };
        ConnectError::ProxyUnreachable {
            proxy: proxy.display(),
            reason,
        }
    }

    /// Wraps a socket connected to [`Connector::tcp_target`] in every layer
    /// the options ask for; `host` and `port` are the broker's (for the
    /// tunnel, TLS server name, and the WebSocket `Host`). The
    /// negotiations all happen in [`Transport::handshake`].
    pub(crate) fn wrap(
        &self,
        socket: mio::net::TcpStream,
        host: &str,
        port: u16,
    ) -> Result<Box<dyn Transport>, ConnectError> {
        let stream: Box<dyn Transport> = match &self.proxy {
            Some(proxy) => Box::new(proxy::ProxiedTransport::new(
                proxy,
                socket,
                self.security.clone(),
                host,
                port,
            )?),
            None => self.security.wrap(socket, host, port)?,
        };
        Ok(match &self.websocket {
            Some(settings) => Box::new(websocket::WebSocketTransport::new(
                stream, settings, host, port,
            )?),
            None => stream,
        })
    }
}
