//! The transports that reach cloud brokers, through the public `Client`,
//! against real servers started by each test on free 127.0.0.1 ports:
//! Mosquitto's WebSocket listeners (ws and wss), haproxy standing in for
//! AWS IoT Core's ALPN-only port 443 and for an HTTP front that refuses
//! unknown WebSocket paths, tinyproxy (HTTP CONNECT, with and without
//! BasicAuth), dante (SOCKS5, with and without user name and password),
//! and a forwarding proxy in this file that records the CONNECT packets on
//! their way to Mosquitto so that Python can check the Azure SAS tokens.
//! Every failure is checked by its words.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::client::{client, first_error, wait_connected, wait_message, wait_until, TestClient};
use support::mosquitto::{free_port, IDENTITY, KEY_HEX};
use support::servers::{
    Broker, Certificates, Dante, Haproxy, Tinyproxy, WebSocket, AWS_ALPN, HTTP_PROXY_PASSWORD,
    HTTP_PROXY_USER, SOCKS_PASSWORD, SOCKS_USER,
};

/// Subscribes, publishes a small and a large QoS 1 message and receives
/// both intact: the transport carries MQTT both ways, across frame and
/// record boundaries.
fn assert_round_trip(client: &TestClient, topic: &str, logs: &dyn Fn() -> String) {
    wait_connected(client, logs);
    client.0.subscribe(topic, 1).expect("subscribe");
    client
        .0
        .publish(topic, b"hello", 1, false)
        .expect("publish");
    assert_eq!(&wait_message(client, topic).payload[..], b"hello");
    let large: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    client
        .0
        .publish(topic, &large, 1, false)
        .expect("publish large");
    let echoed = wait_message(client, topic);
    assert!(echoed.payload[..] == large[..], "large payload differs");
    assert_eq!(client.0.last_error(), None);
}

fn port(p: u16) -> String {
    p.to_string()
}

// ---- WebSocket ----------------------------------------------------------

#[test]
fn websocket_carries_mqtt_both_ways_through_mosquitto() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::Plain, "");
    let ws = port(broker.ws_port);
    let client = client("ws-roundtrip", &[("TRANSPORT", "websocket"), ("PORT", &ws)]);
    assert_round_trip(&client, "ws/echo", &|| broker.log());
}

#[test]
fn websocket_over_tls_carries_mqtt_both_ways() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::Tls, "");
    let (ws, ca) = (port(broker.ws_port), certs.ca());
    let client = client(
        "wss-roundtrip",
        &[("TRANSPORT", "websocket"), ("PORT", &ws), ("CAFILE", &ca)],
    );
    assert_round_trip(&client, "wss/echo", &|| broker.log());
}

/// Through haproxy's HTTP front: `/mqtt` is passed on, another path is
/// answered with 404 and a body, whose first line the error quotes.
#[test]
fn websocket_upgrade_refused_names_the_status_and_the_body() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::Plain, "");
    let haproxy = Haproxy::start(&certs, broker.plain_port, broker.ws_port);
    let front = port(haproxy.ws_port);

    let good = client(
        "ws-front",
        &[
            ("TRANSPORT", "websocket"),
            ("PORT", &front),
            ("WSPATH", "/mqtt"),
        ],
    );
    assert_round_trip(&good, "front/echo", &|| haproxy.server.log());

    let wrong = client(
        "ws-wrong-path",
        &[
            ("TRANSPORT", "websocket"),
            ("PORT", &front),
            ("WSPATH", "/ws"),
        ],
    );
    assert_eq!(
        first_error(&wrong),
        format!(
            "WebSocket: 127.0.0.1:{front} refused the upgrade on WSPATH /ws: HTTP 404 Not Found — no MQTT endpoint at this path (check WSPATH)"
        )
    );
}

#[test]
fn websocket_to_a_plain_mqtt_port_says_it_is_not_a_websocket_listener() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let plain = port(broker.plain_port);
    let client = client("ws-not-ws", &[("TRANSPORT", "websocket"), ("PORT", &plain)]);
    assert_eq!(
        first_error(&client),
        format!("WebSocket: 127.0.0.1:{plain} closed the connection before answering the upgrade request (is this a WebSocket listener? with TLS, set CAFILE or PSK)")
    );
}

// ---- ALPN (AWS IoT Core's port 443, played by haproxy) -----------------

fn aws_options<'a>(
    certs: &'a Certificates,
    port: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, String)> {
    let mut options = vec![
        ("PORT", port.to_owned()),
        ("CAFILE", certs.ca()),
        ("CERTFILE", certs.path("client.pem")),
        ("KEYFILE", certs.path("client.key")),
    ];
    options.extend(extra.iter().map(|(n, v)| (*n, (*v).to_owned())));
    options
}

fn client_owned(id: &str, options: &[(&str, String)]) -> TestClient {
    let borrowed: Vec<(&str, &str)> = options.iter().map(|(n, v)| (*n, v.as_str())).collect();
    client(id, &borrowed)
}

#[test]
fn alpn_x_amzn_mqtt_ca_passes_the_aws_style_front() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let haproxy = Haproxy::start(&certs, broker.plain_port, broker.plain_port);
    let aws = port(haproxy.aws_port);
    let client = client_owned("alpn-ok", &aws_options(&certs, &aws, &[("ALPN", AWS_ALPN)]));
    assert_round_trip(&client, "alpn/echo", &|| haproxy.server.log());
}

#[test]
fn another_alpn_protocol_fails_naming_the_offered_list() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let haproxy = Haproxy::start(&certs, broker.plain_port, broker.plain_port);
    let aws = port(haproxy.aws_port);
    let client = client_owned(
        "alpn-other",
        &aws_options(&certs, &aws, &[("ALPN", "mqtt,http/1.1")]),
    );
    assert_eq!(
        first_error(&client),
        "TLS: the broker accepted none of the ALPN protocols offered (mqtt,http/1.1): it chose no protocol in the handshake; check ALPN (AWS IoT Core takes x-amzn-mqtt-ca on port 443 with a client certificate)"
    );
}

/// Without ALPN the front completes TLS and hangs up, as AWS does.
#[test]
fn no_alpn_is_cut_after_the_handshake() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let haproxy = Haproxy::start(&certs, broker.plain_port, broker.plain_port);
    let aws = port(haproxy.aws_port);
    let client = client_owned("alpn-none", &aws_options(&certs, &aws, &[]));
    assert_eq!(
        first_error(&client),
        "the broker closed the connection before answering CONNECT (the broker may refuse this client id or configuration: see the broker's log)"
    );
}

/// OpenSSL's `s_server -alpn` refuses a ClientHello without a shared
/// protocol with the no_application_protocol alert.
#[test]
fn alert_120_is_named_with_the_offered_list() {
    let certs = Certificates::new();
    let tls_port = free_port();
    let mut server = Command::new("openssl")
        .args(["s_server", "-accept", &format!("127.0.0.1:{tls_port}")])
        .args([
            "-cert",
            &certs.path("server.pem"),
            "-key",
            &certs.path("server.key"),
        ])
        .args(["-alpn", AWS_ALPN, "-quiet"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_server");
    wait_until("s_server to listen", || {
        TcpStream::connect(("127.0.0.1", tls_port)).ok()
    });
    let tls = port(tls_port);
    let ca = certs.ca();
    let client = client(
        "alpn-alert",
        &[("PORT", &tls), ("CAFILE", &ca), ("ALPN", "mqtt")],
    );
    let error = first_error(&client);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        error,
        "TLS: the broker accepted none of the ALPN protocols offered (mqtt): it answered with TLS alert 120 (no_application_protocol); check ALPN (AWS IoT Core takes x-amzn-mqtt-ca on port 443 with a client certificate)"
    );
}

// ---- HTTP CONNECT (tinyproxy) -------------------------------------------

#[test]
fn http_proxy_tunnels_plain_mqtt() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let proxy = Tinyproxy::start(false, &[]);
    let (plain, url) = (
        port(broker.plain_port),
        format!("http://127.0.0.1:{}", proxy.port),
    );
    let client = client("http-proxy", &[("PORT", &plain), ("PROXY", &url)]);
    assert_round_trip(&client, "proxy/echo", &|| proxy.server.log());
    assert!(
        proxy.server.log().contains("CONNECT"),
        "the connection did not go through tinyproxy:\n{}",
        proxy.server.log()
    );
}

#[test]
fn http_proxy_with_basic_auth_tunnels_and_wrong_auth_is_named() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let proxy = Tinyproxy::start(true, &[]);
    let plain = port(broker.plain_port);
    let good = format!(
        "http://{HTTP_PROXY_USER}:{HTTP_PROXY_PASSWORD}@127.0.0.1:{}",
        proxy.port
    );
    let client_ok = client("http-auth", &[("PORT", &plain), ("PROXY", &good)]);
    assert_round_trip(&client_ok, "auth/echo", &|| proxy.server.log());

    let wrong = format!("http://{HTTP_PROXY_USER}:not-it@127.0.0.1:{}", proxy.port);
    let client_wrong = client("http-auth-wrong", &[("PORT", &plain), ("PROXY", &wrong)]);
    assert_eq!(
        first_error(&client_wrong),
        format!("the proxy http://127.0.0.1:{} rejected the user name and password in PROXY (HTTP 401 Unauthorized)", proxy.port)
    );

    let none = format!("http://127.0.0.1:{}", proxy.port);
    let client_none = client("http-auth-none", &[("PORT", &plain), ("PROXY", &none)]);
    assert_eq!(
        first_error(&client_none),
        format!("the proxy http://127.0.0.1:{} requires a user name and password (HTTP 407 Proxy Authentication Required): give them in PROXY as http://user:password@host:port", proxy.port)
    );
}

#[test]
fn http_proxy_refusing_the_port_is_named_with_its_status() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    // Tunnels only to port 443: the broker's port is refused.
    let proxy = Tinyproxy::start(false, &[443]);
    let (plain, url) = (
        port(broker.plain_port),
        format!("http://127.0.0.1:{}", proxy.port),
    );
    let client = client("http-refused", &[("PORT", &plain), ("PROXY", &url)]);
    let error = first_error(&client);
    assert!(
        error.starts_with(&format!(
            "the proxy http://127.0.0.1:{} refused to connect to 127.0.0.1:{plain}: HTTP 403 ",
            proxy.port
        )),
        "{error}"
    );
    assert!(
        error.ends_with("(tinyproxy: a ConnectPort line for the port)"),
        "{error}"
    );
}

#[test]
fn unreachable_proxy_is_named_as_the_proxy() {
    let closed = free_port();
    let url = format!("http://127.0.0.1:{closed}");
    let client = client("proxy-down", &[("PORT", "1883"), ("PROXY", &url)]);
    assert_eq!(
        first_error(&client),
        format!("cannot reach the proxy http://127.0.0.1:{closed}: connection refused by 127.0.0.1:{closed} (check PROXY)")
    );
}

/// WebSocket over TLS through the HTTP proxy with BasicAuth: every layer
/// at once.
#[test]
fn websocket_over_tls_through_the_http_proxy() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::Tls, "");
    let proxy = Tinyproxy::start(true, &[]);
    let (ws, ca) = (port(broker.ws_port), certs.ca());
    let url = format!(
        "http://{HTTP_PROXY_USER}:{HTTP_PROXY_PASSWORD}@127.0.0.1:{}",
        proxy.port
    );
    let client = client(
        "wss-via-proxy",
        &[
            ("TRANSPORT", "websocket"),
            ("PORT", &ws),
            ("CAFILE", &ca),
            ("PROXY", &url),
        ],
    );
    assert_round_trip(&client, "wssproxy/echo", &|| {
        format!("{}\n{}", proxy.server.log(), broker.log())
    });
}

// ---- SOCKS5 (dante) -----------------------------------------------------

#[test]
fn socks5_without_authentication_tunnels_certificate_tls() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let dante = Dante::start(false);
    let (tls, ca) = (port(broker.tls_port), certs.ca());
    let url = format!("socks5://127.0.0.1:{}", dante.port);
    let client = client(
        "socks-tls",
        &[("PORT", &tls), ("CAFILE", &ca), ("PROXY", &url)],
    );
    assert_round_trip(&client, "socks/echo", &|| dante.server.log());
}

/// TLS-PSK through SOCKS5 with user name and password.
#[test]
fn psk_through_socks5_with_user_and_password() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let dante = Dante::start(true);
    let psk = port(broker.psk_port);
    let url = format!(
        "socks5://{SOCKS_USER}:{SOCKS_PASSWORD}@127.0.0.1:{}",
        dante.port
    );
    let client = client(
        "socks-psk",
        &[
            ("PORT", &psk),
            ("PSK-IDENTITY", IDENTITY),
            ("PSK", KEY_HEX),
            ("PROXY", &url),
        ],
    );
    assert_round_trip(&client, "sockspsk/echo", &|| dante.server.log());
}

#[test]
fn socks5_authentication_failures_are_named() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let dante = Dante::start(true);
    let plain = port(broker.plain_port);
    let wrong = format!("socks5://{SOCKS_USER}:not-it@127.0.0.1:{}", dante.port);
    let client_wrong = client("socks-wrong", &[("PORT", &plain), ("PROXY", &wrong)]);
    assert_eq!(
        first_error(&client_wrong),
        format!("the proxy socks5://127.0.0.1:{} rejected the user name and password in PROXY (SOCKS5 user name/password status 1)", dante.port)
    );
    let none = format!("socks5://127.0.0.1:{}", dante.port);
    let client_none = client("socks-none", &[("PORT", &plain), ("PROXY", &none)]);
    assert_eq!(
        first_error(&client_none),
        format!("the proxy socks5://127.0.0.1:{} requires a user name and password (SOCKS5: no acceptable authentication method): give them in PROXY as socks5://user:password@host:port", dante.port)
    );
}

#[test]
fn socks5_refusal_names_the_reply() {
    let dante = Dante::start(false);
    let closed = port(free_port());
    let url = format!("socks5://127.0.0.1:{}", dante.port);
    let client = client("socks-refused", &[("PORT", &closed), ("PROXY", &url)]);
    assert_eq!(
        first_error(&client),
        format!("the proxy socks5://127.0.0.1:{} refused to connect to 127.0.0.1:{closed}: SOCKS5 reply 5 (connection refused) — the proxy could not reach the broker: check the host and PORT", dante.port)
    );
}

/// The wrong kind of proxy in PROXY is named from what it answers.
#[test]
fn proxy_of_the_other_kind_is_named() {
    let dante = Dante::start(false);
    let tinyproxy = Tinyproxy::start(false, &[]);
    let http_at_socks = format!("http://127.0.0.1:{}", dante.port);
    let client_a = client(
        "http-at-socks",
        &[("PORT", "1883"), ("PROXY", &http_at_socks)],
    );
    assert_eq!(
        first_error(&client_a),
        format!("the proxy http://127.0.0.1:{} closed the connection during the HTTP CONNECT negotiation (is it an HTTP proxy? a SOCKS proxy needs socks5:// in PROXY)", dante.port)
    );
    // tinyproxy waits for the end of a request line that never comes.
    let socks_at_http = format!("socks5://127.0.0.1:{}", tinyproxy.port);
    let client_b = client(
        "socks-at-http",
        &[
            ("PORT", "1883"),
            ("PROXY", &socks_at_http),
            ("CONNECTTIMEOUT", "2"),
        ],
    );
    assert_eq!(
        first_error(&client_b),
        "timed out after 2 s in the SOCKS5 negotiation with the proxy for 127.0.0.1:1883 (CONNECTTIMEOUT 2)"
    );
}

// ---- Azure SAS tokens ---------------------------------------------------

/// One CONNECT seen by the [`Recorder`].
#[derive(Debug, Clone)]
struct Login {
    at: SystemTime,
    client_id: String,
    username: String,
    password: String,
}

/// A forwarding proxy in front of Mosquitto that parses each connection's
/// first packet (CONNECT) and records its login. It is not a broker: all
/// bytes go on to Mosquitto unchanged.
struct Recorder {
    port: u16,
    logins: Arc<Mutex<Vec<Login>>>,
}

impl Recorder {
    fn start(upstream: u16) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let logins = Arc::new(Mutex::new(Vec::new()));
        let seen = logins.clone();
        std::thread::spawn(move || {
            for downstream in listener.incoming().map_while(Result::ok) {
                let seen = seen.clone();
                std::thread::spawn(move || forward(downstream, upstream, &seen));
            }
        });
        Recorder { port, logins }
    }

    fn logins(&self) -> Vec<Login> {
        self.logins.lock().expect("logins").clone()
    }
}

fn forward(mut downstream: TcpStream, upstream: u16, seen: &Mutex<Vec<Login>>) {
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    let _ = downstream.set_nodelay(true);
    let _ = up.set_nodelay(true);
    // Read the CONNECT packet whole, record it, pass it on.
    let mut packet = Vec::new();
    let mut byte = [0u8; 1];
    let read_byte = |s: &mut TcpStream, b: &mut [u8; 1]| s.read_exact(b).map(|_| b[0]);
    let Ok(header) = read_byte(&mut downstream, &mut byte) else {
        return;
    };
    packet.push(header);
    let (mut length, mut shift) = (0usize, 0);
    loop {
        let Ok(b) = read_byte(&mut downstream, &mut byte) else {
            return;
        };
        packet.push(b);
        length |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0u8; length];
    if downstream.read_exact(&mut body).is_err() {
        return;
    }
    if let Some(login) = parse_connect(&body) {
        seen.lock().expect("logins").push(login);
    }
    packet.extend_from_slice(&body);
    if up.write_all(&packet).is_err() {
        return;
    }
    let (Ok(mut down_reader), Ok(mut up_writer)) = (downstream.try_clone(), up.try_clone()) else {
        return;
    };
    let pump = std::thread::spawn(move || {
        let _ = std::io::copy(&mut down_reader, &mut up_writer);
        let _ = up_writer.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut up, &mut downstream);
    let _ = downstream.shutdown(Shutdown::Both);
    let _ = pump.join();
}

/// Client id, user name and password of an MQTT 3.1.1 CONNECT body.
fn parse_connect(body: &[u8]) -> Option<Login> {
    fn string(body: &[u8], at: &mut usize) -> Option<String> {
        let len = usize::from(u16::from_be_bytes([*body.get(*at)?, *body.get(*at + 1)?]));
        let text = String::from_utf8(body.get(*at + 2..*at + 2 + len)?.to_vec()).ok()?;
        *at += 2 + len;
        Some(text)
    }
    let mut at = 0;
    let _protocol = string(body, &mut at)?;
    let flags = *body.get(at + 1)?;
    at += 4; // level, flags, keep-alive
    let client_id = string(body, &mut at)?;
    if flags & 0x04 != 0 {
        string(body, &mut at)?; // will topic
        string(body, &mut at)?; // will payload (UTF-8 here)
    }
    let username = if flags & 0x80 != 0 {
        string(body, &mut at)?
    } else {
        String::new()
    };
    let password = if flags & 0x40 != 0 {
        string(body, &mut at)?
    } else {
        String::new()
    };
    Some(Login {
        at: SystemTime::now(),
        client_id,
        username,
        password,
    })
}

/// Microsoft's documented algorithm, in Python's standard library, as an
/// implementation independent of ours: prints the expiry when `token` is
/// the SharedAccessSignature for `resource` with `key`, else fails.
const PYTHON_SAS_CHECK: &str = r#"
import base64, hmac, hashlib, sys, urllib.parse
token, key, resource = sys.argv[1], sys.argv[2], sys.argv[3]
prefix = "SharedAccessSignature "
assert token.startswith(prefix), "no SharedAccessSignature prefix"
fields = token[len(prefix):].split("&")
assert [f.split("=", 1)[0] for f in fields] == ["sr", "sig", "se"], fields
values = dict(f.split("=", 1) for f in fields)
assert values["sr"] == urllib.parse.quote_plus(resource), ("sr", values["sr"])
expiry = int(values["se"])
to_sign = urllib.parse.quote_plus(resource) + "\n" + str(expiry)
signature = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode("utf-8"), hashlib.sha256).digest())
assert values["sig"] == urllib.parse.quote_plus(signature), "signature differs"
print(expiry)
"#;

/// A device key as the Azure portal shows it (base64 of 32 bytes).
const SAS_KEY: &str = "q6xTYmYPz6u5ikqIV6BZZu8hGXbDXH39tJpJ6BmZ5tk=";

/// Checks `login` with Python; returns the token's expiry (seconds since
/// 1970).
fn python_checked_expiry(login: &Login, host: &str) -> u64 {
    let resource = format!("{host}/devices/{}", login.client_id);
    let output = Command::new("python3")
        .args(["-c", PYTHON_SAS_CHECK, &login.password, SAS_KEY, &resource])
        .output()
        .expect("run python3");
    assert!(
        output.status.success(),
        "Python rejects the token {:?}: {}",
        login.password,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .expect("expiry")
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

#[test]
fn sas_token_is_the_documented_signature_and_user_name_is_azures() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let recorder = Recorder::start(broker.plain_port);
    let recorded = port(recorder.port);
    // A device id with characters URL encoding must change.
    let client = client(
        "gw 7/line+2",
        &[("PORT", &recorded), ("SASKEY", SAS_KEY), ("SASTTL", "7200")],
    );
    wait_connected(&client, &|| broker.log());
    let logins = recorder.logins();
    assert_eq!(logins.len(), 1, "{logins:?}");
    let login = &logins[0];
    assert_eq!(
        login.username,
        "127.0.0.1/gw 7/line+2/?api-version=2021-04-12"
    );
    assert!(
        login
            .password
            .starts_with("SharedAccessSignature sr=127.0.0.1%2Fdevices%2Fgw+7%2Fline%2B2&sig="),
        "{}",
        login.password
    );
    let expiry = python_checked_expiry(login, "127.0.0.1");
    let made = unix(login.at);
    assert!(
        (made + 7200 - 5..=made + 7200 + 1).contains(&expiry),
        "expiry {expiry} is not SASTTL after {made}"
    );
}

#[test]
fn refused_sas_token_is_named() {
    let certs = Certificates::new();
    let dir = support::servers::temp_dir("passwd");
    let passwords = dir.join("passwords");
    let made = Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwords)
        .args([
            "127.0.0.1/sas-refused/?api-version=2021-04-12",
            "some other password",
        ])
        .status()
        .expect("mosquitto_passwd");
    assert!(made.success());
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passwords, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
    let broker = Broker::start(
        &certs,
        WebSocket::None,
        &format!(
            "allow_anonymous false\npassword_file {}",
            passwords.display()
        ),
    );
    let plain = port(broker.plain_port);
    let client = client("sas-refused", &[("PORT", &plain), ("SASKEY", SAS_KEY)]);
    assert_eq!(
        first_error(&client),
        "the broker refused the SharedAccessSignature made from SASKEY (CONNACK code 5): check SASKEY (the device's primary or secondary key), that the MqttId is the device id, and the hub's host name"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// SASTTL 60: the client reconnects with a new, valid token at 80 % of
/// the lifetime, before the first one expires, and no QoS 1 message
/// published across the renewal is lost.
#[test]
fn sas_token_is_renewed_before_expiry_without_losing_messages() {
    let certs = Certificates::new();
    let broker = Broker::start(&certs, WebSocket::None, "");
    let recorder = Recorder::start(broker.plain_port);
    let (recorded, plain) = (port(recorder.port), port(broker.plain_port));
    let subscriber = client("sas-watch", &[("PORT", &plain), ("CLEANSESSION", "0")]);
    wait_connected(&subscriber, &|| broker.log());
    subscriber.0.subscribe("sas/seq", 1).expect("subscribe");
    // The subscription is in place once a probe comes back.
    subscriber
        .0
        .publish("sas/seq", b"probe", 1, false)
        .expect("probe");
    wait_message(&subscriber, "sas/seq");

    let device = client(
        "sas-renew",
        &[
            ("PORT", &recorded),
            ("SASKEY", SAS_KEY),
            ("SASTTL", "60"),
            ("RECONNECTMIN", "5"),
        ],
    );
    wait_connected(&device, &|| broker.log());
    let started = Instant::now();
    let mut sent = 0u32;
    // Publish every 100 ms until the second login is seen, then 2 s more.
    let mut renewed_at: Option<Instant> = None;
    while renewed_at.is_none_or(|at| at.elapsed() < Duration::from_secs(2)) {
        assert!(
            started.elapsed() < Duration::from_secs(75),
            "no renewal within 75 s: {:?}",
            recorder.logins()
        );
        device
            .0
            .publish("sas/seq", sent.to_string().as_bytes(), 1, false)
            .expect("publish");
        sent += 1;
        if renewed_at.is_none() && recorder.logins().len() >= 2 {
            renewed_at = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let logins = recorder.logins();
    assert_eq!(logins.len(), 2, "one renewal expected: {logins:?}");
    let first_expiry = python_checked_expiry(&logins[0], "127.0.0.1");
    let second_expiry = python_checked_expiry(&logins[1], "127.0.0.1");
    let renewed = unix(logins[1].at);
    assert!(
        renewed < first_expiry,
        "renewed at {renewed}, after the first token expired at {first_expiry}"
    );
    assert!(
        (unix(logins[0].at) + 46..=unix(logins[0].at) + 50).contains(&renewed),
        "renewal {} s after the first login, not at 80 % of 60 s",
        renewed - unix(logins[0].at)
    );
    assert!(
        second_expiry >= first_expiry + 46,
        "the second token is not fresh"
    );
    assert_ne!(logins[0].password, logins[1].password);

    let mut seen = std::collections::BTreeSet::new();
    wait_until("every message at the subscriber", || {
        while let Ok(Some(message)) = subscriber.0.read_message() {
            if let Ok(n) = String::from_utf8_lossy(&message.payload).parse::<u32>() {
                seen.insert(n);
            }
        }
        (seen.len() as u32 == sent).then_some(())
    });
    assert_eq!(
        device.0.last_error(),
        None,
        "the renewal must not be an error"
    );
}
