//! The MQTT byte stream once the TLS-PSK handshake is done: writes that
//! block mid-record, alerts and the broker's close.

use super::*;

/// A PUBLISH larger than the socket buffers, written while Mosquitto is
/// stopped: a write blocks mid-record, is reported as accepted, and
/// `flush` completes it once the broker reads again. The echo proves no
/// byte was lost, doubled or reordered.
#[test]
fn large_publish_survives_a_write_blocked_mid_record() {
    let broker = Mosquitto::start("");
    let mut session = handshake(&default_connector(TlsVersion::Tls12), broker.psk_port)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_mqtt_session(&mut session);
    let mut subscribe = vec![0, 1];
    subscribe.extend(string("big"));
    subscribe.push(0);
    session.write_all(&packet(0x82, &subscribe));
    assert_eq!(session.read_packet(), (0x90, vec![0, 1, 0]));

    let payload: Vec<u8> = (0..32 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut publish = string("big");
    publish.extend_from_slice(&payload);
    let publish = packet(0x30, &publish);

    broker.signal("-STOP");
    let mut rest = &publish[..];
    while !session.transport.wants_write() {
        assert!(!rest.is_empty(), "32 MiB fit into the socket buffers");
        let n = session
            .transport
            .write(rest)
            .expect("write before blocking");
        rest = &rest[n..];
    }
    assert!(
        matches!(session.transport.write(rest), Err(e) if e.kind() == io::ErrorKind::WouldBlock),
        "a write must wait while a record is pending"
    );
    broker.signal("-CONT");
    session.write_all(rest);

    let (header, body) = session.read_packet();
    assert_eq!(header, 0x30);
    assert_eq!(&body[..5], &string("big")[..]);
    assert!(body[5..] == payload[..], "echoed payload differs");
}

/// A corrupted record after the handshake: Mosquitto answers with an
/// alert, which `explain` names.
#[test]
fn alert_after_the_handshake_is_explained() {
    let broker = Mosquitto::start("");
    let mut session = handshake(&default_connector(TlsVersion::Tls12), broker.psk_port)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_mqtt_session(&mut session);
    let mut forged = vec![0x17, 0x03, 0x03, 0x00, 0x20];
    forged.extend([0x5a; 0x20]);
    io::Write::write_all(session.transport.socket_mut(), &forged).expect("raw write");
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 16];
    let error = loop {
        match session.transport.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                session.wait(deadline, "for the alert")
            }
            Err(e) => break e,
            Ok(n) => panic!("read {n} bytes instead of an alert"),
        }
    };
    let explained = session.transport.explain(&error).to_string();
    // OpenSSL words the alert by version ("sslv3 alert bad record mac" in
    // 3.0, "ssl/tls alert bad record mac" in 3.6, the ARM builds'); the
    // classification and the alert number are ours.
    assert!(
        explained.starts_with("connection lost: the broker ended the TLS-PSK session (")
            && explained.contains("alert bad record mac")
            && explained.ends_with(", alert 20)"),
        "{explained}"
    );
}

#[test]
fn read_returns_zero_when_the_broker_closes() {
    let broker = Mosquitto::start("");
    let mut session = handshake(&default_connector(TlsVersion::Tls12), broker.psk_port)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_mqtt_session(&mut session);
    // DISCONNECT: Mosquitto closes the connection.
    session.write_all(&[0xe0, 0]);
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 16];
    loop {
        match session.transport.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => panic!("unexpected {n} bytes"),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                session.wait(deadline, "for the close")
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}
