//! The harness the TLS-PSK tests share: connectors, a transport driven in
//! a blocking loop, and MQTT packets built by hand.

use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::{PskConnector, PskTransport};
use crate::error::ConnectError;
use crate::options::{PskOptions, TlsVersion, DEFAULT_PSK_CIPHERS};
use crate::secret::Secret;
use crate::test_broker::{Mosquitto, IDENTITY, KEY_HEX, WRONG_KEY_HEX};
use crate::transport::Transport;

mod handshake;
mod stream;

const WAIT: Duration = Duration::from_secs(10);

fn key(hex: &str) -> Secret {
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    Secret::new(bytes)
}

fn connector(identity: &str, key_hex: &str, ciphers: &str, version: TlsVersion) -> PskConnector {
    let psk = PskOptions {
        identity: identity.to_owned(),
        key: key(key_hex),
        ciphers: ciphers.to_owned(),
    };
    match PskConnector::new(&psk, version) {
        Ok(connector) => connector,
        Err(e) => panic!("connector: {e}"),
    }
}

fn default_connector(version: TlsVersion) -> PskConnector {
    connector(IDENTITY, KEY_HEX, DEFAULT_PSK_CIPHERS, version)
}

/// A transport with its own poller, driven in a blocking loop.
struct Session {
    transport: PskTransport,
    poll: Poll,
    events: Events,
}

impl Session {
    fn wait(&mut self, deadline: Instant, what: &str) {
        assert!(Instant::now() < deadline, "timed out {what}");
        self.poll
            .poll(&mut self.events, Some(Duration::from_millis(50)))
            .expect("poll");
    }

    fn write_all(&mut self, mut data: &[u8]) {
        let deadline = Instant::now() + WAIT;
        while !data.is_empty() {
            match self.transport.write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(deadline, "writing"),
                Err(e) => panic!("write: {}", self.transport.explain(&e)),
            }
        }
        while self.transport.wants_write() {
            match self.transport.flush() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(deadline, "flushing"),
                Err(e) => panic!("flush: {}", self.transport.explain(&e)),
            }
        }
    }

    fn read_exact(&mut self, len: usize) -> Vec<u8> {
        let deadline = Instant::now() + WAIT;
        let mut data = vec![0; len];
        let mut filled = 0;
        while filled < len {
            match self.transport.read(&mut data[filled..]) {
                Ok(0) => {
                    panic!("the broker closed the connection after {filled} of {len} bytes")
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(deadline, "reading"),
                Err(e) => panic!("read: {}", self.transport.explain(&e)),
            }
        }
        data
    }

    /// Reads one MQTT packet: fixed header byte and body.
    fn read_packet(&mut self) -> (u8, Vec<u8>) {
        let header = self.read_exact(1)[0];
        let (mut length, mut shift) = (0usize, 0);
        loop {
            let byte = self.read_exact(1)[0];
            length |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        (header, self.read_exact(length))
    }

    fn version(&self) -> &'static str {
        self.transport.stream.ssl().version_str()
    }

    fn cipher(&self) -> &'static str {
        self.transport
            .stream
            .ssl()
            .current_cipher()
            .map_or("none", |c| c.name())
    }
}

fn handshake(connector: &PskConnector, port: u16) -> Result<Session, ConnectError> {
    let socket = std::net::TcpStream::connect(("127.0.0.1", port)).expect("tcp connect");
    socket.set_nonblocking(true).expect("non-blocking");
    let mut transport =
        connector.start(mio::net::TcpStream::from_std(socket), "127.0.0.1", port)?;
    let poll = Poll::new().expect("poll");
    poll.registry()
        .register(
            transport.socket_mut(),
            Token(0),
            Interest::READABLE | Interest::WRITABLE,
        )
        .expect("register");
    let mut session = Session {
        transport,
        poll,
        events: Events::with_capacity(8),
    };
    let deadline = Instant::now() + WAIT;
    while !session.transport.handshake()? {
        session.wait(deadline, "in the handshake");
    }
    Ok(session)
}

fn handshake_error(connector: &PskConnector, port: u16) -> ConnectError {
    match handshake(connector, port) {
        Ok(session) => panic!("handshake succeeded with {}", session.cipher()),
        Err(e) => e,
    }
}

/// The right identity with a wrong key is `PskKeyRejected`; returns the
/// error for further checks.
fn assert_wrong_key_rejected(broker: &Mosquitto, version: TlsVersion) -> ConnectError {
    let wrong = connector(IDENTITY, WRONG_KEY_HEX, DEFAULT_PSK_CIPHERS, version);
    let error = handshake_error(&wrong, broker.psk_port);
    assert_eq!(
        error,
        ConnectError::PskKeyRejected {
            identity: IDENTITY.to_owned()
        },
        "{error}"
    );
    error
}

/// An identity the broker's psk_file lacks is `PskIdentityUnknown`.
fn assert_unknown_identity_named(broker: &Mosquitto, version: TlsVersion) {
    let stranger = connector("nobody", KEY_HEX, DEFAULT_PSK_CIPHERS, version);
    let error = handshake_error(&stranger, broker.psk_port);
    assert_eq!(
        error,
        ConnectError::PskIdentityUnknown {
            identity: "nobody".to_owned()
        },
        "{error}"
    );
}

/// The certificate listener, reached with a PSK, is `NotPskListener`.
fn assert_certificate_listener_refused(broker: &Mosquitto, version: TlsVersion) {
    let error = handshake_error(&default_connector(version), broker.certificate_port);
    assert_eq!(
        error,
        ConnectError::NotPskListener {
            port: broker.certificate_port
        },
        "{error}"
    );
}

fn remaining_length(mut length: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let mut byte = (length % 128) as u8;
        length /= 128;
        if length > 0 {
            byte |= 0x80;
        }
        bytes.push(byte);
        if length == 0 {
            return bytes;
        }
    }
}

fn packet(header: u8, body: &[u8]) -> Vec<u8> {
    let mut packet = vec![header];
    packet.extend(remaining_length(body.len()));
    packet.extend_from_slice(body);
    packet
}

fn string(text: &str) -> Vec<u8> {
    let mut bytes = (text.len() as u16).to_be_bytes().to_vec();
    bytes.extend_from_slice(text.as_bytes());
    bytes
}

/// MQTT 3.1.1 CONNECT, clean session, keep-alive 60 s.
fn mqtt_connect(client_id: &str) -> Vec<u8> {
    let mut body = string("MQTT");
    body.extend_from_slice(&[4, 0x02, 0, 60]);
    body.extend(string(client_id));
    packet(0x10, &body)
}

const CONNACK_ACCEPTED: (u8, [u8; 2]) = (0x20, [0, 0]);

fn assert_mqtt_session(session: &mut Session) {
    session.write_all(&mqtt_connect("psk-unit"));
    let (header, body) = session.read_packet();
    assert_eq!(
        (header, body.as_slice()),
        (CONNACK_ACCEPTED.0, &CONNACK_ACCEPTED.1[..])
    );
}
