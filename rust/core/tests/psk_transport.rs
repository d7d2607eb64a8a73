//! TLS-PSK through the public `Client`, against a real Mosquitto started by
//! each test on free 127.0.0.1 ports: the session works both ways, each
//! misconfiguration reaches `last_error()` as its own cause, and the
//! Mosquitto command-line clients interoperate with etkmqtt over PSK.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use etkmqtt_core::{Client, ConnectionStatus, Event, EventSink, Message};

const IDENTITY: &str = "gw1";
const KEY_HEX: &str = "00112233445566778899aabbccddeeff";
const WRONG_KEY_HEX: &str = "00112233445566778899aabbccddee00";
const MOSQUITTO: &str = "/usr/sbin/mosquitto";
const WAIT: Duration = Duration::from_secs(15);

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A Mosquitto process with a TLS-PSK listener (identity gw1) and a
/// certificate listener; killed and its directory removed on drop, also
/// when the test panics.
struct Mosquitto {
    child: Child,
    dir: PathBuf,
    psk_port: u16,
    certificate_port: u16,
}

impl Mosquitto {
    fn start() -> Mosquitto {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        assert!(
            Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} is missing: apt-get install -y mosquitto mosquitto-clients"
        );
        let dir = std::env::temp_dir().join(format!(
            "etkmqtt-psk-it-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create test dir");
        // Mosquitto started as root reads its files as user mosquitto.
        let set_mode = |path: &Path, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
        };
        set_mode(&dir, 0o755);
        let psk_file = dir.join("psk.txt");
        fs::write(&psk_file, format!("{IDENTITY}:{KEY_HEX}\n")).expect("psk file");
        let (cert, cert_key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let made = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(&cert_key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the openssl CLI");
        assert!(made.success(), "openssl req failed");
        for file in [&psk_file, &cert, &cert_key] {
            set_mode(file, 0o644);
        }
        let (psk_port, certificate_port) = (free_port(), free_port());
        let config = dir.join("mosquitto.conf");
        fs::write(
            &config,
            format!(
                "allow_anonymous true\nlog_dest stderr\nlog_type all\n\
                 listener {psk_port} 127.0.0.1\npsk_hint hint\npsk_file {}\n\
                 listener {certificate_port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
                psk_file.display(),
                cert.display(),
                cert_key.display()
            ),
        )
        .expect("config");
        let log = fs::File::create(dir.join("mosquitto.log")).expect("log file");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mosquitto");
        let mut broker = Mosquitto {
            child,
            dir,
            psk_port,
            certificate_port,
        };
        let deadline = Instant::now() + WAIT;
        for port in [psk_port, certificate_port] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = broker.child.try_wait() {
                    panic!("mosquitto exited ({status}):\n{}", broker.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "mosquitto did not listen:\n{}",
                    broker.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        broker
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

struct IgnoreEvents;

impl EventSink for IgnoreEvents {
    fn deliver(&mut self, _event: Event) {}
}

/// A client closed on drop, so a failing test leaves no thread retrying.
struct TestClient(Client);

impl Drop for TestClient {
    fn drop(&mut self) {
        self.0.close();
    }
}

fn psk_client(
    id: &str,
    port: u16,
    identity: &str,
    key_hex: &str,
    extra: &[(&str, &str)],
) -> TestClient {
    let client = Client::new(id, "127.0.0.1", Box::new(IgnoreEvents)).expect("new client");
    let port = port.to_string();
    let options = [
        ("PORT", port.as_str()),
        ("PSK-IDENTITY", identity),
        ("PSK", key_hex),
    ];
    for (name, value) in options.iter().chain(extra) {
        client
            .set_option(name, value)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    client.connect().expect("connect");
    TestClient(client)
}

fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_connected(client: &TestClient, broker: &Mosquitto) {
    let deadline = Instant::now() + WAIT;
    while client.0.status() != ConnectionStatus::Connected {
        assert!(
            Instant::now() < deadline,
            "not connected; last error: {:?}\n{}",
            client.0.last_error(),
            broker.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The first failure `getLastError()` reports; the client keeps retrying.
fn first_error(client: &TestClient) -> String {
    let error = wait_until("a connection error", || client.0.last_error());
    assert_ne!(client.0.status(), ConnectionStatus::Connected);
    error
}

fn wait_message(client: &TestClient, topic: &str) -> Message {
    wait_until(&format!("a message on {topic}"), || {
        client.0.read_message().filter(|m| m.topic == topic)
    })
}

#[test]
fn psk_client_publishes_and_receives_through_mosquitto() {
    let broker = Mosquitto::start();
    let client = psk_client("psk-roundtrip", broker.psk_port, IDENTITY, KEY_HEX, &[]);
    wait_connected(&client, &broker);
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
    let broker = Mosquitto::start();
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
    let broker = Mosquitto::start();
    let client = psk_client("psk-stranger", broker.psk_port, "nobody", KEY_HEX, &[]);
    assert_eq!(
        first_error(&client),
        "TLS-PSK: the broker does not know the identity 'nobody' (check PSK-IDENTITY and the broker's psk_file)"
    );
}

#[test]
fn certificate_listener_reports_not_psk_listener() {
    let broker = Mosquitto::start();
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
    let broker = Mosquitto::start();
    let client = psk_client(
        "psk-tls13",
        broker.psk_port,
        IDENTITY,
        KEY_HEX,
        &[("TLSVERSION", "tlsv1.3")],
    );
    wait_connected(&client, &broker);
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
    let broker = Mosquitto::start();
    let client = psk_client("psk-interop", broker.psk_port, IDENTITY, KEY_HEX, &[]);
    wait_connected(&client, &broker);

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
