//! `setOption`: [`Options::set`], the one parser of option values, and the
//! parsers of single values it and `cloud.rs` use.

use std::path::PathBuf;
use std::time::Duration;

use super::{cloud, Options, TlsVersion, OPTION_NAMES};
use crate::error::Error;
use crate::log::LogLevel;
use crate::secret::Secret;
use crate::store::{FullPolicy, SyncPolicy};
use crate::tagjson::MAX_UTC_OFFSET_MINUTES;
use crate::topic::{check_mqtt_string, validate_topic, MAX_REMAINING_LENGTH};

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
}

pub(super) fn invalid(name: &'static str, reason: String) -> Error {
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
