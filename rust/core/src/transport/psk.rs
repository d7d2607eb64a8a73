//! TLS-PSK (RFC 4279) with OpenSSL: Mosquitto's `psk_hint`/`psk_file`
//! listeners, where client and broker share a key instead of certificates.
//!
//! **Why OpenSSL here.** rustls implements no TLS-PSK cipher suite, neither
//! TLS 1.2 PSK suites nor TLS 1.3 external PSKs, so this one transport uses
//! the `openssl` crate (the system libssl, or a vendored build for the
//! Flexy; feature `vendored`). Certificate TLS stays on rustls.
//!
//! **Cipher choice.** The default `PSK-CIPHERS`
//! ([`crate::options::DEFAULT_PSK_CIPHERS`]) puts `ECDHE-PSK-CHACHA20-POLY1305`
//! first: forward secrecy through X25519 for little cost, and ChaCha20 runs
//! fast in software on CPUs without AES instructions, as gateway ARM cores
//! often are. Plain `PSK-AES128-GCM-SHA256` and `PSK-AES256-GCM-SHA384`
//! follow for brokers without ECDHE-PSK; OpenSSL-based PSK listeners with
//! default settings accept them. `DHE-PSK-*` suites are left out: their
//! 2048-bit finite-field exchange made a handshake with Mosquitto on
//! localhost over ten times slower than ECDHE-PSK (about 8 ms against 0.6 ms
//! on x86-64; see `handshake_time_by_cipher_suite` below), and a slow CPU
//! pays that many times over.
//!
//! **Versions.** TLS 1.2 only by default: Mosquitto 2.0.12 and later
//! disable TLS 1.3 on PSK listeners (2.0.11 still accepts it). With `TLSVERSION tlsv1.3` the transport speaks
//! only TLS 1.3, where OpenSSL offers the same identity and key as an
//! external PSK; OpenSSL binds such a key to SHA-256, so the TLS 1.3 suites
//! are the two SHA-256 ones and `PSK-CIPHERS` (a TLS 1.2 list) does not apply.
//!
//! **No certificates.** A PSK handshake authenticates both sides through the
//! key, and a TLS 1.2 PSK suite carries no certificate. A TLS 1.3 server,
//! however, may ignore our PSK and authenticate with a certificate instead;
//! accepting that unverified would connect to anyone. So any certificate the
//! broker presents is refused, and the refusal is reported as "not a PSK
//! listener".
//!
//! Like the rustls transport, this one is non-blocking and driven by the
//! engine's mio poll loop: OpenSSL's "want read" and "want write" become
//! `WouldBlock` and [`Transport::wants_write`].

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use openssl::error::ErrorStack;
use openssl::ssl::{
    ErrorCode, Ssl, SslContext, SslMethod, SslMode, SslOptions, SslRef, SslStream, SslVerifyMode,
    SslVersion,
};
use zeroize::Zeroizing;

use super::Transport;
use crate::error::ConnectError;
use crate::options::{PskOptions, TlsVersion, DEFAULT_PSK_CIPHERS};

/// The TLS 1.3 suites usable with a key from OpenSSL's PSK client callback,
/// which OpenSSL ties to SHA-256.
const TLS13_PSK_SUITES: &str = "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";

/// The largest plaintext of one TLS record. Handing OpenSSL at most this
/// much per write means a write that blocks has put exactly the bytes it was
/// given into one pending record (see [`PskTransport::write`]).
const MAX_RECORD_PLAINTEXT: usize = 16 * 1024;

/// OpenSSL's library code for libssl errors (`ERR_LIB_SSL`).
const ERR_LIB_SSL: i32 = 20;
/// `SSL_AD_REASON_OFFSET`: libssl reports "alert N received" as reason 1000 + N.
const ALERT_REASON_OFFSET: i32 = 1000;
/// `SSL_R_UNEXPECTED_EOF_WHILE_READING` (OpenSSL 3): TCP closed without close_notify.
const REASON_UNEXPECTED_EOF: i32 = 294;
/// `SSL_R_WRONG_VERSION_NUMBER` and `SSL_R_PACKET_LENGTH_TOO_LONG`: the
/// answer was not a TLS record.
const REASONS_NOT_TLS: [i32; 2] = [267, 198];

/// TLS alert numbers (RFC 8446, RFC 4279) that the handshake maps to causes.
mod alert {
    pub(super) const BAD_RECORD_MAC: i32 = 20;
    pub(super) const HANDSHAKE_FAILURE: i32 = 40;
    pub(super) const ILLEGAL_PARAMETER: i32 = 47;
    pub(super) const DECRYPT_ERROR: i32 = 51;
    pub(super) const PROTOCOL_VERSION: i32 = 70;
    pub(super) const INSUFFICIENT_SECURITY: i32 = 71;
    pub(super) const UNKNOWN_PSK_IDENTITY: i32 = 115;
    pub(super) const NO_APPLICATION_PROTOCOL: i32 = 120;
}

/// An OpenSSL context for TLS-PSK, built once per connection attempt from
/// PSK, PSK-IDENTITY, PSK-CIPHERS and TLSVERSION.
///
/// The key lives only inside the PSK callback held by the context, as a
/// [`crate::secret::Secret`] (zeroized when the last connection of this
/// attempt and the connector are gone). OpenSSL copies it into its own
/// buffer for the handshake and wipes that buffer itself.
pub(crate) struct PskConnector {
    context: SslContext,
    identity: String,
    ciphers: String,
    version: TlsVersion,
    /// ALPN names, offered and required when not empty.
    alpn: Vec<String>,
}

impl PskConnector {
    pub(crate) fn new(psk: &PskOptions, version: TlsVersion) -> Result<PskConnector, ConnectError> {
        let identity = psk.identity.as_bytes();
        if identity.is_empty() || identity.len() > 128 || identity.contains(&0) {
            return Err(ConnectError::Tls(format!(
                "PSK-IDENTITY must be 1 to 128 bytes without NUL characters, got {} bytes",
                identity.len()
            )));
        }
        let setup = |step: &str, e: ErrorStack| {
            ConnectError::Tls(format!("cannot set up TLS-PSK ({step}): {e}"))
        };
        let mut builder =
            SslContext::builder(SslMethod::tls_client()).map_err(|e| setup("new context", e))?;

        // The cipher list is checked in both modes so that a typo in
        // PSK-CIPHERS shows up even while TLS 1.3 ignores it.
        builder.set_cipher_list(&psk.ciphers).map_err(|_| {
            ConnectError::Tls(format!(
                "PSK-CIPHERS '{}' names no cipher suite OpenSSL knows; give an OpenSSL cipher list such as \"{DEFAULT_PSK_CIPHERS}\"",
                psk.ciphers
            ))
        })?;
        let (min, max) = match version {
            TlsVersion::Tls12 => (SslVersion::TLS1_2, SslVersion::TLS1_2),
            TlsVersion::Tls13 => (SslVersion::TLS1_3, SslVersion::TLS1_3),
        };
        builder
            .set_min_proto_version(Some(min))
            .map_err(|e| setup("TLSVERSION", e))?;
        builder
            .set_max_proto_version(Some(max))
            .map_err(|e| setup("TLSVERSION", e))?;
        if version == TlsVersion::Tls13 {
            builder
                .set_ciphersuites(TLS13_PSK_SUITES)
                .map_err(|e| setup("TLS 1.3 suites", e))?;
        }

        // No session tickets (every attempt starts from the key), no
        // renegotiation (it would make a read want to write).
        builder.set_options(
            SslOptions::NO_TICKET | SslOptions::NO_RENEGOTIATION | SslOptions::NO_COMPRESSION,
        );
        // Partial writes: OpenSSL returns after each record instead of
        // holding on to the rest. Moving buffer: a blocked write is retried
        // from the transport's own copy (see `PskTransport::write`).
        builder.set_mode(SslMode::ENABLE_PARTIAL_WRITE | SslMode::ACCEPT_MOVING_WRITE_BUFFER);

        let key = psk.key.clone();
        let identity = identity.to_vec();
        builder.set_psk_client_callback(move |_ssl, _hint, identity_out, key_out| {
            let key = key.expose();
            // `identity_out` has room for OpenSSL's maximum identity (at
            // least 128 bytes) plus NUL, `key_out` for its maximum key (at
            // least 256 bytes); options allow 128 and 64.
            match (
                identity_out.get_mut(..=identity.len()),
                key_out.get_mut(..key.len()),
            ) {
                (Some(identity_slot), Some(key_slot)) => {
                    let (text, nul) = identity_slot.split_at_mut(identity.len());
                    text.copy_from_slice(&identity);
                    nul.fill(0);
                    key_slot.copy_from_slice(key);
                    Ok(key.len())
                }
                // OpenSSL then fails the handshake ("psk identity not found").
                _ => Err(ErrorStack::get()),
            }
        });

        Ok(PskConnector {
            context: builder.build(),
            identity: psk.identity.clone(),
            ciphers: psk.ciphers.clone(),
            version,
            alpn: Vec::new(),
        })
    }

    /// Offers these ALPN protocol names in every handshake and requires the
    /// broker to pick one.
    pub(crate) fn with_alpn(mut self, alpn: &[String]) -> PskConnector {
        self.alpn = alpn.to_vec();
        self
    }

    pub(crate) fn wrap(
        &self,
        socket: mio::net::TcpStream,
        host: &str,
        port: u16,
    ) -> Result<Box<dyn Transport>, ConnectError> {
        Ok(Box::new(self.start(socket, host, port)?))
    }

    fn start(
        &self,
        socket: mio::net::TcpStream,
        host: &str,
        port: u16,
    ) -> Result<PskTransport, ConnectError> {
        let setup = |e: ErrorStack| ConnectError::Tls(format!("cannot set up TLS-PSK: {e}"));
        let mut ssl = Ssl::new(&self.context).map_err(setup)?;
        ssl.set_connect_state();
        // SNI carries names only (RFC 6066); an IP literal is not sent.
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        if bare_host.parse::<IpAddr>().is_err() {
            ssl.set_hostname(host).map_err(setup)?;
        }
        if !self.alpn.is_empty() {
            // The wire format of RFC 7301: each name prefixed by its length
            // (options limit names to 1-255 bytes).
            let mut wire = Vec::new();
            for name in &self.alpn {
                wire.push(name.len() as u8);
                wire.extend_from_slice(name.as_bytes());
            }
            ssl.set_alpn_protos(&wire).map_err(setup)?;
        }
        let certificate_presented = Arc::new(AtomicBool::new(false));
        let seen = certificate_presented.clone();
        ssl.set_verify_callback(SslVerifyMode::PEER, move |_chain_ok, _chain| {
            seen.store(true, Ordering::Relaxed);
            false
        });
        let stream = SslStream::new(ssl, socket).map_err(setup)?;
        Ok(PskTransport {
            stream,
            diagnosis: Diagnosis {
                identity: self.identity.clone(),
                ciphers: self.ciphers.clone(),
                version: self.version,
                port,
                certificate_presented,
                alpn: self.alpn.join(","),
            },
            handshake_wants_write: false,
            read_wants_write: false,
            pending_write: None,
        })
    }
}

/// A TLS-PSK connection on the engine's non-blocking socket.
pub(crate) struct PskTransport {
    stream: SslStream<mio::net::TcpStream>,
    diagnosis: Diagnosis,
    /// The last handshake step waited for the socket to take bytes.
    handshake_wants_write: bool,
    /// A read had to send (a TLS 1.3 key update answer) and was blocked.
    read_wants_write: bool,
    /// Plaintext already reported as written whose record OpenSSL could not
    /// finish sending. OpenSSL requires the blocked write to be repeated
    /// with the same bytes, so they are kept here until a flush completes
    /// it. Zeroized: it may be the CONNECT packet with the password.
    pending_write: Option<Zeroizing<Vec<u8>>>,
}

impl PskTransport {
    /// Sends `pending_write`; `WouldBlock` while the socket cannot take it.
    fn send_pending(&mut self) -> io::Result<()> {
        while let Some(pending) = self.pending_write.as_mut() {
            match self.stream.ssl_write(pending) {
                Ok(n) if n >= pending.len() => self.pending_write = None,
                // A part was sent; the rest is an ordinary new write.
                Ok(n) => {
                    pending.drain(..n);
                }
                Err(e) => return Err(io_error(e)),
            }
        }
        Ok(())
    }
}

impl Transport for PskTransport {
    fn handshake(&mut self) -> Result<bool, ConnectError> {
        match self.stream.connect() {
            Ok(()) => {
                self.handshake_wants_write = false;
                // The verify callback refuses every certificate, so a
                // completed handshake has none; checked again because a
                // certificate-authenticated session must never pass as PSK.
                if self.stream.ssl().peer_certificate().is_some() {
                    return Err(ConnectError::NotPskListener {
                        port: self.diagnosis.port,
                    });
                }
                if !self.diagnosis.alpn.is_empty()
                    && self.stream.ssl().selected_alpn_protocol().is_none()
                {
                    return Err(ConnectError::NoAlpnProtocol {
                        offered: self.diagnosis.alpn.clone(),
                        alert: false,
                    });
                }
                Ok(true)
            }
            Err(e) if e.code() == ErrorCode::WANT_READ => {
                self.handshake_wants_write = false;
                Ok(false)
            }
            Err(e) if e.code() == ErrorCode::WANT_WRITE => {
                self.handshake_wants_write = true;
                Ok(false)
            }
            Err(e) => Err(self
                .diagnosis
                .handshake_failure(&e, server_hello_received(self.stream.ssl()))),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.stream.ssl_read(buf) {
            Ok(n) => Ok(n),
            Err(e) if is_end_of_stream(&e) => Ok(0),
            Err(e) => {
                // A read that must send (a TLS 1.3 key update answer) waits
                // for writability; `flush` repeats it.
                self.read_wants_write = e.code() == ErrorCode::WANT_WRITE;
                Err(io_error(e))
            }
        }
    }

    /// Encrypts and sends up to one record of `buf`. When the socket is
    /// full mid-record the bytes still count as written: a copy is kept and
    /// [`Transport::flush`] completes the record, so callers never need to
    /// repeat a write with identical bytes as OpenSSL would otherwise
    /// demand.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send_pending()?;
        let chunk = &buf[..buf.len().min(MAX_RECORD_PLAINTEXT)];
        match self.stream.ssl_write(chunk) {
            Ok(n) => Ok(n),
            Err(e) if e.code() == ErrorCode::WANT_WRITE => {
                self.pending_write = Some(Zeroizing::new(chunk.to_vec()));
                Ok(chunk.len())
            }
            Err(e) => Err(io_error(e)),
        }
    }

    /// Finishes a record a blocked write left behind, and a blocked read's
    /// handshake message (repeated through `SSL_peek`, which leaves the
    /// application data in OpenSSL for the next read).
    fn flush(&mut self) -> io::Result<()> {
        if self.read_wants_write {
            match self.stream.ssl_peek(&mut [0u8; 1]) {
                Err(e) if e.code() == ErrorCode::WANT_WRITE => {
                    return Err(io::ErrorKind::WouldBlock.into())
                }
                // Data, want-read, EOF or an error: the next read reports it.
                _ => self.read_wants_write = false,
            }
        }
        self.send_pending()
    }

    fn wants_write(&self) -> bool {
        self.handshake_wants_write || self.read_wants_write || self.pending_write.is_some()
    }

    fn socket_mut(&mut self) -> &mut mio::net::TcpStream {
        self.stream.get_mut()
    }

    fn explain(&self, err: &io::Error) -> ConnectError {
        let tls = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<openssl::ssl::Error>());
        match tls.and_then(|e| e.ssl_error()).and_then(received_alert) {
            Some((_, reason)) => ConnectError::ConnectionLost(format!(
                "the broker ended the TLS-PSK session ({reason})"
            )),
            None => ConnectError::ConnectionLost(err.to_string()),
        }
    }
}

/// What the handshake needs to turn an OpenSSL failure into a cause.
struct Diagnosis {
    identity: String,
    ciphers: String,
    version: TlsVersion,
    port: u16,
    /// Set by the verify callback: the broker sent a certificate.
    certificate_presented: Arc<AtomicBool>,
    /// The ALPN names offered, comma-separated; empty when none.
    alpn: String,
}

impl Diagnosis {
    /// Maps a failed handshake to its cause. Observed against Mosquitto
    /// 2.0.11 on OpenSSL 3.0, the broker answers:
    ///
    /// | case                             | TLS 1.2                       | TLS 1.3 (TLSVERSION tlsv1.3)  |
    /// |----------------------------------|-------------------------------|-------------------------------|
    /// | wrong key                        | `bad_record_mac` (20)         | `illegal_parameter` (47)      |
    /// | identity not in `psk_file`       | `unknown_psk_identity` (115)  | `handshake_failure` (40)      |
    /// | certificate listener             | `handshake_failure` (40)      | sends its certificate         |
    /// | PSK listener, no shared suite    | `handshake_failure` (40)      | —                             |
    /// | PSK listener without TLS 1.3     | —                             | `protocol_version` (70)       |
    /// | plain MQTT listener              | closes the TCP connection     | closes the TCP connection     |
    ///
    /// (The TLS 1.3 `protocol_version` row is what Mosquitto 2.0.12 and
    /// later do; observed with an OpenSSL `s_server -no_tls1_3`.) Other
    /// servers answer a wrong key with `decrypt_error` (51), treated alike.
    ///
    /// Under TLS 1.2 a certificate listener and a PSK listener without a
    /// shared suite send the very same `handshake_failure` to the
    /// ClientHello: the client cannot tell them apart. With the default
    /// PSK-CIPHERS, which PSK listeners with default settings accept, the
    /// answer is reported as "not a PSK listener" (whose text already hedges
    /// "it may be"); with the user's own PSK-CIPHERS the message names both
    /// causes. A `handshake_failure` after the ServerHello is neither, and
    /// is reported as the alert.
    ///
    /// Under TLS 1.3 the broker skips an identity it does not know and falls
    /// back to certificate authentication, which a PSK listener cannot do:
    /// `handshake_failure` there means an unknown identity (the two SHA-256
    /// suites we offer are ones every TLS 1.3 server has).
    fn handshake_failure(&self, err: &openssl::ssl::Error, server_hello: bool) -> ConnectError {
        let port = self.port;
        if self.certificate_presented.load(Ordering::Relaxed) {
            return ConnectError::NotPskListener { port };
        }
        if is_end_of_stream(err) {
            return ConnectError::HandshakeEof { port };
        }
        if let Some(io) = err.io_error() {
            return if super::is_reset(io) {
                ConnectError::HandshakeEof { port }
            } else {
                ConnectError::ConnectionLost(io.to_string())
            };
        }
        let Some(stack) = err.ssl_error() else {
            return ConnectError::Tls(format!("TLS-PSK handshake failed: {err}"));
        };
        if stack
            .errors()
            .iter()
            .any(|e| e.library_code() == ERR_LIB_SSL && REASONS_NOT_TLS.contains(&e.reason_code()))
        {
            return ConnectError::Tls(format!(
                "port {port} did not answer with TLS: is it a TLS-PSK listener?"
            ));
        }
        let Some((alert, reason)) = received_alert(stack) else {
            return ConnectError::Tls(format!("TLS-PSK handshake failed: {stack}"));
        };
        let identity = || self.identity.clone();
        let tls13 = self.version == TlsVersion::Tls13;
        match alert {
            alert::NO_APPLICATION_PROTOCOL if !self.alpn.is_empty() => ConnectError::NoAlpnProtocol {
                offered: self.alpn.clone(),
                alert: true,
            },
            alert::BAD_RECORD_MAC | alert::DECRYPT_ERROR => {
                ConnectError::PskKeyRejected { identity: identity() }
            }
            alert::ILLEGAL_PARAMETER if tls13 => ConnectError::PskKeyRejected { identity: identity() },
            alert::UNKNOWN_PSK_IDENTITY => ConnectError::PskIdentityUnknown { identity: identity() },
            alert::HANDSHAKE_FAILURE if tls13 => {
                ConnectError::PskIdentityUnknown { identity: identity() }
            }
            alert::HANDSHAKE_FAILURE | alert::INSUFFICIENT_SECURITY if !server_hello => {
                if self.ciphers == DEFAULT_PSK_CIPHERS {
                    ConnectError::NotPskListener { port }
                } else {
                    ConnectError::PskNoSharedCipher {
                        port,
                        offered: self.ciphers.clone(),
                    }
                }
            }
            alert::PROTOCOL_VERSION if tls13 => ConnectError::Tls(format!(
                "the broker on port {port} does not accept TLS 1.3 for TLS-PSK ({reason}); Mosquitto 2.0.12 and later allow only TLS 1.2 on PSK listeners: set TLSVERSION tlsv1.2"
            )),
            _ => ConnectError::Tls(format!("TLS-PSK handshake failed: the broker sent {reason}")),
        }
    }
}

/// True once the ServerHello arrived: its random is never all zeros, and
/// OpenSSL keeps zeros there until then.
fn server_hello_received(ssl: &SslRef) -> bool {
    let mut random = [0u8; 32];
    let len = ssl.server_random(&mut random);
    random.iter().take(len).any(|&b| b != 0)
}

/// The alert the broker sent, if the error stack reports one: its number
/// and OpenSSL's description ("tlsv1 alert unknown psk identity").
fn received_alert(stack: &ErrorStack) -> Option<(i32, String)> {
    stack.errors().iter().find_map(|e| {
        let alert = e.reason_code() - ALERT_REASON_OFFSET;
        (e.library_code() == ERR_LIB_SSL && (0..256).contains(&alert)).then(|| {
            let reason = e.reason().unwrap_or("TLS alert");
            (alert, format!("{reason}, alert {alert}"))
        })
    })
}

/// A close by the broker: close_notify, or TCP closed without it (OpenSSL
/// 3 reports that as an error, 1.1 as a syscall error without errno).
fn is_end_of_stream(err: &openssl::ssl::Error) -> bool {
    match err.code() {
        ErrorCode::ZERO_RETURN => true,
        ErrorCode::SYSCALL => {
            err.io_error().is_none() && err.ssl_error().is_none_or(|s| s.errors().is_empty())
        }
        ErrorCode::SSL => err.ssl_error().is_some_and(|stack| {
            stack.errors().iter().any(|e| {
                e.library_code() == ERR_LIB_SSL && e.reason_code() == REASON_UNEXPECTED_EOF
            })
        }),
        _ => false,
    }
}

/// Converts an OpenSSL error for the engine: want-read and want-write
/// become `WouldBlock`; the others keep the `openssl::ssl::Error` inside so
/// that [`Transport::explain`] can read the alert.
fn io_error(err: openssl::ssl::Error) -> io::Error {
    match err.code() {
        ErrorCode::WANT_READ | ErrorCode::WANT_WRITE => io::ErrorKind::WouldBlock.into(),
        _ => err.into_io_error().unwrap_or_else(io::Error::other),
    }
}

/// Against a real Mosquitto started per test on free 127.0.0.1 ports (the
/// engine's own tests go through `Client`; these pin what each broker
/// answer turns into).
#[cfg(test)]
mod tests;
