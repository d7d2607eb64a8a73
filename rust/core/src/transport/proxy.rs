//! PROXY: a tunnel to the broker through an HTTP proxy (CONNECT, RFC 9110
//! section 9.3.6, with Basic authentication) or a SOCKS5 proxy (RFC 1928,
//! user name and password by RFC 1929). The negotiation runs on the raw
//! socket before TLS, non-blocking like everything on the I/O thread; once
//! the proxy has opened the tunnel, the socket goes to the next layer
//! (plain, TLS or TLS-PSK) as if it were connected to the broker itself.
//!
//! The negotiation never reads past the proxy's answer: the bytes after it
//! belong to the broker's TLS or MQTT stream, which the next layer reads
//! from the socket itself. HTTP answers are read in steps no longer than
//! what can still belong to the header end `\r\n\r\n`; SOCKS5 answers
//! announce their length.

use std::io::{self, Read, Write};

use zeroize::Zeroizing;

use super::{is_reset, Security, Transport};
use crate::encoding::base64_encode;
use crate::error::ConnectError;
use crate::options::{ProxyKind, ProxyOptions};

/// The longest HTTP answer header accepted from a proxy.
const MAX_HTTP_HEADER: usize = 16 * 1024;

/// Where the negotiation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// HTTP: waiting for the answer to CONNECT.
    HttpAnswer,
    /// SOCKS5: waiting for the chosen authentication method.
    SocksMethod,
    /// SOCKS5: waiting for the verdict on user name and password.
    SocksAuth,
    /// SOCKS5: waiting for the answer to the CONNECT command.
    SocksReply,
    Done,
}

/// The proxy negotiation as a value: bytes to send, bytes received, and
/// what they mean. [`ProxyHandshake::drive`] moves it on a socket.
pub(crate) struct ProxyHandshake {
    proxy: ProxyOptions,
    target_host: String,
    target_port: u16,
    /// The request being sent; it holds the proxy's password.
    out: Zeroizing<Vec<u8>>,
    sent: usize,
    answer: Vec<u8>,
    step: Step,
}

impl ProxyHandshake {
    pub(crate) fn new(
        proxy: &ProxyOptions,
        host: &str,
        port: u16,
    ) -> Result<ProxyHandshake, ConnectError> {
        let mut handshake = ProxyHandshake {
            proxy: proxy.clone(),
            target_host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            target_port: port,
            out: Zeroizing::new(Vec::new()),
            sent: 0,
            answer: Vec::new(),
            step: Step::Done,
        };
        match proxy.kind {
            ProxyKind::Http => {
                handshake.queue_http_connect();
                handshake.step = Step::HttpAnswer;
            }
            ProxyKind::Socks5 => {
                if handshake.target_host.len() > 255 {
                    return Err(handshake.protocol(
                        "cannot be asked for a host name longer than 255 bytes (SOCKS5 limit)",
                    ));
                }
                // Offer "no authentication", plus "user name and password"
                // when PROXY has them.
                let greeting: &[u8] = if proxy.credentials.is_some() {
                    &[5, 2, 0x00, 0x02]
                } else {
                    &[5, 1, 0x00]
                };
                handshake.out.extend_from_slice(greeting);
                handshake.step = Step::SocksMethod;
            }
        }
        Ok(handshake)
    }

    /// `host:port` of the broker, IPv6 in brackets.
    fn target(&self) -> String {
        if self.target_host.contains(':') {
            format!("[{}]:{}", self.target_host, self.target_port)
        } else {
            format!("{}:{}", self.target_host, self.target_port)
        }
    }

    fn queue_http_connect(&mut self) {
        let target = self.target();
        let mut request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n").into_bytes();
        if let Some((user, password)) = &self.proxy.credentials {
            let mut pair = Zeroizing::new(user.as_bytes().to_vec());
            pair.push(b':');
            pair.extend_from_slice(password.expose());
            let encoded = Zeroizing::new(base64_encode(&pair));
            request.extend_from_slice(b"Proxy-Authorization: Basic ");
            request.extend_from_slice(encoded.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(&request);
        drop(Zeroizing::new(request));
    }

    /// True while request bytes wait for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        self.sent < self.out.len()
    }

    /// Sends and reads what the socket allows. `Ok(true)` once the tunnel
    /// is open; `Ok(false)` when the socket would block.
    pub(crate) fn drive(&mut self, socket: &mut impl ReadWrite) -> Result<bool, ConnectError> {
        loop {
            while self.wants_write() {
                match socket.write(&self.out[self.sent..]) {
                    Ok(0) => return Err(self.closed()),
                    Ok(n) => self.sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(self.io_failure(&e)),
                }
            }
            if self.sent == self.out.len() && !self.out.is_empty() {
                // Sent: wipe the request (it may hold the password).
                self.out.iter_mut().for_each(|b| *b = 0);
                self.out.clear();
                self.sent = 0;
            }
            if self.step == Step::Done {
                return Ok(true);
            }
            let need = self.bytes_needed()?;
            if need == 0 {
                self.advance()?;
                continue;
            }
            let mut chunk = [0u8; 512];
            let chunk = &mut chunk[..need.min(512)];
            match socket.read(chunk) {
                Ok(0) => return Err(self.closed()),
                Ok(n) => self.answer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io_failure(&e)),
            }
        }
    }

    /// How many more bytes the current answer can have at least; 0 when it
    /// is complete.
    fn bytes_needed(&self) -> Result<usize, ConnectError> {
        let have = self.answer.len();
        Ok(match self.step {
            Step::HttpAnswer => {
                if have >= 5 && !self.answer.starts_with(b"HTTP/") {
                    return Err(self.protocol(
                        "did not answer CONNECT as an HTTP proxy does (is it a SOCKS proxy? then write socks5:// in PROXY)",
                    ));
                }
                if have > MAX_HTTP_HEADER {
                    return Err(self.protocol("sent an HTTP answer header longer than 16 KiB"));
                }
                const END: &[u8] = b"\r\n\r\n";
                if self.answer.ends_with(END) {
                    0
                } else {
                    // The longest tail that may be the start of END: reading
                    // more than the rest of END could pass the header's end.
                    let partial = (1..END.len())
                        .rev()
                        .find(|&k| self.answer.ends_with(&END[..k]))
                        .unwrap_or(0);
                    END.len() - partial
                }
            }
            Step::SocksMethod | Step::SocksAuth => 2usize.saturating_sub(have),
            Step::SocksReply => {
                if have < 5 {
                    5 - have
                } else {
                    let address = match self.answer[3] {
                        1 => 4,
                        4 => 16,
                        3 => 1 + usize::from(self.answer[4]),
                        other => {
                            return Err(self.protocol(&format!(
                                "sent a SOCKS5 reply with an unknown address type {other}"
                            )))
                        }
                    };
                    (4 + address + 2).saturating_sub(have)
                }
            }
            Step::Done => 0,
        })
    }

    /// Acts on a complete answer.
    fn advance(&mut self) -> Result<(), ConnectError> {
        let answer = std::mem::take(&mut self.answer);
        match self.step {
            Step::HttpAnswer => self.http_answer(&answer),
            Step::SocksMethod => {
                if answer[0] != 5 {
                    return Err(self.protocol(
                        "did not answer as a SOCKS5 proxy does (is it an HTTP proxy? then write http:// in PROXY)",
                    ));
                }
                match (answer[1], &self.proxy.credentials) {
                    (0x00, _) => self.queue_socks_connect(),
                    (0x02, Some((user, password))) => {
                        self.out.extend_from_slice(&[1, user.len() as u8]);
                        self.out.extend_from_slice(user.as_bytes());
                        self.out.push(password.expose().len() as u8);
                        self.out.extend_from_slice(password.expose());
                        self.step = Step::SocksAuth;
                        Ok(())
                    }
                    (0xff, None) => Err(ConnectError::ProxyAuthRequired {
                        proxy: self.proxy.display(),
                        reply: "SOCKS5: no acceptable authentication method".to_owned(),
                        scheme: "socks5",
                    }),
                    (0xff, Some(_)) => Err(self.protocol(
                        "accepts neither no authentication nor a user name and password (SOCKS5 methods 0 and 2); it may want GSSAPI, which is not supported",
                    )),
                    (method, _) => Err(self.protocol(&format!(
                        "chose SOCKS5 authentication method {method}, which was not offered"
                    ))),
                }
            }
            Step::SocksAuth => {
                if answer[1] == 0 {
                    self.queue_socks_connect()
                } else {
                    Err(ConnectError::ProxyAuthRejected {
                        proxy: self.proxy.display(),
                        reply: format!("SOCKS5 user name/password status {}", answer[1]),
                    })
                }
            }
            Step::SocksReply => match answer[1] {
                0 => {
                    self.step = Step::Done;
                    Ok(())
                }
                code => Err(ConnectError::ProxyRefused {
                    proxy: self.proxy.display(),
                    target: self.target(),
                    reply: format!("SOCKS5 reply {code} ({})", socks_reply_meaning(code)),
                    hint: socks_reply_hint(code),
                }),
            },
            Step::Done => Ok(()),
        }
    }

    fn queue_socks_connect(&mut self) -> Result<(), ConnectError> {
        let mut request = vec![5, 1, 0];
        match self.target_host.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(ip)) => {
                request.push(1);
                request.extend_from_slice(&ip.octets());
            }
            Ok(std::net::IpAddr::V6(ip)) => {
                request.push(4);
                request.extend_from_slice(&ip.octets());
            }
            // The proxy resolves the name: the gateway may have no DNS
            // for the outside world.
            Err(_) => {
                request.push(3);
                request.push(self.target_host.len() as u8);
                request.extend_from_slice(self.target_host.as_bytes());
            }
        }
        request.extend_from_slice(&self.target_port.to_be_bytes());
        self.out.extend_from_slice(&request);
        self.step = Step::SocksReply;
        Ok(())
    }

    fn http_answer(&mut self, answer: &[u8]) -> Result<(), ConnectError> {
        let text = String::from_utf8_lossy(answer);
        let status_line = text.lines().next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let _version = parts.next();
        let status = parts.next().and_then(|s| s.parse::<u16>().ok());
        let reason = parts.next().unwrap_or("").trim();
        let Some(status) = status else {
            return Err(self.protocol(&format!(
                "sent an answer without an HTTP status: '{}'",
                printable(status_line)
            )));
        };
        let reply = format!("HTTP {status} {}", printable(reason))
            .trim_end()
            .to_owned();
        match status {
            200..=299 => {
                self.step = Step::Done;
                Ok(())
            }
            // tinyproxy answers a missing or wrong BasicAuth with 401.
            401 | 407 if self.proxy.credentials.is_some() => Err(ConnectError::ProxyAuthRejected {
                proxy: self.proxy.display(),
                reply,
            }),
            401 | 407 => Err(ConnectError::ProxyAuthRequired {
                proxy: self.proxy.display(),
                reply,
                scheme: "http",
            }),
            _ => Err(ConnectError::ProxyRefused {
                proxy: self.proxy.display(),
                target: self.target(),
                reply,
                hint: match status {
                    403 => " — the proxy's rules do not allow a tunnel to this host and port (tinyproxy: a ConnectPort line for the port)",
                    400 | 405 | 501 => " — the proxy may not support CONNECT tunnels",
                    502..=504 => " — the proxy could not reach the broker",
                    _ => "",
                },
            }),
        }
    }

    fn phase_words(&self) -> &'static str {
        match self.proxy.kind {
            ProxyKind::Http => "during the HTTP CONNECT negotiation",
            ProxyKind::Socks5 => "during the SOCKS5 negotiation",
        }
    }

    fn closed(&self) -> ConnectError {
        let hint = match self.proxy.kind {
            ProxyKind::Http => " (is it an HTTP proxy? a SOCKS proxy needs socks5:// in PROXY)",
            ProxyKind::Socks5 => " (is it a SOCKS5 proxy? an HTTP proxy needs http:// in PROXY)",
        };
        self.protocol(&format!(
            "closed the connection {}{hint}",
            self.phase_words()
        ))
    }

    fn io_failure(&self, err: &io::Error) -> ConnectError {
        if is_reset(err) {
            return self.closed();
        }
        self.protocol(&format!("connection failed {}: {err}", self.phase_words()))
    }

    fn protocol(&self, reason: &str) -> ConnectError {
        ConnectError::ProxyProtocol {
            proxy: self.proxy.display(),
            reason: reason.to_owned(),
        }
    }
}

/// Reading and writing, so that the negotiation can be tested on any stream.
pub(crate) trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// RFC 1928, section 6.
fn socks_reply_meaning(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unassigned code",
    }
}

fn socks_reply_hint(code: u8) -> &'static str {
    match code {
        2 => " — the proxy's rules do not allow this client or destination",
        3..=5 => " — the proxy could not reach the broker: check the host and PORT",
        _ => "",
    }
}

/// Proxy text with control characters replaced, at most 200 characters.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(200)
        .collect()
}

/// A connection through PROXY: the negotiation on the socket, then the
/// next layer (plain, TLS, TLS-PSK) on the tunnel.
pub(crate) struct ProxiedTransport {
    state: State,
}

enum State {
    Negotiating {
        handshake: Box<ProxyHandshake>,
        socket: mio::net::TcpStream,
        security: Security,
        host: String,
        port: u16,
    },
    Tunnel(Box<dyn Transport>),
    /// Only while the socket moves from the negotiation to the next layer.
    Moving,
}

impl ProxiedTransport {
    pub(crate) fn new(
        proxy: &ProxyOptions,
        socket: mio::net::TcpStream,
        security: Security,
        host: &str,
        port: u16,
    ) -> Result<ProxiedTransport, ConnectError> {
        Ok(ProxiedTransport {
            state: State::Negotiating {
                handshake: Box::new(ProxyHandshake::new(proxy, host, port)?),
                socket,
                security,
                host: host.to_owned(),
                port,
            },
        })
    }

    fn tunnel(&mut self) -> io::Result<&mut Box<dyn Transport>> {
        match &mut self.state {
            State::Tunnel(inner) => Ok(inner),
            _ => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the proxy tunnel is not open yet",
            )),
        }
    }
}

impl Transport for ProxiedTransport {
    fn handshake(&mut self) -> Result<bool, ConnectError> {
        if let State::Negotiating {
            handshake, socket, ..
        } = &mut self.state
        {
            if !handshake.drive(socket)? {
                return Ok(false);
            }
            let State::Negotiating {
                socket,
                security,
                host,
                port,
                ..
            } = std::mem::replace(&mut self.state, State::Moving)
            else {
                unreachable!("matched above");
            };
            self.state = State::Tunnel(security.wrap(socket, &host, port)?);
        }
        match &mut self.state {
            State::Tunnel(inner) => inner.handshake(),
            _ => Err(ConnectError::ConnectionLost(
                "the proxy tunnel was lost while opening it".to_owned(),
            )),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tunnel()?.read(buf)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tunnel()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tunnel()?.flush()
    }

    fn wants_write(&self) -> bool {
        match &self.state {
            State::Negotiating { handshake, .. } => handshake.wants_write(),
            State::Tunnel(inner) => inner.wants_write(),
            State::Moving => false,
        }
    }

    fn socket_mut(&mut self) -> &mut mio::net::TcpStream {
        match &mut self.state {
            State::Negotiating { socket, .. } => socket,
            State::Tunnel(inner) => inner.socket_mut(),
            State::Moving => unreachable!("the state is restored before returning"),
        }
    }

    fn explain(&self, err: &io::Error) -> ConnectError {
        match &self.state {
            State::Tunnel(inner) => inner.explain(err),
            _ => ConnectError::ConnectionLost(err.to_string()),
        }
    }

    fn phase(&self) -> &'static str {
        match &self.state {
            State::Negotiating { handshake, .. } => match handshake.proxy.kind {
                ProxyKind::Http => "in the HTTP CONNECT negotiation with the proxy for",
                ProxyKind::Socks5 => "in the SOCKS5 negotiation with the proxy for",
            },
            State::Moving => "in the proxy negotiation for",
            State::Tunnel(inner) => inner.phase(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    /// A scripted peer: reads are served from `input` in the pieces given,
    /// then `WouldBlock`; writes are collected.
    struct Script {
        input: Vec<Vec<u8>>,
        written: Vec<u8>,
        reads: Vec<usize>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads.push(buf.len());
            let Some(next) = self.input.first_mut() else {
                return Err(io::ErrorKind::WouldBlock.into());
            };
            let n = next.len().min(buf.len());
            buf[..n].copy_from_slice(&next[..n]);
            next.drain(..n);
            if next.is_empty() {
                self.input.remove(0);
            }
            Ok(n)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn proxy(kind: ProxyKind, credentials: Option<(&str, &str)>) -> ProxyOptions {
        ProxyOptions {
            kind,
            host: "proxy".to_owned(),
            port: 3128,
            credentials: credentials
                .map(|(u, p)| (u.to_owned(), Secret::new(p.as_bytes().to_vec()))),
        }
    }

    /// The bytes after the proxy's answer (here the broker's first TLS
    /// bytes) stay in the socket for the next layer.
    #[test]
    fn http_answer_is_read_without_taking_bytes_past_its_end() {
        let mut handshake =
            ProxyHandshake::new(&proxy(ProxyKind::Http, Some(("gw", "pw"))), "broker", 8883)
                .expect("new");
        let mut peer = Script {
            input: vec![
                b"HTTP/1.1 200 Connection established\r\nProxy-agent: x\r\n\r\n\x16\x03\x03"
                    .to_vec(),
            ],
            written: Vec::new(),
            reads: Vec::new(),
        };
        assert!(handshake.drive(&mut peer).expect("drive"));
        assert_eq!(peer.input, vec![b"\x16\x03\x03".to_vec()]);
        assert!(peer.reads.iter().all(|&n| n <= 4), "{:?}", peer.reads);
        assert_eq!(
            String::from_utf8(peer.written).expect("utf-8"),
            "CONNECT broker:8883 HTTP/1.1\r\nHost: broker:8883\r\nProxy-Authorization: Basic Z3c6cHc=\r\n\r\n"
        );
    }

    #[test]
    fn socks5_reply_with_a_domain_address_is_read_to_its_end() {
        let mut handshake =
            ProxyHandshake::new(&proxy(ProxyKind::Socks5, None), "::1", 1883).expect("new");
        let mut peer = Script {
            input: vec![
                vec![5, 0],
                vec![5, 0, 0, 3, 4],
                b"host\x07\x5bMQTT".to_vec(),
            ],
            written: Vec::new(),
            reads: Vec::new(),
        };
        assert!(handshake.drive(&mut peer).expect("drive"));
        assert_eq!(peer.input, vec![b"MQTT".to_vec()]);
        let mut expected = vec![5, 1, 0, 5, 1, 0, 4];
        expected.extend_from_slice(&"::1".parse::<std::net::Ipv6Addr>().expect("ip").octets());
        expected.extend_from_slice(&1883u16.to_be_bytes());
        assert_eq!(peer.written, expected);
    }

    #[test]
    fn socks5_refusal_names_the_reply_code() {
        let mut handshake =
            ProxyHandshake::new(&proxy(ProxyKind::Socks5, None), "broker", 1883).expect("new");
        let mut peer = Script {
            input: vec![vec![5, 0], vec![5, 5, 0, 1, 0, 0, 0, 0, 0, 0]],
            written: Vec::new(),
            reads: Vec::new(),
        };
        let error = handshake.drive(&mut peer).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "the proxy socks5://proxy:3128 refused to connect to broker:1883: SOCKS5 reply 5 (connection refused) — the proxy could not reach the broker: check the host and PORT"
        );
    }
}
