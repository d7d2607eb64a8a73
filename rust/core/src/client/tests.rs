use std::time::{Duration, Instant};

use super::*;
use crate::test_broker::Mosquitto;

fn client() -> Client {
    Client::new("unit", "127.0.0.1").expect("client")
}

/// Polls `condition` until it holds or `limit` passes.
fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    condition()
}

fn connected_client(broker: &Mosquitto, id: &str) -> Client {
    let client = Client::new(id, "127.0.0.1").expect("client");
    client
        .set_option("PORT", &broker.plain_port.to_string())
        .expect("port");
    client.connect().expect("connect");
    assert!(
        wait_until(Duration::from_secs(10), || client.status()
            == ConnectionStatus::Connected),
        "connected: {:?}",
        client.last_error()
    );
    client
}

#[test]
fn hosts_accept_names_and_ip_literals_but_not_ports() {
    assert_eq!(
        normalize_host("broker.local").expect("name"),
        "broker.local"
    );
    assert_eq!(normalize_host("[::1]").expect("v6"), "::1");
    assert_eq!(normalize_host("::1").expect("v6"), "::1");
    assert!(normalize_host("broker:1883").is_err());
    assert!(normalize_host("").is_err());
}

#[test]
fn invalid_publish_is_rejected_before_anything_is_queued() {
    let client = client();
    assert!(matches!(
        client.publish("a/+", b"x", 0, false),
        Err(Error::InvalidTopic(_))
    ));
    assert!(matches!(
        client.publish("", b"x", 0, false),
        Err(Error::InvalidTopic(_))
    ));
    assert!(matches!(
        client.publish("a", b"x", 3, false),
        Err(Error::InvalidQos(3))
    ));
    assert!(matches!(
        client.publish("a", b"x", -1, false),
        Err(Error::InvalidQos(-1))
    ));
    assert_eq!(client.queued_count(), 0);
}

#[test]
fn offline_queue_is_bounded_by_maxinflight_plus_the_offline_limit() {
    let client = client();
    client.set_option("MAXINFLIGHT", "5").expect("maxinflight");
    for i in 0..(5 + OFFLINE_QUEUE_LIMIT) {
        client
            .publish("t", b"x", 1, false)
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
    }
    let err = client.publish("t", b"x", 1, false).expect_err("full");
    assert!(err.to_string().starts_with("offline queue full"), "{err}");
    assert_eq!(client.queued_count(), 5 + OFFLINE_QUEUE_LIMIT);
}

#[test]
fn tagtimeoffset_reaches_publish_tags() {
    let client = client();
    client.set_option("TAGTIMEOFFSET", "60").expect("offset");
    assert_eq!(
        client
            .shared
            .settings
            .tag_time_offset_minutes
            .load(Ordering::Relaxed),
        60
    );
}

#[test]
fn options_are_refused_after_connect_and_calls_after_close() {
    let client = client();
    client.set_option("PORT", "1").expect("port");
    client.connect().expect("connect");
    assert!(matches!(
        client.set_option("PORT", "2"),
        Err(Error::OptionAfterConnect { .. })
    ));
    struct Ignore;
    impl EventSink for Ignore {
        fn deliver(&mut self, _event: crate::events::Event) {}
    }
    assert!(matches!(
        client.set_event_sink(Some(Box::new(Ignore))),
        Err(Error::AlreadyConnected)
    ));
    assert!(matches!(client.connect(), Err(Error::AlreadyConnected)));
    client.close();
    client.close();
    assert!(matches!(
        client.publish("t", b"x", 0, false),
        Err(Error::Closed)
    ));
    assert!(matches!(
        client.set_event_sink(Some(Box::new(Ignore))),
        Err(Error::Closed)
    ));
    assert_eq!(client.status(), ConnectionStatus::Disconnected);
}

#[test]
fn a_panic_on_the_io_thread_is_reported_and_stops_the_client_cleanly() {
    let broker = Mosquitto::start("");
    let client = connected_client(&broker, "panicking");
    client.inject_panic();
    assert!(
        wait_until(Duration::from_secs(10), || client.status()
            == ConnectionStatus::Disconnected),
        "status 4 after the panic"
    );
    let error = client.last_error().expect("an error text");
    assert!(
        error.contains("internal error stopped the connection")
            && error.contains("injected panic on the I/O thread"),
        "{error}"
    );
    let refused = client
        .publish("t", b"x", 1, false)
        .expect_err("no engine to publish with");
    assert!(matches!(refused, Error::Stopped(_)), "{refused}");
    assert!(refused
        .to_string()
        .contains("close it and create a new one"));
    let started = Instant::now();
    client.close();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "close does not hang"
    );
}

#[test]
fn close_returns_once_everything_queued_is_acknowledged() {
    let broker = Mosquitto::start("");
    let client = connected_client(&broker, "closing");
    client
        .set_option("CONNECTTIMEOUT", "30")
        .expect_err("options are fixed after connect");
    for i in 0..100 {
        client
            .publish("close/t", format!("{i}").as_bytes(), 1, false)
            .expect("publish");
    }
    let started = Instant::now();
    client.close();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "close took {took:?}");
    assert_eq!(client.queued_count(), 0, "everything acknowledged first");
}

#[test]
fn a_qos0_burst_faster_than_the_socket_drains_keeps_flowing() {
    let broker = Mosquitto::start("");
    for tls in [false, true] {
        qos0_burst(&broker, tls);
    }
}

fn qos0_burst(broker: &Mosquitto, tls: bool) {
    let client = Client::new("burst", "127.0.0.1").expect("client");
    let port = if tls {
        client
            .set_option("PSK-IDENTITY", crate::test_broker::IDENTITY)
            .expect("identity");
        client
            .set_option("PSK", crate::test_broker::KEY_HEX)
            .expect("psk");
        broker.psk_port
    } else {
        broker.plain_port
    };
    client.set_option("PORT", &port.to_string()).expect("port");
    client.set_option("CONNECTTIMEOUT", "5").expect("timeout");
    client.connect().expect("connect");
    assert!(
        wait_until(Duration::from_secs(10), || client.status()
            == ConnectionStatus::Connected),
        "connected: {:?}",
        client.last_error()
    );
    let payload = vec![0u8; 1024];
    for i in 0..20_000 {
        client
            .publish("burst/qos0", &payload, 0, false)
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
    }
    assert!(
        wait_until(Duration::from_secs(10), || client.queued_count() == 0),
        "still queued over {}: {}",
        if tls { "TLS-PSK" } else { "TCP" },
        client.queued_count()
    );
}
