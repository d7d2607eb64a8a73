//! A real Mosquitto for tests, started on free 127.0.0.1 ports with a
//! TLS-PSK, a certificate TLS and a plain MQTT listener.
//!
//! Shared by the integration tests (`mod support;`) and the crate's own unit
//! tests (`#[path]` from `lib.rs`), so it uses nothing but `std`. Each test
//! crate uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The identity the broker's psk_file knows, with [`KEY_HEX`].
pub const IDENTITY: &str = "gw1";
pub const KEY_HEX: &str = "00112233445566778899aabbccddeeff";
/// A key of the same length that the broker does not have for [`IDENTITY`].
pub const WRONG_KEY_HEX: &str = "00112233445566778899aabbccddee00";
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";
const LISTEN_WAIT: Duration = Duration::from_secs(15);

/// A 127.0.0.1 port that was free a moment ago and that this process has
/// not handed out before. The kernel may give a port that was just closed
/// to the next `bind(0)`, so without the record two listeners of one test,
/// or of two tests running in parallel, could be given the same port (seen:
/// Mosquitto failing with "Address already in use" on its own second
/// listener).
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let port = listener.local_addr().expect("local address").port();
        if handed_out.insert(port) {
            return port;
        }
    }
}

/// A Mosquitto process with its own directory; killed and the directory
/// removed on drop, also when the test panics.
pub struct Mosquitto {
    child: Child,
    /// Holds `psk.txt` (read again on SIGHUP) and `mosquitto.log`.
    pub dir: PathBuf,
    pub psk_port: u16,
    pub certificate_port: u16,
    pub plain_port: u16,
}

impl Mosquitto {
    /// Three listeners: TLS-PSK (identity gw1; `psk_extra` is added to its
    /// block, e.g. `ciphers …`), certificate TLS, plain MQTT.
    pub fn start(psk_extra: &str) -> Mosquitto {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        assert!(
            Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} is missing: apt-get install -y mosquitto mosquitto-clients"
        );
        let dir = std::env::temp_dir().join(format!(
            "etkmqtt-mosquitto-{}-{}",
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
        let config = dir.join("mosquitto.conf");
        let log_path = dir.join("mosquitto.log");
        let read_log = || fs::read_to_string(&log_path).unwrap_or_default();
        // A port found free can be taken before Mosquitto binds it (by a
        // client's own ephemeral port, for one): then try other ports.
        for _attempt in 0..5 {
            let (psk_port, certificate_port, plain_port) = (free_port(), free_port(), free_port());
            fs::write(
                &config,
                format!(
                    "allow_anonymous true\nlog_dest stderr\nlog_type all\n\
                     listener {psk_port} 127.0.0.1\npsk_hint hint\npsk_file {}\n{psk_extra}\n\
                     listener {certificate_port} 127.0.0.1\ncertfile {}\nkeyfile {}\n\
                     listener {plain_port} 127.0.0.1\n",
                    psk_file.display(),
                    cert.display(),
                    cert_key.display()
                ),
            )
            .expect("config");
            let log = fs::File::create(&log_path).expect("log file");
            let mut child = Command::new(MOSQUITTO)
                .arg("-c")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start mosquitto");
            let ports = [psk_port, certificate_port, plain_port];
            match wait_until_listening(&mut child, &ports) {
                Ok(()) => {
                    return Mosquitto {
                        child,
                        dir,
                        psk_port,
                        certificate_port,
                        plain_port,
                    }
                }
                Err(problem) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = read_log();
                    assert!(
                        log.contains("Address already in use"),
                        "mosquitto {problem}:\n{log}"
                    );
                }
            }
        }
        panic!("mosquitto found its ports taken 5 times:\n{}", read_log());
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }

    /// Sends `signal` (e.g. `-HUP`, `-STOP`, `-CONT`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {signal}");
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Waits until Mosquitto accepts connections on every port; `Err` says
/// why not (it exited, or did not listen in time; then it is still running).
fn wait_until_listening(child: &mut Child, ports: &[u16]) -> Result<(), String> {
    let deadline = Instant::now() + LISTEN_WAIT;
    for &port in ports {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("exited ({status})"));
            }
            if Instant::now() >= deadline {
                return Err(format!("did not listen on port {port}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}
