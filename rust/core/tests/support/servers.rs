//! The real servers the cloud-transport tests and the connect bench start
//! on free 127.0.0.1 ports: Mosquitto with plain, TLS, TLS-PSK and
//! WebSocket listeners; haproxy as AWS IoT's ALPN-only port 443 and as an
//! HTTP front that refuses unknown WebSocket paths; tinyproxy (HTTP
//! CONNECT); dante (SOCKS5). Each is killed and its directory removed on
//! drop. Only `std`.
#![allow(dead_code)]

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use super::mosquitto::{free_port, IDENTITY, KEY_HEX, MOSQUITTO};

const LISTEN_WAIT: Duration = Duration::from_secs(15);

/// The SOCKS5 user the dante tests authenticate as (a system user: dante's
/// `username` method checks the system's password database).
pub const SOCKS_USER: &str = "etkproxy";
pub const SOCKS_PASSWORD: &str = "s0cks-pw";
/// The tinyproxy BasicAuth user.
pub const HTTP_PROXY_USER: &str = "gw";
pub const HTTP_PROXY_PASSWORD: &str = "pr0xy-pw";
/// The ALPN protocol AWS IoT Core requires on port 443.
pub const AWS_ALPN: &str = "x-amzn-mqtt-ca";

/// A fresh directory, readable by the users servers switch to.
pub fn temp_dir(what: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "etkmqtt-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).expect("create test dir");
    set_mode(&dir, 0o777);
    dir
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn openssl(args: &[&str], dir: &Path) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run the openssl CLI");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A test CA, a server certificate for `localhost` and 127.0.0.1, and a
/// client certificate, made with the openssl CLI.
pub struct Certificates {
    pub dir: PathBuf,
}

impl Certificates {
    pub fn new() -> Certificates {
        let dir = temp_dir("certs");
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-days",
            "2",
            "-subj",
            "/CN=etkmqtt test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&ca, &dir);
        for (name, cn, usage) in [
            ("server", "localhost", "serverAuth"),
            ("client", "etkmqtt-device", "clientAuth"),
        ] {
            let ext = format!("{name}.ext");
            fs::write(
                dir.join(&ext),
                format!("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage={usage}\n"),
            )
            .expect("ext file");
            let (key, csr, pem) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
            );
            let subject = format!("/CN={cn}");
            let mut req = vec!["req"];
            req.extend(ec);
            req.extend(["-subj", &subject, "-keyout", &key, "-out", &csr]);
            openssl(&req, &dir);
            openssl(
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &ext,
                    "-out",
                    &pem,
                ],
                &dir,
            );
        }
        // haproxy wants certificate and key in one file.
        let combined = [
            fs::read(dir.join("server.pem")).expect("server.pem"),
            fs::read(dir.join("server.key")).expect("server.key"),
        ]
        .concat();
        fs::write(dir.join("server-combined.pem"), combined).expect("combined");
        for entry in fs::read_dir(&dir).expect("list") {
            set_mode(&entry.expect("entry").path(), 0o644);
        }
        Certificates { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    pub fn ca(&self) -> String {
        self.path("ca.pem")
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A server process with its log, killed on drop.
pub struct Server {
    child: Child,
    pub dir: PathBuf,
    log: PathBuf,
    /// Removed on drop too (the directory may be shared).
    own_dir: bool,
}

impl Server {
    fn spawn(mut command: Command, dir: PathBuf, name: &str, ports: &[u16]) -> Server {
        let log = dir.join(format!("{name}.log"));
        let out = fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let mut server = Server {
            child,
            dir,
            log,
            own_dir: true,
        };
        let deadline = Instant::now() + LISTEN_WAIT;
        for &port in ports {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Ok(Some(status)) = server.child.try_wait() {
                    panic!("{name} exited ({status}):\n{}", server.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "{name} did not listen on {port}:\n{}",
                    server.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        server
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (e.g. `-STOP`) with kill(1).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {signal}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.own_dir {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Which WebSocket listener a [`Broker`] gets (one per Mosquitto instance:
/// a second bound one fails to start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebSocket {
    None,
    Plain,
    Tls,
}

/// Mosquitto with a plain, a certificate TLS and a TLS-PSK listener, and
/// optionally a WebSocket one.
pub struct Broker {
    pub server: Server,
    pub plain_port: u16,
    pub tls_port: u16,
    pub psk_port: u16,
    pub ws_port: u16,
}

impl Broker {
    /// `global` is added before the listeners (e.g. `password_file …`).
    pub fn start(certs: &Certificates, websocket: WebSocket, global: &str) -> Broker {
        assert!(Path::new(MOSQUITTO).exists(), "{MOSQUITTO} is missing");
        let dir = temp_dir("broker");
        let psk_file = dir.join("psk.txt");
        fs::write(&psk_file, format!("{IDENTITY}:{KEY_HEX}\n")).expect("psk file");
        set_mode(&psk_file, 0o644);
        let (plain_port, tls_port, psk_port, ws_port) =
            (free_port(), free_port(), free_port(), free_port());
        let (cert, key) = (certs.path("server.pem"), certs.path("server.key"));
        let mut config = format!(
            "allow_anonymous true\nlog_dest stderr\nlog_type all\nmax_queued_messages 0\n\
             set_tcp_nodelay true\n{global}\n\
             listener {plain_port} 127.0.0.1\n\
             listener {tls_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n\
             listener {psk_port} 127.0.0.1\npsk_hint hint\npsk_file {}\n",
            psk_file.display()
        );
        match websocket {
            WebSocket::None => {}
            WebSocket::Plain => {
                config.push_str(&format!("listener {ws_port} 127.0.0.1\nprotocol websockets\n"))
            }
            WebSocket::Tls => config.push_str(&format!(
                "listener {ws_port} 127.0.0.1\nprotocol websockets\ncertfile {cert}\nkeyfile {key}\n"
            )),
        }
        let config_file = dir.join("mosquitto.conf");
        fs::write(&config_file, config).expect("config");
        set_mode(&config_file, 0o644);
        let mut command = Command::new(MOSQUITTO);
        command.arg("-c").arg(&config_file);
        let mut ports = vec![plain_port, tls_port, psk_port];
        if websocket != WebSocket::None {
            ports.push(ws_port);
        }
        Broker {
            server: Server::spawn(command, dir, "mosquitto", &ports),
            plain_port,
            tls_port,
            psk_port,
            ws_port,
        }
    }

    pub fn log(&self) -> String {
        self.server.log()
    }
}

/// haproxy: `aws_port` is a TLS front that, like AWS IoT Core on 443,
/// requires a client certificate and ALPN `x-amzn-mqtt-ca` (any other
/// ALPN, or none, completes the handshake and is then cut), forwarding
/// to `mqtt_port`; `ws_port` is an HTTP front that passes `/mqtt`
/// upgrades to `ws_backend` and answers other paths with 404.
pub struct Haproxy {
    pub server: Server,
    pub aws_port: u16,
    pub ws_port: u16,
}

impl Haproxy {
    pub fn start(certs: &Certificates, mqtt_port: u16, ws_backend: u16) -> Haproxy {
        let dir = temp_dir("haproxy");
        let (aws_port, ws_port) = (free_port(), free_port());
        let config = format!(
            "global\n    maxconn 200\n\
             defaults\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n    timeout tunnel 60s\n\
             frontend aws\n    mode tcp\n    bind 127.0.0.1:{aws_port} ssl crt {combined} ca-file {ca} verify required alpn {AWS_ALPN}\n\
             \x20   tcp-request content reject unless {{ ssl_fc_alpn -i {AWS_ALPN} }}\n    default_backend mqtt\n\
             backend mqtt\n    mode tcp\n    server mosquitto 127.0.0.1:{mqtt_port}\n\
             frontend ws\n    mode http\n    bind 127.0.0.1:{ws_port}\n\
             \x20   http-request return status 404 content-type text/plain string \"no MQTT endpoint at this path\" unless {{ path /mqtt }}\n\
             \x20   default_backend websocket\n\
             backend websocket\n    mode http\n    server mosquitto 127.0.0.1:{ws_backend}\n",
            combined = certs.path("server-combined.pem"),
            ca = certs.ca(),
        );
        let config_file = dir.join("haproxy.cfg");
        fs::write(&config_file, config).expect("config");
        let mut command = Command::new("/usr/sbin/haproxy");
        command.arg("-f").arg(&config_file).arg("-db");
        Haproxy {
            server: Server::spawn(command, dir, "haproxy", &[aws_port, ws_port]),
            aws_port,
            ws_port,
        }
    }
}

/// tinyproxy, an HTTP CONNECT proxy; with `auth`, BasicAuth
/// [`HTTP_PROXY_USER`]/[`HTTP_PROXY_PASSWORD`]. With `connect_ports` not
/// empty, tunnels go only to those ports.
pub struct Tinyproxy {
    pub server: Server,
    pub port: u16,
}

impl Tinyproxy {
    pub fn start(auth: bool, connect_ports: &[u16]) -> Tinyproxy {
        let dir = temp_dir("tinyproxy");
        let port = free_port();
        let mut config = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 120\nMaxClients 100\nAllow 127.0.0.1\n\
             User nobody\nGroup nogroup\nDisableViaHeader Yes\nLogLevel Info\n"
        );
        if auth {
            config.push_str(&format!(
                "BasicAuth {HTTP_PROXY_USER} {HTTP_PROXY_PASSWORD}\n"
            ));
        }
        for p in connect_ports {
            config.push_str(&format!("ConnectPort {p}\n"));
        }
        let config_file = dir.join("tinyproxy.conf");
        fs::write(&config_file, config).expect("config");
        set_mode(&config_file, 0o644);
        let mut command = Command::new("/usr/bin/tinyproxy");
        command.arg("-d").arg("-c").arg(&config_file);
        Tinyproxy {
            server: Server::spawn(command, dir, "tinyproxy", &[port]),
            port,
        }
    }
}

/// Creates the system user dante checks SOCKS5 passwords against, once
/// per test process (the tests run as root, as CI does).
pub fn ensure_socks_user() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let exists = Command::new("id")
            .arg(SOCKS_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            let made = Command::new("useradd")
                .args(["-M", "-s", "/usr/sbin/nologin", SOCKS_USER])
                .status()
                .expect("run useradd (the SOCKS5 tests need root)");
            assert!(made.success(), "useradd {SOCKS_USER}");
        }
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("run chpasswd");
        {
            use std::io::Write;
            let mut stdin = chpasswd.stdin.take().expect("stdin");
            writeln!(stdin, "{SOCKS_USER}:{SOCKS_PASSWORD}").expect("write chpasswd");
        }
        assert!(chpasswd.wait().expect("chpasswd").success(), "chpasswd");
    });
}

/// dante, a SOCKS5 proxy. With `username`, only user/password
/// authentication ([`SOCKS_USER`]) is accepted.
pub struct Dante {
    pub server: Server,
    pub port: u16,
}

impl Dante {
    pub fn start(username: bool) -> Dante {
        if username {
            ensure_socks_user();
        }
        let dir = temp_dir("dante");
        let port = free_port();
        let config = format!(
            "logoutput: stderr\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
             socksmethod: {}\nclientmethod: none\nuser.privileged: root\nuser.unprivileged: nobody\n\
             client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
             socks pass {{ from: 127.0.0.0/8 to: 127.0.0.0/8 command: connect }}\n",
            if username { "username" } else { "none" }
        );
        let config_file = dir.join("danted.conf");
        fs::write(&config_file, config).expect("config");
        let mut command = Command::new("/usr/sbin/danted");
        command
            .arg("-f")
            .arg(&config_file)
            .arg("-p")
            .arg(dir.join("danted.pid"));
        Dante {
            server: Server::spawn(command, dir, "danted", &[port]),
            port,
        }
    }
}
