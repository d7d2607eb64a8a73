//! Parsers for the options that reach cloud brokers (ALPN, WSPATH, PROXY,
//! SASKEY); kept beside `parse.rs` so that file holds only the switch and
//! the simple values.
//! Errors never repeat a value that may hold a secret.

use std::fmt;

use super::parse::invalid;
use crate::encoding::{base64_decode, percent_decode, Base64Error};
use crate::error::Error;
use crate::secret::Secret;

/// The WebSocket path when WSPATH is not set: Mosquitto's, HiveMQ's and
/// EMQX's default, and AWS IoT Core's.
pub const DEFAULT_WS_PATH: &str = "/mqtt";

/// How PROXY reaches the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// `http://`: an HTTP CONNECT tunnel.
    Http,
    /// `socks5://`: SOCKS5 (RFC 1928); the broker's name is resolved by the
    /// proxy, as with curl's `socks5h://`.
    Socks5,
}

impl ProxyKind {
    pub fn scheme(self) -> &'static str {
        match self {
            ProxyKind::Http => "http",
            ProxyKind::Socks5 => "socks5",
        }
    }
}

/// PROXY, parsed. The password is a secret; the user name is shown in no
/// error either, as it is part of the credentials.
#[derive(Clone)]
pub struct ProxyOptions {
    pub kind: ProxyKind,
    pub host: String,
    pub port: u16,
    pub credentials: Option<(String, Secret)>,
}

impl ProxyOptions {
    /// `http://host:port`, without the credentials: for messages and logs.
    pub fn display(&self) -> String {
        if self.host.contains(':') {
            format!("{}://[{}]:{}", self.kind.scheme(), self.host, self.port)
        } else {
            format!("{}://{}:{}", self.kind.scheme(), self.host, self.port)
        }
    }
}

impl fmt::Debug for ProxyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ProxyOptions({}{})",
            self.display(),
            if self.credentials.is_some() {
                ", with credentials"
            } else {
                ""
            }
        )
    }
}

const PROXY_FORM: &str =
    "expected http://[user:password@]host:port or socks5://[user:password@]host:port";

/// Parses PROXY. User and password may use `%XX` escapes for `@`, `:`
/// and `/`.
pub(super) fn parse_proxy(value: &str) -> Result<ProxyOptions, Error> {
    let fail = |why: &str| invalid("PROXY", format!("{why}; {PROXY_FORM}"));
    let value = value.trim();
    let (kind, rest) = if let Some(rest) = strip_prefix_ignore_case(value, "http://") {
        (ProxyKind::Http, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(value, "socks5://")
        .or_else(|| strip_prefix_ignore_case(value, "socks5h://"))
    {
        (ProxyKind::Socks5, rest)
    } else {
        let scheme = value.split("://").next().filter(|_| value.contains("://"));
        return Err(match scheme {
            Some(scheme) if scheme.eq_ignore_ascii_case("https") => fail("'https://' proxies (TLS to the proxy itself) are not supported; most proxies take http:// CONNECT"),
            Some(scheme) if scheme.len() <= 10 && scheme.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                fail(&format!("the scheme '{scheme}://' is not supported"))
            }
            _ => fail("no scheme"),
        });
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (credentials, address) = match rest.rfind('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    if address.contains('/') || address.contains('?') {
        return Err(fail("a path after host:port"));
    }
    let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
        let (host, port) = bracketed
            .split_once("]:")
            .ok_or_else(|| fail("no port after the IPv6 address"))?;
        (host, port)
    } else {
        address.rsplit_once(':').ok_or_else(|| fail("no port"))?
    };
    if host.is_empty() || host.contains(':') && !address.starts_with('[') {
        return Err(fail("no host, or an IPv6 address without [ ]"));
    }
    if host
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(fail("spaces or control characters in the host"));
    }
    let port = match port.parse::<u16>() {
        Ok(port) if port > 0 => port,
        _ => return Err(fail("the port is not a number from 1 to 65535")),
    };
    let credentials = match credentials {
        None => None,
        Some(text) => {
            let (user, password) = text.split_once(':').unwrap_or((text, ""));
            let user = percent_decode(user)
                .and_then(|user| String::from_utf8(user).ok())
                .ok_or_else(|| fail("the user name has a broken %-escape or is not UTF-8"))?;
            let password = Secret::new(
                percent_decode(password)
                    .ok_or_else(|| fail("the password has a broken %-escape"))?,
            );
            if user.is_empty() {
                return Err(fail("an empty user name before '@'"));
            }
            if kind == ProxyKind::Socks5 && (user.len() > 255 || password.expose().len() > 255) {
                return Err(fail(
                    "SOCKS5 allows at most 255 bytes each for user name and password",
                ));
            }
            Some((user, password))
        }
    };
    Ok(ProxyOptions {
        kind,
        host: host.to_owned(),
        port,
        credentials,
    })
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// Parses ALPN: comma-separated protocol names, 1 to 255 bytes each
/// (RFC 7301), printable ASCII.
pub(super) fn parse_alpn(value: &str) -> Result<Vec<String>, Error> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut protocols = Vec::new();
    for name in value.split(',').map(str::trim) {
        if name.is_empty() || name.len() > 255 {
            return Err(invalid(
                "ALPN",
                format!("'{value}' has an empty or too long protocol name; give comma-separated names such as \"x-amzn-mqtt-ca\""),
            ));
        }
        if !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                "ALPN",
                format!(
                    "protocol name '{name}' has spaces or characters that are not printable ASCII"
                ),
            ));
        }
        protocols.push(name.to_owned());
    }
    Ok(protocols)
}

/// Parses WSPATH: an absolute HTTP path, optionally with a query (AWS
/// IoT's signed URLs have one).
pub(super) fn parse_ws_path(value: &str) -> Result<String, Error> {
    let value = value.trim();
    if !value.starts_with('/') {
        return Err(invalid(
            "WSPATH",
            format!("'{value}' does not start with '/'; give the path of the WebSocket URL, such as \"/mqtt\""),
        ));
    }
    if value.len() > 2048 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "WSPATH",
            "the path has spaces, non-ASCII or control characters, or is longer than 2048 bytes; %-encode such characters".to_owned(),
        ));
    }
    Ok(value.to_owned())
}

/// Parses SASKEY, the device's base64 key from the Azure portal.
pub(super) fn parse_sas_key(value: &str) -> Result<Secret, Error> {
    let decoded = base64_decode(value.trim()).map_err(|e| {
        let why = match e {
            Base64Error::Character(at) => {
                format!(
                    "character {} is not base64 (A-Z, a-z, 0-9, +, /, =)",
                    at + 1
                )
            }
            Base64Error::Length(len) => {
                format!("{len} characters is not a length base64 text has (a multiple of 4)")
            }
            Base64Error::Padding => "'=' stands where base64 does not allow it".to_owned(),
        };
        invalid(
            "SASKEY",
            format!(
                "{why}; give the device's primary or secondary key as the Azure portal shows it"
            ),
        )
    })?;
    let key = Secret::new(decoded);
    if key.expose().is_empty() {
        return Err(invalid("SASKEY", "the key is empty".to_owned()));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls_of_both_kinds_parse_with_and_without_credentials() {
        let plain = parse_proxy("http://proxy.plant:3128").expect("http");
        assert_eq!(
            (plain.kind, plain.host.as_str(), plain.port),
            (ProxyKind::Http, "proxy.plant", 3128)
        );
        assert!(plain.credentials.is_none());

        let socks = parse_proxy("SOCKS5://gw%40site:p%3Ass@[::1]:1080/").expect("socks5");
        assert_eq!(
            (socks.kind, socks.host.as_str(), socks.port),
            (ProxyKind::Socks5, "::1", 1080)
        );
        let (user, password) = socks.credentials.as_ref().expect("credentials");
        assert_eq!(
            (user.as_str(), password.expose()),
            ("gw@site", &b"p:ss"[..])
        );
        assert_eq!(socks.display(), "socks5://[::1]:1080");
        assert!(!format!("{socks:?}").contains("p:ss"));
    }

    #[test]
    fn bad_proxy_urls_name_the_form_and_never_the_password() {
        for (value, why) in [
            ("proxy:3128", "no scheme"),
            ("ftp://proxy:21", "'ftp://' is not supported"),
            ("https://proxy:443", "not supported"),
            ("http://proxy", "no port"),
            ("http://u:hunter2@proxy:99999", "1 to 65535"),
            ("http://u:hunter2@proxy:80/path", "a path"),
            ("socks5://:hunter2@proxy:1080", "empty user name"),
        ] {
            let text = parse_proxy(value).expect_err(value).to_string();
            assert!(text.contains(why), "{value}: {text}");
            assert!(text.contains("http://[user:password@]host:port"), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }

    #[test]
    fn alpn_takes_comma_separated_names() {
        assert_eq!(
            parse_alpn("x-amzn-mqtt-ca, mqtt").expect("alpn"),
            vec!["x-amzn-mqtt-ca".to_owned(), "mqtt".to_owned()]
        );
        assert!(parse_alpn("").expect("empty").is_empty());
        assert!(parse_alpn("a,,b").is_err());
        assert!(parse_alpn("has space").is_err());
        assert!(parse_alpn(&"x".repeat(256)).is_err());
    }

    #[test]
    fn ws_path_must_be_an_absolute_printable_path() {
        assert_eq!(
            parse_ws_path("/$iothub/websocket").expect("azure"),
            "/$iothub/websocket"
        );
        assert!(parse_ws_path("mqtt")
            .expect_err("relative")
            .to_string()
            .contains("start with '/'"));
        assert!(parse_ws_path("/a b").is_err());
        assert!(parse_ws_path("/a\r\nHost: x").is_err());
    }

    #[test]
    fn sas_key_is_base64_and_errors_do_not_repeat_it() {
        let key = parse_sas_key("AAECAw==").expect("key");
        assert_eq!(key.expose(), &[0, 1, 2, 3]);
        for bad in ["secret!key==", "abc", ""] {
            let text = parse_sas_key(bad).expect_err(bad).to_string();
            assert!(text.contains("SASKEY"), "{text}");
            if !bad.is_empty() {
                assert!(!text.contains(bad), "{text}");
            }
        }
    }
}
