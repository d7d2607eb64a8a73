//! TLS-PSK through the public `Client`, against a real Mosquitto started by
//! each test on free 127.0.0.1 ports: the session works both ways, each
//! misconfiguration reaches `last_error()` as its own cause, and the
//! Mosquitto command-line clients interoperate with etkmqtt over PSK.

mod support;

use std::process::{Command, Output, Stdio};

use support::client::{client, first_error, wait_connected, wait_message, wait_until, TestClient};
use support::mosquitto::{Mosquitto, IDENTITY, KEY_HEX, WRONG_KEY_HEX};

fn psk_client(
    id: &str,
    port: u16,
    identity: &str,
    key_hex: &str,
    extra: &[(&str, &str)],
) -> TestClient {
    let port = port.to_string();
    let mut options = vec![
        ("PORT", port.as_str()),
        ("PSK-IDENTITY", identity),
        ("PSK", key_hex),
    ];
    options.extend_from_slice(extra);
    client(id, &options)
}

#[test]
fn psk_client_publishes_and_receives_through_mosquitto() {
    let broker = Mosquitto::start("");
    let client = psk_client("psk-roundtrip", broker.psk_port, IDENTITY, KEY_HEX, &[]);
    wait_connected(&client, &|| broker.log());
    client.0.subscribe("psk/echo", 1).expect("subscribe");
    client
        .0
        .publish("psk/echo", b"over TLS-PSK", 1, false)
        .expect("publish");
    let message = wait_message(&client, "psk/echo");
    assert_eq!(&message.payload[..], b"over TLS-PSK");
    assert_eq!(client.0.last_error(), None);
}

#[test]
fn wrong_key_reports_psk_key_rejected() {
    let broker = Mosquitto::start("");
    let client = psk_client(
        "psk-wrong-key",
        broker.psk_port,
        IDENTITY,
        WRONG_KEY_HEX,
        &[],
    );
    assert_eq!(
        first_error(&client),
        "TLS-PSK: PSK key rejected — check the key for identity 'gw1'"
    );
}

#[test]
fn unknown_identity_reports_psk_identity_unknown() {
    let broker = Mosquitto::start("");
    let client = psk_client("psk-stranger", broker.psk_port, "nobody", KEY_HEX, &[]);
    assert_eq!(
        first_error(&client),
        "TLS-PSK: the broker does not know the identity 'nobody' (check PSK-IDENTITY and the broker's psk_file)"
    );
}

#[test]
fn certificate_listener_reports_not_psk_listener() {
    let broker = Mosquitto::start("");
    let client = psk_client(
        "psk-to-cert",
        broker.certificate_port,
        IDENTITY,
        KEY_HEX,
        &[],
    );
    assert_eq!(
        first_error(&client),
        format!(
            "TLS-PSK: the listener on port {} does not accept TLS-PSK (it may be a certificate or plain listener)",
            broker.certificate_port
        )
    );
}

#[test]
fn tls13_psk_connects_to_mosquitto_2_0_11() {
    let broker = Mosquitto::start("");
    let client = psk_client(
        "psk-tls13",
        broker.psk_port,
        IDENTITY,
        KEY_HEX,
        &[("TLSVERSION", "tlsv1.3")],
    );
    wait_connected(&client, &|| broker.log());
    client.0.subscribe("psk/tls13", 0).expect("subscribe");
    client
        .0
        .publish("psk/tls13", b"1.3", 0, false)
        .expect("publish");
    assert_eq!(&wait_message(&client, "psk/tls13").payload[..], b"1.3");
}

fn mosquitto_client(program: &str, broker: &Mosquitto, args: &[&str]) -> Output {
    let port = broker.psk_port.to_string();
    Command::new(program)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "--psk-identity",
            IDENTITY,
            "--psk",
            KEY_HEX,
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program} (apt-get install -y mosquitto-clients): {e}"))
}

#[test]
fn mosquitto_clients_interoperate_over_psk() {
    let broker = Mosquitto::start("");
    let client = psk_client("psk-interop", broker.psk_port, IDENTITY, KEY_HEX, &[]);
    wait_connected(&client, &|| broker.log());

    // etkmqtt -> mosquitto_sub: a retained message is there when it subscribes.
    client
        .0
        .publish("psk/interop/from-etkmqtt", b"hello sub", 1, true)
        .expect("publish");
    wait_until("the retained publish to complete", || {
        (client.0.queued_count() == 0).then_some(())
    });
    let sub = mosquitto_client(
        "mosquitto_sub",
        &broker,
        &["-t", "psk/interop/from-etkmqtt", "-C", "1", "-W", "10"],
    );
    assert!(
        sub.status.success(),
        "mosquitto_sub: {}",
        String::from_utf8_lossy(&sub.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&sub.stdout).trim_end(), "hello sub");

    // mosquitto_pub -> etkmqtt, once our own echo shows the subscription is live.
    client
        .0
        .subscribe("psk/interop/to-etkmqtt", 1)
        .expect("subscribe");
    client
        .0
        .publish("psk/interop/to-etkmqtt", b"ready", 1, false)
        .expect("publish");
    assert_eq!(
        &wait_message(&client, "psk/interop/to-etkmqtt").payload[..],
        b"ready"
    );
    let publish = mosquitto_client(
        "mosquitto_pub",
        &broker,
        &[
            "-t",
            "psk/interop/to-etkmqtt",
            "-m",
            "hello etkmqtt",
            "-q",
            "1",
        ],
    );
    assert!(
        publish.status.success(),
        "mosquitto_pub: {}",
        String::from_utf8_lossy(&publish.stderr)
    );
    assert_eq!(
        &wait_message(&client, "psk/interop/to-etkmqtt").payload[..],
        b"hello etkmqtt"
    );
}
