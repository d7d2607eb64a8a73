//! What each answer to the TLS-PSK handshake turns into: Mosquitto's PSK,
//! certificate and plain listeners, and OpenSSL `s_server`, TLS 1.2 and 1.3.

use std::fs;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use super::*;
use crate::test_broker::free_port;

#[test]
fn psk_handshake_completes_and_mqtt_connack_arrives() {
    let broker = Mosquitto::start("");
    let mut session = handshake(&default_connector(TlsVersion::Tls12), broker.psk_port)
        .unwrap_or_else(|e| panic!("{e}\n{}", broker.log()));
    assert_eq!(session.version(), "TLSv1.2");
    assert_eq!(session.cipher(), "ECDHE-PSK-CHACHA20-POLY1305");
    assert!(session.transport.stream.ssl().peer_certificate().is_none());
    assert_mqtt_session(&mut session);
}

#[test]
fn wrong_key_is_reported_as_psk_key_rejected() {
    let broker = Mosquitto::start("");
    let error = assert_wrong_key_rejected(&broker, TlsVersion::Tls12);
    assert_eq!(
        error.to_string(),
        "TLS-PSK: PSK key rejected — check the key for identity 'gw1'"
    );
}

#[test]
fn unknown_identity_is_reported_as_psk_identity_unknown() {
    let broker = Mosquitto::start("");
    assert_unknown_identity_named(&broker, TlsVersion::Tls12);
}

#[test]
fn certificate_listener_is_reported_as_not_psk_listener() {
    let broker = Mosquitto::start("");
    assert_certificate_listener_refused(&broker, TlsVersion::Tls12);
}

#[test]
fn plain_listener_is_reported_as_eof_in_the_handshake() {
    let broker = Mosquitto::start("");
    let error = handshake_error(&default_connector(TlsVersion::Tls12), broker.plain_port);
    assert_eq!(
        error,
        ConnectError::HandshakeEof {
            port: broker.plain_port
        },
        "{error}"
    );
}

#[test]
fn own_cipher_list_the_broker_lacks_names_both_causes() {
    let broker = Mosquitto::start("ciphers PSK-AES256-GCM-SHA384");
    let ciphers = "PSK-AES128-GCM-SHA256";
    let error = handshake_error(
        &connector(IDENTITY, KEY_HEX, ciphers, TlsVersion::Tls12),
        broker.psk_port,
    );
    let text = error.to_string();
    assert!(
        matches!(&error, ConnectError::PskNoSharedCipher { offered, .. } if offered == ciphers),
        "{text}"
    );
    assert!(
        text.contains("PSK-CIPHERS (PSK-AES128-GCM-SHA256)"),
        "{text}"
    );
    assert!(text.contains("not a TLS-PSK listener"), "{text}");
    // The default list still reaches a broker limited to plain PSK suites.
    let session = handshake(&default_connector(TlsVersion::Tls12), broker.psk_port)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(session.cipher(), "PSK-AES256-GCM-SHA384");
}

#[test]
fn cipher_list_openssl_rejects_names_psk_ciphers() {
    let psk = PskOptions {
        identity: IDENTITY.to_owned(),
        key: key(KEY_HEX),
        ciphers: "NO-SUCH-CIPHER".to_owned(),
    };
    let error = PskConnector::new(&psk, TlsVersion::Tls12)
        .err()
        .expect("rejected");
    let text = error.to_string();
    assert!(matches!(error, ConnectError::Tls(_)), "{text}");
    assert!(text.contains("PSK-CIPHERS 'NO-SUCH-CIPHER'"), "{text}");
}

#[test]
fn identity_with_nul_is_refused_before_connecting() {
    let psk = PskOptions {
        identity: "gw\0x".to_owned(),
        key: key(KEY_HEX),
        ciphers: DEFAULT_PSK_CIPHERS.to_owned(),
    };
    let error = PskConnector::new(&psk, TlsVersion::Tls12)
        .err()
        .expect("rejected");
    assert!(error.to_string().contains("PSK-IDENTITY"), "{error}");
}

#[test]
fn longest_identity_is_sent_whole() {
    let identity = "i".repeat(128);
    let broker = Mosquitto::start("");
    fs::write(
        broker.dir.join("psk.txt"),
        format!("{identity}:{KEY_HEX}\n"),
    )
    .expect("psk file");
    // Mosquitto reads psk_file on SIGHUP.
    broker.signal("-HUP");
    let connector = connector(&identity, KEY_HEX, DEFAULT_PSK_CIPHERS, TlsVersion::Tls12);
    let deadline = Instant::now() + WAIT;
    loop {
        match handshake(&connector, broker.psk_port) {
            Ok(mut session) => return assert_mqtt_session(&mut session),
            Err(ConnectError::PskIdentityUnknown { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(e) => panic!("{e}\n{}", broker.log()),
        }
    }
}

#[test]
fn tls13_external_psk_works_with_mosquitto_2_0_11() {
    let broker = Mosquitto::start("");
    let mut session = handshake(&default_connector(TlsVersion::Tls13), broker.psk_port)
        .unwrap_or_else(|e| panic!("{e}\n{}", broker.log()));
    assert_eq!(session.version(), "TLSv1.3");
    assert!(
        session.transport.stream.ssl().session_reused(),
        "the PSK was not used"
    );
    assert!(session.transport.stream.ssl().peer_certificate().is_none());
    assert_mqtt_session(&mut session);
}

#[test]
fn tls13_wrong_key_and_unknown_identity_are_named() {
    let broker = Mosquitto::start("");
    assert_wrong_key_rejected(&broker, TlsVersion::Tls13);
    assert_unknown_identity_named(&broker, TlsVersion::Tls13);
}

/// Under TLS 1.3 a certificate listener ignores the PSK and
/// authenticates with its certificate: that must fail, never connect
/// unauthenticated.
#[test]
fn tls13_certificate_listener_is_refused_not_trusted() {
    let broker = Mosquitto::start("");
    assert_certificate_listener_refused(&broker, TlsVersion::Tls13);
}

#[test]
fn server_answering_without_tls_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().expect("accept");
        let _ = io::Write::write_all(&mut socket, b"HTTP/1.1 400 Bad Request\r\n\r\n");
        std::thread::sleep(Duration::from_millis(500));
    });
    let error = handshake_error(&default_connector(TlsVersion::Tls12), port);
    assert_eq!(
        error.to_string(),
        format!("TLS: port {port} did not answer with TLS: is it a TLS-PSK listener?")
    );
    server.join().expect("server thread");
}

/// Mosquitto 2.0.12 and later turn TLS 1.3 off on PSK listeners; an
/// OpenSSL `s_server` limited to TLS 1.2 answers the same way.
#[test]
fn tls13_only_against_a_tls12_psk_server_says_so() {
    let port = free_port();
    let mut server = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-nocert",
        ])
        .args([
            "-psk",
            KEY_HEX,
            "-psk_identity",
            IDENTITY,
            "-psk_hint",
            "hint",
        ])
        .args(["-no_tls1_3", "-naccept", "1"])
        // s_server stops when its stdin ends: keep it open.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run openssl s_server");
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = server.stdout.take().expect("s_server stdout");
    let _guard = Kill(&mut server);
    // s_server prints ACCEPT once it listens (or exits, ending stdout).
    let ready = io::BufRead::lines(io::BufReader::new(stdout))
        .map_while(Result::ok)
        .any(|line| line == "ACCEPT");
    assert!(ready, "openssl s_server did not start");
    let error = handshake_error(&default_connector(TlsVersion::Tls13), port);
    let text = error.to_string();
    assert!(matches!(error, ConnectError::Tls(_)), "{text}");
    assert!(text.contains("does not accept TLS 1.3"), "{text}");
    assert!(text.contains("set TLSVERSION tlsv1.2"), "{text}");
}

/// ALPN over TLS-PSK against OpenSSL's `s_server -alpn`: the offered
/// protocol is selected; a list without it is refused with alert 120,
/// which names the list.
#[test]
fn alpn_is_offered_and_required_over_tls_psk() {
    for (offered, accepted) in [("x-amzn-mqtt-ca", true), ("mqtt", false)] {
        let port = free_port();
        let mut server = Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-nocert",
            ])
            .args([
                "-psk",
                KEY_HEX,
                "-psk_identity",
                IDENTITY,
                "-psk_hint",
                "hint",
            ])
            .args(["-no_tls1_3", "-alpn", "x-amzn-mqtt-ca", "-naccept", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run openssl s_server");
        let stdout = server.stdout.take().expect("s_server stdout");
        let ready = io::BufRead::lines(io::BufReader::new(stdout))
            .map_while(Result::ok)
            .any(|line| line == "ACCEPT");
        assert!(ready, "openssl s_server did not start");
        let connector = default_connector(TlsVersion::Tls12).with_alpn(&[offered.to_owned()]);
        let result = handshake(&connector, port);
        let _ = server.kill();
        let _ = server.wait();
        match result {
            Ok(session) => {
                assert!(accepted, "{offered} was accepted");
                assert_eq!(
                    session.transport.stream.ssl().selected_alpn_protocol(),
                    Some(&b"x-amzn-mqtt-ca"[..])
                );
            }
            Err(error) => {
                assert!(!accepted, "{offered}: {error}");
                assert_eq!(
                    error,
                    ConnectError::NoAlpnProtocol {
                        offered: "mqtt".to_owned(),
                        alert: true
                    },
                    "{error}"
                );
            }
        }
    }
}

/// Prints the handshake time per suite (no assertion on time: it
/// depends on the machine). Each single-suite list must get that suite.
#[test]
fn handshake_time_by_cipher_suite() {
    const ROUNDS: usize = 20;
    let broker = Mosquitto::start("");
    for (label, ciphers, version) in [
        (
            "default list (TLS 1.2)",
            DEFAULT_PSK_CIPHERS,
            TlsVersion::Tls12,
        ),
        (
            "PSK-AES128-GCM-SHA256",
            "PSK-AES128-GCM-SHA256",
            TlsVersion::Tls12,
        ),
        (
            "PSK-CHACHA20-POLY1305",
            "PSK-CHACHA20-POLY1305",
            TlsVersion::Tls12,
        ),
        (
            "ECDHE-PSK-AES128-CBC-SHA256",
            "ECDHE-PSK-AES128-CBC-SHA256",
            TlsVersion::Tls12,
        ),
        (
            "DHE-PSK-AES128-GCM-SHA256",
            "DHE-PSK-AES128-GCM-SHA256",
            TlsVersion::Tls12,
        ),
        (
            "DHE-PSK-CHACHA20-POLY1305",
            "DHE-PSK-CHACHA20-POLY1305",
            TlsVersion::Tls12,
        ),
        (
            "TLS 1.3 external PSK",
            DEFAULT_PSK_CIPHERS,
            TlsVersion::Tls13,
        ),
    ] {
        let connector = connector(IDENTITY, KEY_HEX, ciphers, version);
        let mut times = Vec::with_capacity(ROUNDS);
        let mut negotiated = "";
        for _ in 0..ROUNDS {
            let start = Instant::now();
            let session =
                handshake(&connector, broker.psk_port).unwrap_or_else(|e| panic!("{label}: {e}"));
            times.push(start.elapsed());
            negotiated = session.cipher();
        }
        if !ciphers.contains(':') {
            assert_eq!(negotiated, ciphers);
        }
        times.sort();
        eprintln!(
            "handshake {label:30} -> {negotiated:30} median {:>6.2} ms, min {:>6.2} ms",
            times[ROUNDS / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3
        );
    }
}
