//! The connect time of each transport, measured in one run against local
//! servers (bench/connect/run prints it; `--ignored` because it measures
//! rather than checks). A connect is timed from `connect()` to the
//! Connected status event: TCP (and proxy negotiation, TLS handshake,
//! WebSocket upgrade, as configured), CONNECT and CONNACK.

mod support;

use std::sync::mpsc::{channel, Sender};
use std::time::{Duration, Instant};

use etkmqtt_core::{Client, ConnectionStatus, Event, EventSink};
use support::mosquitto::{IDENTITY, KEY_HEX};
use support::servers::{Broker, Certificates, Dante, Haproxy, Tinyproxy, WebSocket, AWS_ALPN};

const ROUNDS: usize = 20;

struct Connected(Sender<Instant>);

impl EventSink for Connected {
    fn deliver(&mut self, event: Event) {
        if let Event::StatusChanged(ConnectionStatus::Connected) = event {
            let _ = self.0.send(Instant::now());
        }
    }
}

fn connect_time(options: &[(&str, String)]) -> Duration {
    let (tx, rx) = channel();
    let client = Client::new("bench-connect", "127.0.0.1").expect("client");
    client
        .set_event_sink(Some(Box::new(Connected(tx))))
        .expect("sink");
    for (name, value) in options {
        client
            .set_option(name, value)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let start = Instant::now();
    client.connect().expect("connect");
    let connected = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("not connected: {:?}", client.last_error()));
    client.close();
    connected - start
}

#[test]
#[ignore = "a measurement: run with bench/connect/run"]
fn connect_time_by_transport() {
    let certs = Certificates::new();
    let tcp_broker = Broker::start(&certs, WebSocket::Plain, "");
    let wss_broker = Broker::start(&certs, WebSocket::Tls, "");
    let tinyproxy = Tinyproxy::start(false, &[]);
    let dante = Dante::start(false);
    let haproxy = Haproxy::start(&certs, tcp_broker.plain_port, tcp_broker.ws_port);
    let p = |port: u16| port.to_string();
    let ca = certs.ca();
    let http_proxy = format!("http://127.0.0.1:{}", tinyproxy.port);
    let socks_proxy = format!("socks5://127.0.0.1:{}", dante.port);
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("TCP", vec![("PORT", p(tcp_broker.plain_port))]),
        (
            "TLS (certificates)",
            vec![("PORT", p(tcp_broker.tls_port)), ("CAFILE", ca.clone())],
        ),
        (
            "TLS-PSK",
            vec![
                ("PORT", p(tcp_broker.psk_port)),
                ("PSK-IDENTITY", IDENTITY.to_owned()),
                ("PSK", KEY_HEX.to_owned()),
            ],
        ),
        (
            "WebSocket",
            vec![
                ("PORT", p(tcp_broker.ws_port)),
                ("TRANSPORT", "websocket".to_owned()),
            ],
        ),
        (
            "WebSocket + TLS",
            vec![
                ("PORT", p(wss_broker.ws_port)),
                ("TRANSPORT", "websocket".to_owned()),
                ("CAFILE", ca.clone()),
            ],
        ),
        (
            "TCP via HTTP proxy (tinyproxy)",
            vec![
                ("PORT", p(tcp_broker.plain_port)),
                ("PROXY", http_proxy.clone()),
            ],
        ),
        (
            "TCP via SOCKS5 (dante)",
            vec![("PORT", p(tcp_broker.plain_port)), ("PROXY", socks_proxy)],
        ),
        (
            "TLS + client cert + ALPN (haproxy front)",
            vec![
                ("PORT", p(haproxy.aws_port)),
                ("CAFILE", ca.clone()),
                ("CERTFILE", certs.path("client.pem")),
                ("KEYFILE", certs.path("client.key")),
                ("ALPN", AWS_ALPN.to_owned()),
            ],
        ),
        (
            "WebSocket + TLS via HTTP proxy",
            vec![
                ("PORT", p(wss_broker.ws_port)),
                ("TRANSPORT", "websocket".to_owned()),
                ("CAFILE", ca.clone()),
                ("PROXY", http_proxy),
            ],
        ),
    ];
    println!("| transport | median (ms) | min (ms) | max (ms) |");
    println!("|---|---:|---:|---:|");
    for (label, options) in &cases {
        // One unmeasured connect warms caches (certificate files, servers).
        connect_time(options);
        let mut times: Vec<Duration> = (0..ROUNDS).map(|_| connect_time(options)).collect();
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {label} | {:.2} | {:.2} | {:.2} |",
            ms(times[ROUNDS / 2]),
            ms(times[0]),
            ms(times[ROUNDS - 1])
        );
    }
}
