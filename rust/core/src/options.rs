//! The options of `setOption(name, value)`: one parser, names
//! case-insensitive, every error naming the option and the accepted values.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::error::{ConnAckRefusal, ConnectError, Error};
use crate::log::LogLevel;
use crate::secret::Secret;
use crate::store::{FullPolicy, StoreConfig, SyncPolicy, DEFAULT_MAX_BYTES};
use crate::topic::MAX_REMAINING_LENGTH;

mod cloud;
mod parse;

pub use cloud::{ProxyKind, ProxyOptions, DEFAULT_WS_PATH};

/// The default cipher list for TLS-PSK: the fast suites first (see docs/psk.md).
pub const DEFAULT_PSK_CIPHERS: &str =
    "ECDHE-PSK-CHACHA20-POLY1305:PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:ECDHE-PSK-AES128-CBC-SHA256";

/// Every option name, as listed in errors and docs/options.md.
pub const OPTION_NAMES: &[&str] = &[
    "PORT",
    "KEEPALIVE",
    "PROTOCOLVERSION",
    "TLSVERSION",
    "CAFILE",
    "CERTFILE",
    "KEYFILE",
    "KEYPASSWORD",
    "TLSVERIFYHOSTNAME",
    "USERNAME",
    "PASSWORD",
    "WILLTOPIC",
    "WILLPAYLOAD",
    "WILLQOS",
    "WILLRETAIN",
    "CLEANSESSION",
    "MAXINFLIGHT",
    "LOG",
    "CONNECTTIMEOUT",
    "RECONNECTMIN",
    "RECONNECTMAX",
    "PSK",
    "PSK-IDENTITY",
    "PSK-CIPHERS",
    "TAGTIMEOFFSET",
    "STOREDIR",
    "STORESYNC",
    "STOREMAXBYTES",
    "STOREFULL",
    "ALPN",
    "TRANSPORT",
    "WSPATH",
    "PROXY",
    "SASKEY",
    "SASTTL",
    "MAXPAYLOAD",
];

/// SASTTL when not set: one hour, as Azure's device SDKs use.
pub const DEFAULT_SAS_TTL: Duration = Duration::from_secs(3600);

/// The lowest TLS version to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// "tlsv1.2": TLS 1.2 or 1.3.
    Tls12,
    /// "tlsv1.3": TLS 1.3 only.
    Tls13,
}

/// TLS-PSK settings: both parts are required together.
#[derive(Debug, Clone)]
pub struct PskOptions {
    pub identity: String,
    pub key: Secret,
    pub ciphers: String,
}

/// The will message the broker publishes when the client dies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

/// A client's configuration. Build with [`Options::set`]; check with
/// [`Options::validate`] before connecting.
#[derive(Debug, Clone)]
pub struct Options {
    port: Option<u16>,
    pub keep_alive: Duration,
    pub tls_version: TlsVersion,
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub key_password: Option<Secret>,
    pub verify_hostname: bool,
    pub username: Option<String>,
    pub password: Option<Secret>,
    will_topic: Option<String>,
    will_payload: Vec<u8>,
    will_qos: u8,
    will_retain: bool,
    pub clean_session: bool,
    pub max_inflight: u16,
    pub log_level: LogLevel,
    pub connect_timeout: Duration,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    psk_key: Option<Secret>,
    psk_identity: Option<String>,
    psk_ciphers: Option<String>,
    /// Minutes added to tag times by `publishTags` (TAGTIMEOFFSET).
    pub tag_time_offset_minutes: i32,
    /// STOREDIR: makes the offline queue durable when set.
    pub store_dir: Option<PathBuf>,
    pub store_sync: SyncPolicy,
    pub store_max_bytes: u64,
    pub store_full: FullPolicy,
    /// ALPN: protocol names offered in the TLS handshake.
    pub alpn: Vec<String>,
    /// TRANSPORT websocket: MQTT in WebSocket frames.
    pub websocket: bool,
    ws_path: Option<String>,
    pub proxy: Option<ProxyOptions>,
    sas_key: Option<Secret>,
    sas_ttl: Option<Duration>,
    /// MAXPAYLOAD: publish() refuses larger payloads (bytes). Defaults to
    /// the protocol's limit; lower it for brokers with a smaller one.
    pub max_payload: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            port: None,
            keep_alive: Duration::from_secs(60),
            tls_version: TlsVersion::Tls12,
            ca_file: None,
            cert_file: None,
            key_file: None,
            key_password: None,
            verify_hostname: true,
            username: None,
            password: None,
            will_topic: None,
            will_payload: Vec::new(),
            will_qos: 0,
            will_retain: false,
            clean_session: true,
            // Mosquitto 2.0 loses QoS 2 messages from a client with more
            // than its own max_inflight_messages (20) in flight; see
            // docs/performance.md for when to raise it (cellular, QoS 1).
            max_inflight: 20,
            log_level: LogLevel::Off,
            connect_timeout: Duration::from_secs(30),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            psk_key: None,
            psk_identity: None,
            psk_ciphers: None,
            tag_time_offset_minutes: 0,
            store_dir: None,
            store_sync: SyncPolicy::Always,
            store_max_bytes: DEFAULT_MAX_BYTES,
            store_full: FullPolicy::Reject,
            alpn: Vec::new(),
            websocket: false,
            ws_path: None,
            proxy: None,
            sas_key: None,
            sas_ttl: None,
            max_payload: MAX_REMAINING_LENGTH,
        }
    }
}

impl Options {
    /// Checks what single `set` calls cannot: options that need each other.
    pub fn validate(&self) -> Result<(), Error> {
        match (&self.psk_key, &self.psk_identity) {
            (Some(_), None) => {
                return Err(Error::ConflictingOptions(
                    "PSK is set but PSK-IDENTITY is not; TLS-PSK needs both".to_owned(),
                ))
            }
            (None, Some(_)) => {
                return Err(Error::ConflictingOptions(
                    "PSK-IDENTITY is set but PSK is not; TLS-PSK needs both".to_owned(),
                ))
            }
            _ => {}
        }
        if self.ca_file.is_none() && (self.cert_file.is_some() || self.key_file.is_some()) {
            return Err(Error::ConflictingOptions(
                "CERTFILE/KEYFILE are set but CAFILE is not; certificate TLS verifies the broker against the CA in CAFILE".to_owned(),
            ));
        }
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(Error::ConflictingOptions(
                "a client certificate needs both CERTFILE and KEYFILE".to_owned(),
            ));
        }
        if self.key_password.is_some() && self.key_file.is_none() {
            return Err(Error::ConflictingOptions(
                "KEYPASSWORD is set but KEYFILE is not; KEYPASSWORD decrypts KEYFILE".to_owned(),
            ));
        }
        if self.psk_ciphers.is_some() && self.psk_key.is_none() {
            return Err(Error::ConflictingOptions(
                "PSK-CIPHERS is set but PSK is not; the cipher list applies to TLS-PSK only"
                    .to_owned(),
            ));
        }
        if self.password.is_some() && self.username.is_none() {
            return Err(Error::ConflictingOptions(
                "PASSWORD is set but USERNAME is not; MQTT 3.1.1 sends a password only with a user name".to_owned(),
            ));
        }
        if self.will_topic.is_none()
            && (!self.will_payload.is_empty() || self.will_qos != 0 || self.will_retain)
        {
            return Err(Error::ConflictingOptions(
                "WILLPAYLOAD/WILLQOS/WILLRETAIN are set but WILLTOPIC is not".to_owned(),
            ));
        }
        if !self.alpn.is_empty() && !self.uses_tls() {
            return Err(Error::ConflictingOptions(
                "ALPN is set but neither CAFILE nor PSK is; ALPN is offered in the TLS handshake"
                    .to_owned(),
            ));
        }
        if self.ws_path.is_some() && !self.websocket {
            return Err(Error::ConflictingOptions(
                "WSPATH is set but TRANSPORT is not websocket".to_owned(),
            ));
        }
        if self.sas_key.is_some() && self.password.is_some() {
            return Err(Error::ConflictingOptions(
                "SASKEY and PASSWORD are both set; with SASKEY the password is the SharedAccessSignature made from it: unset PASSWORD".to_owned(),
            ));
        }
        if self.sas_ttl.is_some() && self.sas_key.is_none() {
            return Err(Error::ConflictingOptions(
                "SASTTL is set but SASKEY is not; SASTTL is the lifetime of the token made from SASKEY".to_owned(),
            ));
        }
        if self.reconnect_min > self.reconnect_max {
            return Err(Error::ConflictingOptions(format!(
                "RECONNECTMIN ({} s) is larger than RECONNECTMAX ({} s)",
                self.reconnect_min.as_secs(),
                self.reconnect_max.as_secs()
            )));
        }
        Ok(())
    }

    /// The port: PORT, else 8883 with TLS or TLS-PSK, else 1883; with
    /// TRANSPORT websocket, 443 (wss) or 80 (ws) as in ws URLs.
    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or(match (self.websocket, self.uses_tls()) {
                (false, true) => 8883,
                (false, false) => 1883,
                (true, true) => 443,
                (true, false) => 80,
            })
    }

    /// The HTTP path of the WebSocket upgrade: WSPATH, else `/mqtt`.
    pub fn ws_path(&self) -> &str {
        self.ws_path.as_deref().unwrap_or(DEFAULT_WS_PATH)
    }

    /// The user name and password for CONNECT, made at each connection
    /// attempt: with SASKEY a SharedAccessSignature for
    /// `{host}/devices/{client_id}` valid for SASTTL from `now`, and
    /// USERNAME defaulting to `{host}/{client_id}/?api-version=2021-04-12`;
    /// without, USERNAME and PASSWORD as set. `None` without a user name.
    pub fn credentials(
        &self,
        client_id: &str,
        host: &str,
        now: SystemTime,
    ) -> Result<Option<(String, Secret)>, ConnectError> {
        let Some(key) = &self.sas_key else {
            return Ok(self.username.clone().map(|username| {
                let password = self
                    .password
                    .clone()
                    .unwrap_or_else(|| Secret::new(Vec::new()));
                (username, password)
            }));
        };
        let expiry = crate::sas::expiry(now, self.sas_ttl())?;
        let token = crate::sas::token(key, &crate::sas::resource_uri(host, client_id), expiry)?;
        let username = self
            .username
            .clone()
            .unwrap_or_else(|| crate::sas::username(host, client_id));
        Ok(Some((username, token)))
    }

    /// With SASKEY: how long a connection may last before the client
    /// reconnects with a new token, 80 % of SASTTL (the hub closes the
    /// connection when the token expires).
    pub fn session_lifetime(&self) -> Option<Duration> {
        self.sas_key.as_ref().map(|_| self.sas_ttl() * 4 / 5)
    }

    /// The words for a refused login: with SASKEY, the token and the clock
    /// are named; `None` leaves the CONNACK refusal as it is.
    pub fn explain_login_refusal(
        &self,
        refusal: ConnAckRefusal,
        now: SystemTime,
    ) -> Option<ConnectError> {
        let code = refusal.code();
        (self.sas_key.is_some() && (code == 4 || code == 5)).then(|| crate::sas::refused(code, now))
    }

    fn sas_ttl(&self) -> Duration {
        self.sas_ttl.unwrap_or(DEFAULT_SAS_TTL)
    }

    /// True when certificate TLS or TLS-PSK is configured.
    pub fn uses_tls(&self) -> bool {
        self.ca_file.is_some() || self.psk().is_some()
    }

    /// The TLS-PSK settings when both PSK and PSK-IDENTITY are set.
    pub fn psk(&self) -> Option<PskOptions> {
        match (&self.psk_key, &self.psk_identity) {
            (Some(key), Some(identity)) => Some(PskOptions {
                identity: identity.clone(),
                key: key.clone(),
                ciphers: self
                    .psk_ciphers
                    .clone()
                    .unwrap_or_else(|| DEFAULT_PSK_CIPHERS.to_owned()),
            }),
            _ => None,
        }
    }

    /// The durable store's configuration, when STOREDIR is set.
    pub fn store_config(&self, client_id: &str) -> Option<StoreConfig> {
        self.store_dir.as_ref().map(|dir| StoreConfig {
            dir: dir.clone(),
            client_id: client_id.to_owned(),
            max_bytes: self.store_max_bytes,
            sync: self.store_sync,
            full: self.store_full,
        })
    }

    /// The will, when WILLTOPIC is set.
    pub fn will(&self) -> Option<Will> {
        self.will_topic.as_ref().map(|topic| Will {
            topic: topic.clone(),
            payload: self.will_payload.clone(),
            qos: self.will_qos,
            retain: self.will_retain,
        })
    }

    fn check_not_psk(&self, name: &'static str) -> Result<(), Error> {
        if self.psk_key.is_some() || self.psk_identity.is_some() {
            return Err(Error::ConflictingOptions(format!(
                "{name} cannot be combined with PSK/PSK-IDENTITY: use certificates or a pre-shared key, not both"
            )));
        }
        Ok(())
    }

    fn check_no_certificates(&self, name: &'static str) -> Result<(), Error> {
        if self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some() {
            return Err(Error::ConflictingOptions(format!(
                "{name} cannot be combined with CAFILE/CERTFILE/KEYFILE: use certificates or a pre-shared key, not both"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
