//! The options of `setOption(name, value)`: one parser, names
//! case-insensitive, every error naming the option and the accepted values.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::error::{ConnAckRefusal, ConnectError, Error};
use crate::log::LogLevel;
use crate::secret::Secret;
use crate::store::{FullPolicy, StoreConfig, SyncPolicy, DEFAULT_MAX_BYTES};
use crate::tagjson::MAX_UTC_OFFSET_MINUTES;
use crate::topic::{check_mqtt_string, validate_topic, MAX_REMAINING_LENGTH};

mod cloud;
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
            // 20 caps a gateway at 67 msg/s on a 300 ms cellular round trip;
            // 100 is also AWS IoT Core's limit (docs/performance.md).
            max_inflight: 100,
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
    /// Sets one option by its Flexy name (case-insensitive).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        match name.to_ascii_uppercase().as_str() {
            "PORT" => self.port = Some(parse_int("PORT", value, 1, 65535, "a port number")? as u16),
            "KEEPALIVE" => {
                self.keep_alive = seconds("KEEPALIVE", value, 0, 65535, "a number of seconds (0 turns keep-alive off)")?
            }
            "PROTOCOLVERSION" => match value.trim() {
                "3.1.1" | "4" => {}
                other => {
                    return Err(invalid(
                        "PROTOCOLVERSION",
                        format!("'{other}' is not supported; accepted: \"3.1.1\""),
                    ))
                }
            },
            "TLSVERSION" => {
                self.tls_version = match value.trim().to_ascii_lowercase().as_str() {
                    "tlsv1.2" => TlsVersion::Tls12,
                    "tlsv1.3" => TlsVersion::Tls13,
                    other => {
                        return Err(invalid(
                            "TLSVERSION",
                            format!("'{other}' is not accepted; accepted: \"tlsv1.2\" (certificates: TLS 1.2 or 1.3; TLS-PSK: TLS 1.2), \"tlsv1.3\" (TLS 1.3 only)"),
                        ))
                    }
                }
            }
            "CAFILE" => {
                self.check_not_psk("CAFILE")?;
                self.ca_file = path("CAFILE", value)?
            }
            "CERTFILE" => {
                self.check_not_psk("CERTFILE")?;
                self.cert_file = path("CERTFILE", value)?
            }
            "KEYFILE" => {
                self.check_not_psk("KEYFILE")?;
                self.key_file = path("KEYFILE", value)?
            }
            "KEYPASSWORD" => self.key_password = non_empty_secret(value),
            "TLSVERIFYHOSTNAME" => self.verify_hostname = flag("TLSVERIFYHOSTNAME", value)?,
            "USERNAME" => {
                check_mqtt_string("the user name", value)
                    .map_err(|reason| invalid("USERNAME", reason))?;
                self.username = Some(value.to_owned()).filter(|u| !u.is_empty())
            }
            "PASSWORD" => self.password = non_empty_secret(value),
            "WILLTOPIC" => {
                if value.is_empty() {
                    self.will_topic = None;
                } else {
                    validate_topic(value).map_err(|e| invalid("WILLTOPIC", e.to_string()))?;
                    self.will_topic = Some(value.to_owned());
                }
            }
            "WILLPAYLOAD" => {
                // CONNECT carries the will message with a 2-byte length.
                if value.len() > usize::from(u16::MAX) {
                    return Err(invalid(
                        "WILLPAYLOAD",
                        format!("is {} bytes long; MQTT 3.1.1 allows at most 65535", value.len()),
                    ));
                }
                self.will_payload = value.as_bytes().to_vec()
            }
            "WILLQOS" => self.will_qos = parse_int("WILLQOS", value, 0, 2, "a QoS")? as u8,
            "WILLRETAIN" => self.will_retain = flag("WILLRETAIN", value)?,
            "CLEANSESSION" => self.clean_session = flag("CLEANSESSION", value)?,
            "MAXINFLIGHT" => {
                self.max_inflight =
                    parse_int("MAXINFLIGHT", value, 1, 65535, "a message count")? as u16
            }
            "LOG" => {
                let level = parse_int("LOG", value, 0, 4, "a level: 0 off, 1 error, 2 warning, 3 info, 4 debug")?;
                self.log_level = LogLevel::from_u8(level as u8).unwrap_or(LogLevel::Debug);
            }
            "CONNECTTIMEOUT" => {
                self.connect_timeout = seconds("CONNECTTIMEOUT", value, 1, 3600, "seconds")?
            }
            "RECONNECTMIN" => {
                self.reconnect_min = seconds("RECONNECTMIN", value, 0, 86400, "seconds")?
            }
            "RECONNECTMAX" => {
                self.reconnect_max = seconds("RECONNECTMAX", value, 1, 86400, "seconds")?
            }
            "PSK" => {
                self.check_no_certificates("PSK")?;
                self.psk_key = Some(parse_psk_key(value)?);
            }
            "PSK-IDENTITY" => {
                self.check_no_certificates("PSK-IDENTITY")?;
                if value.is_empty() || value.len() > 128 {
                    return Err(invalid(
                        "PSK-IDENTITY",
                        format!("must be 1 to 128 bytes of UTF-8, got {} bytes", value.len()),
                    ));
                }
                // Sent as a C string, and a line of the broker's psk_file:
                // no NUL, no control or non-characters.
                check_mqtt_string("the identity", value)
                    .map_err(|reason| invalid("PSK-IDENTITY", reason))?;
                self.psk_identity = Some(value.to_owned());
            }
            "PSK-CIPHERS" => {
                if value.trim().is_empty() {
                    return Err(invalid(
                        "PSK-CIPHERS",
                        "empty; give an OpenSSL cipher list such as \"PSK-AES128-GCM-SHA256\"".to_owned(),
                    ));
                }
                self.psk_ciphers = Some(value.trim().to_owned());
            }
            "STOREDIR" => self.store_dir = path("STOREDIR", value)?,
            "STORESYNC" => {
                self.store_sync = match value.trim().to_ascii_lowercase().as_str() {
                    "always" => SyncPolicy::Always,
                    "batch" => SyncPolicy::Batch,
                    other => {
                        return Err(invalid(
                            "STORESYNC",
                            format!("'{other}' is not accepted; accepted: \"always\" (fsync before publish returns), \"batch\" (fsync every 100 ms)"),
                        ))
                    }
                }
            }
            "STOREMAXBYTES" => {
                self.store_max_bytes = match value.trim().parse::<u64>() {
                    Ok(bytes) if (4096..=(1 << 40)).contains(&bytes) => bytes,
                    _ => {
                        return Err(invalid(
                            "STOREMAXBYTES",
                            format!("'{value}' is not a size in bytes (4096-1099511627776)"),
                        ))
                    }
                }
            }
            "STOREFULL" => {
                self.store_full = match value.trim().to_ascii_lowercase().as_str() {
                    "reject" => FullPolicy::Reject,
                    "dropoldest" => FullPolicy::DropOldest,
                    other => {
                        return Err(invalid(
                            "STOREFULL",
                            format!("'{other}' is not accepted; accepted: \"reject\" (publish throws), \"dropoldest\" (the oldest messages are dropped and counted)"),
                        ))
                    }
                }
            }
            "MAXPAYLOAD" => {
                self.max_payload = parse_int(
                    "MAXPAYLOAD",
                    value,
                    1,
                    MAX_REMAINING_LENGTH as u32,
                    "a payload size in bytes",
                )? as usize
            }
            "TAGTIMEOFFSET" => {
                self.tag_time_offset_minutes = match value.trim().parse::<i32>() {
                    Ok(minutes) if minutes.unsigned_abs() <= MAX_UTC_OFFSET_MINUTES.unsigned_abs() => minutes,
                    _ => {
                        return Err(invalid(
                            "TAGTIMEOFFSET",
                            format!("'{value}' is not an offset from UTC in minutes (-{MAX_UTC_OFFSET_MINUTES}-{MAX_UTC_OFFSET_MINUTES})"),
                        ))
                    }
                }
            }
            "ALPN" => self.alpn = cloud::parse_alpn(value)?,
            "TRANSPORT" => {
                self.websocket = match value.trim().to_ascii_lowercase().as_str() {
                    "tcp" => false,
                    "websocket" => true,
                    other => {
                        return Err(invalid(
                            "TRANSPORT",
                            format!("'{other}' is not accepted; accepted: \"tcp\" (MQTT on TCP, TLS or TLS-PSK), \"websocket\" (MQTT in WebSocket frames; wss when CAFILE or PSK is set)"),
                        ))
                    }
                }
            }
            "WSPATH" => {
                self.ws_path = if value.trim().is_empty() {
                    None
                } else {
                    Some(cloud::parse_ws_path(value)?)
                }
            }
            "PROXY" => {
                self.proxy = if value.trim().is_empty() {
                    None
                } else {
                    Some(cloud::parse_proxy(value)?)
                }
            }
            "SASKEY" => {
                self.sas_key = if value.trim().is_empty() {
                    None
                } else {
                    Some(cloud::parse_sas_key(value)?)
                }
            }
            "SASTTL" => self.sas_ttl = Some(seconds("SASTTL", value, 60, 31_536_000, "a token lifetime in seconds")?),
            _ => {
                return Err(Error::UnknownOption {
                    name: name.to_owned(),
                    accepted: OPTION_NAMES.join(", "),
                })
            }
        }
        Ok(())
    }

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

fn invalid(name: &'static str, reason: String) -> Error {
    Error::InvalidOption { name, reason }
}

fn parse_int(
    name: &'static str,
    value: &str,
    min: u32,
    max: u32,
    what: &str,
) -> Result<u32, Error> {
    match value.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            name,
            format!("'{value}' is not {what} ({min}-{max})"),
        )),
    }
}

fn seconds(
    name: &'static str,
    value: &str,
    min: u32,
    max: u32,
    what: &str,
) -> Result<Duration, Error> {
    parse_int(name, value, min, max, what).map(|s| Duration::from_secs(u64::from(s)))
}

fn flag(name: &'static str, value: &str) -> Result<bool, Error> {
    match value.trim() {
        "1" => Ok(true),
        "0" => Ok(false),
        other => Err(invalid(
            name,
            format!("'{other}' is not accepted; accepted: \"0\", \"1\""),
        )),
    }
}

fn path(name: &'static str, value: &str) -> Result<Option<PathBuf>, Error> {
    if value.contains('\0') {
        return Err(invalid(
            name,
            "the path contains a NUL character".to_owned(),
        ));
    }
    Ok(Some(PathBuf::from(value)).filter(|p| !p.as_os_str().is_empty()))
}

fn non_empty_secret(value: &str) -> Option<Secret> {
    Some(Secret::new(value.as_bytes().to_vec())).filter(|s| !s.expose().is_empty())
}

/// Parses the hex key of Mosquitto's `psk_file` (`identity:hexkey`). The
/// error never repeats the value: it is a secret.
fn parse_psk_key(value: &str) -> Result<Secret, Error> {
    let hex = value.trim().as_bytes();
    if hex.is_empty() || !hex.len().is_multiple_of(2) || hex.len() > 128 {
        return Err(invalid(
            "PSK",
            format!(
                "must be an even number of hex digits for a 1 to 64 byte key (as in a Mosquitto psk_file), got {} characters",
                hex.len()
            ),
        ));
    }
    let mut key = Vec::with_capacity(hex.len() / 2);
    for pair in hex.chunks(2) {
        match (hex_digit(pair[0]), hex_digit(pair[1])) {
            (Some(high), Some(low)) => key.push(high << 4 | low),
            _ => {
                // Wipe the part already decoded before reporting.
                drop(Secret::new(key));
                return Err(invalid(
                    "PSK",
                    "contains a character that is not a hex digit (0-9, a-f, A-F)".to_owned(),
                ));
            }
        }
    }
    Ok(Secret::new(key))
}

fn hex_digit(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(options: &mut Options, name: &str, value: &str) -> Result<(), Error> {
        options.set(name, value)
    }

    #[test]
    fn names_are_case_insensitive() {
        let mut options = Options::default();
        set(&mut options, "port", "1884").expect("port");
        set(&mut options, "KeepAlive", "15").expect("keepalive");
        assert_eq!(options.port(), 1884);
        assert_eq!(options.keep_alive, Duration::from_secs(15));
    }

    #[test]
    fn unknown_option_lists_the_accepted_names() {
        let err = Options::default().set("PROT", "1").expect_err("unknown");
        let text = err.to_string();
        assert!(text.contains("unknown option 'PROT'"), "{text}");
        assert!(
            text.contains("PORT") && text.contains("PSK-IDENTITY"),
            "{text}"
        );
    }

    #[test]
    fn bad_values_name_the_option_and_the_accepted_range() {
        let cases = [
            ("PORT", "0", "PORT", "(1-65535)"),
            ("PORT", "70000", "PORT", "(1-65535)"),
            ("PORT", "abc", "PORT", "'abc'"),
            ("KEEPALIVE", "-1", "KEEPALIVE", "(0-65535)"),
            ("MAXINFLIGHT", "0", "MAXINFLIGHT", "(1-65535)"),
            ("WILLQOS", "3", "WILLQOS", "(0-2)"),
            ("CLEANSESSION", "yes", "CLEANSESSION", "\"0\", \"1\""),
            ("TLSVERSION", "tlsv1.1", "TLSVERSION", "\"tlsv1.2\""),
            ("PROTOCOLVERSION", "5", "PROTOCOLVERSION", "\"3.1.1\""),
            ("LOG", "9", "LOG", "0 off"),
            ("CONNECTTIMEOUT", "0", "CONNECTTIMEOUT", "(1-3600)"),
            ("WILLTOPIC", "a/#", "WILLTOPIC", "wildcard"),
            ("STORESYNC", "sometimes", "STORESYNC", "\"batch\""),
            ("STOREFULL", "wait", "STOREFULL", "\"dropoldest\""),
            ("STOREMAXBYTES", "10", "STOREMAXBYTES", "(4096-"),
            ("TAGTIMEOFFSET", "2000", "TAGTIMEOFFSET", "(-1440-1440)"),
            ("MAXPAYLOAD", "0", "MAXPAYLOAD", "(1-268435455)"),
            ("MAXPAYLOAD", "268435456", "MAXPAYLOAD", "(1-268435455)"),
            ("WILLTOPIC", "dead/\u{1}", "WILLTOPIC", "U+0001"),
            ("WILLTOPIC", "dead/\u{85}", "WILLTOPIC", "U+0085"),
            ("PSK-IDENTITY", "gw\0x", "PSK-IDENTITY", "U+0000"),
            ("PSK-IDENTITY", "gw\u{ffff}", "PSK-IDENTITY", "U+FFFF"),
            ("USERNAME", "plant\u{7f}", "USERNAME", "U+007F"),
        ];
        for (name, value, expect_name, expect_text) in cases {
            let err = Options::default().set(name, value).expect_err(name);
            let text = err.to_string();
            assert!(
                matches!(err, Error::InvalidOption { name, .. } if name == expect_name),
                "{text}"
            );
            assert!(text.contains(expect_text), "{name}={value}: {text}");
        }
    }

    #[test]
    fn maxpayload_defaults_to_the_protocol_limit_and_takes_smaller_brokers_limits() {
        assert_eq!(Options::default().max_payload, 268_435_455);
        let mut options = Options::default();
        set(&mut options, "MAXPAYLOAD", "131072").expect("AWS IoT Core's limit");
        assert_eq!(options.max_payload, 131_072);
        set(&mut options, "maxpayload", "268435455").expect("the protocol limit");
        assert_eq!(options.max_payload, 268_435_455);
        assert!(OPTION_NAMES.contains(&"MAXPAYLOAD"));
    }

    #[test]
    fn willpayload_longer_than_65535_bytes_is_refused() {
        let mut options = Options::default();
        set(&mut options, "WILLPAYLOAD", &"x".repeat(65535)).expect("the limit");
        let err = options
            .set("WILLPAYLOAD", &"x".repeat(65536))
            .expect_err("over");
        assert!(err.to_string().contains("65536 bytes"), "{err}");
    }

    #[test]
    fn port_defaults_to_8883_with_tls_or_psk_and_1883_without() {
        let mut options = Options::default();
        assert_eq!(options.port(), 1883);
        set(&mut options, "CAFILE", "/tmp/ca.pem").expect("cafile");
        assert_eq!(options.port(), 8883);

        let mut psk = Options::default();
        set(&mut psk, "PSK", "00ff").expect("psk");
        set(&mut psk, "PSK-IDENTITY", "flexy").expect("identity");
        assert_eq!(psk.port(), 8883);
        set(&mut psk, "PORT", "18883").expect("port");
        assert_eq!(psk.port(), 18883);
    }

    #[test]
    fn psk_is_parsed_from_hex_and_never_echoed_in_errors() {
        let mut options = Options::default();
        set(&mut options, "PSK", "DEADbeef").expect("psk");
        set(&mut options, "PSK-IDENTITY", "gw1").expect("identity");
        let psk = options.psk().expect("psk set");
        assert_eq!(psk.key.expose(), &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(psk.ciphers, DEFAULT_PSK_CIPHERS);

        for bad in ["abc", "", "zz11", &"00".repeat(65)] {
            let text = Options::default()
                .set("PSK", bad)
                .expect_err(bad)
                .to_string();
            assert!(text.contains("PSK"), "{text}");
            if bad.len() > 2 {
                assert!(!text.contains(bad), "error repeats the secret: {text}");
            }
        }
        assert!(!format!("{options:?}").contains("deadbeef"));
    }

    #[test]
    fn psk_needs_both_parts_and_excludes_certificates() {
        let mut only_key = Options::default();
        set(&mut only_key, "PSK", "0011").expect("psk");
        assert!(only_key
            .validate()
            .expect_err("half")
            .to_string()
            .contains("PSK-IDENTITY is not"));

        let mut only_identity = Options::default();
        set(&mut only_identity, "PSK-IDENTITY", "id").expect("identity");
        assert!(only_identity.validate().is_err());

        let mut both = Options::default();
        set(&mut both, "CAFILE", "/tmp/ca.pem").expect("cafile");
        assert!(matches!(
            both.set("PSK", "0011"),
            Err(Error::ConflictingOptions(_))
        ));
        let mut reverse = Options::default();
        set(&mut reverse, "PSK-IDENTITY", "id").expect("identity");
        assert!(matches!(
            reverse.set("CERTFILE", "/c.pem"),
            Err(Error::ConflictingOptions(_))
        ));
    }

    #[test]
    fn validate_catches_options_that_need_each_other() {
        let mut cert_without_ca = Options::default();
        set(&mut cert_without_ca, "CERTFILE", "/c.pem").expect("cert");
        set(&mut cert_without_ca, "KEYFILE", "/k.pem").expect("key");
        assert!(cert_without_ca
            .validate()
            .expect_err("no ca")
            .to_string()
            .contains("CAFILE"));

        let mut password_only = Options::default();
        set(&mut password_only, "PASSWORD", "pw").expect("pw");
        assert!(password_only
            .validate()
            .expect_err("no user")
            .to_string()
            .contains("USERNAME"));

        let mut key_password_only = Options::default();
        set(&mut key_password_only, "KEYPASSWORD", "pw").expect("keypassword");
        assert!(key_password_only
            .validate()
            .expect_err("no key")
            .to_string()
            .contains("KEYFILE"));

        let mut ciphers_only = Options::default();
        set(&mut ciphers_only, "PSK-CIPHERS", "PSK-AES128-GCM-SHA256").expect("ciphers");
        assert!(ciphers_only
            .validate()
            .expect_err("no psk")
            .to_string()
            .contains("PSK is not"));

        let mut will_qos_only = Options::default();
        set(&mut will_qos_only, "WILLQOS", "1").expect("qos");
        assert!(will_qos_only
            .validate()
            .expect_err("no topic")
            .to_string()
            .contains("WILLTOPIC"));

        let mut ok = Options::default();
        set(&mut ok, "WILLTOPIC", "dead/gw1").expect("topic");
        set(&mut ok, "WILLPAYLOAD", "offline").expect("payload");
        set(&mut ok, "WILLQOS", "1").expect("qos");
        set(&mut ok, "WILLRETAIN", "1").expect("retain");
        ok.validate().expect("valid");
        let will = ok.will().expect("will");
        assert_eq!(
            (
                will.topic.as_str(),
                will.payload.as_slice(),
                will.qos,
                will.retain
            ),
            ("dead/gw1", &b"offline"[..], 1, true)
        );
    }

    #[test]
    fn cloud_options_that_need_each_other_are_named() {
        let cases: [(&[(&str, &str)], &str); 4] = [
            (
                &[("ALPN", "x-amzn-mqtt-ca")],
                "ALPN is set but neither CAFILE nor PSK is",
            ),
            (
                &[("WSPATH", "/ws")],
                "WSPATH is set but TRANSPORT is not websocket",
            ),
            (
                &[("SASKEY", "AAECAw=="), ("USERNAME", "u"), ("PASSWORD", "p")],
                "SASKEY and PASSWORD are both set",
            ),
            (&[("SASTTL", "600")], "SASTTL is set but SASKEY is not"),
        ];
        for (settings, words) in cases {
            let mut options = Options::default();
            for (name, value) in settings {
                set(&mut options, name, value).expect(name);
            }
            let text = options.validate().expect_err(words).to_string();
            assert!(text.contains(words), "{text}");
        }
        for (name, value, words) in [
            ("TRANSPORT", "ws", "\"websocket\""),
            ("SASTTL", "30", "(60-31536000)"),
            ("SASTTL", "31536001", "(60-31536000)"),
        ] {
            let text = Options::default()
                .set(name, value)
                .expect_err(name)
                .to_string();
            assert!(text.contains(words), "{text}");
        }
    }

    #[test]
    fn websocket_port_defaults_to_80_or_443_with_tls() {
        let mut options = Options::default();
        set(&mut options, "TRANSPORT", "WebSocket").expect("transport");
        assert_eq!((options.port(), options.ws_path()), (80, "/mqtt"));
        set(&mut options, "CAFILE", "/tmp/ca.pem").expect("cafile");
        assert_eq!(options.port(), 443);
        set(&mut options, "TRANSPORT", "tcp").expect("transport");
        assert_eq!(options.port(), 8883);
    }

    #[test]
    fn credentials_are_username_and_password_without_saskey() {
        let mut options = Options::default();
        let now = SystemTime::now();
        assert!(options.credentials("gw", "h", now).expect("none").is_none());
        set(&mut options, "USERNAME", "user").expect("user");
        set(&mut options, "PASSWORD", "pw").expect("pw");
        let (user, password) = options
            .credentials("gw", "h", now)
            .expect("ok")
            .expect("some");
        assert_eq!((user.as_str(), password.expose()), ("user", &b"pw"[..]));
        assert_eq!(options.session_lifetime(), None);
    }

    #[test]
    fn saskey_makes_the_login_and_a_session_lifetime_of_80_percent() {
        let mut options = Options::default();
        set(&mut options, "SASKEY", "AAECAw==").expect("key");
        assert_eq!(options.session_lifetime(), Some(Duration::from_secs(2880)));
        set(&mut options, "SASTTL", "60").expect("ttl");
        assert_eq!(options.session_lifetime(), Some(Duration::from_secs(48)));
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (user, token) = options
            .credentials("gw1", "hub.azure-devices.net", now)
            .expect("ok")
            .expect("some");
        assert_eq!(user, "hub.azure-devices.net/gw1/?api-version=2021-04-12");
        let token = String::from_utf8(token.expose().to_vec()).expect("utf-8");
        assert!(
            token
                .starts_with("SharedAccessSignature sr=hub.azure-devices.net%2Fdevices%2Fgw1&sig="),
            "{token}"
        );
        assert!(token.ends_with("&se=1700000060"), "{token}");
        assert!(
            !format!("{options:?}").contains("AAECAw"),
            "the key leaks into Debug"
        );
        assert!(options
            .explain_login_refusal(ConnAckRefusal::NotAuthorized, now)
            .is_some());
        assert!(options
            .explain_login_refusal(ConnAckRefusal::IdentifierRejected, now)
            .is_none());
    }
}
