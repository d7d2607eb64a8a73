//! Azure IoT Hub's SharedAccessSignature for a device (SASKEY), made fresh
//! for every connection attempt.
//!
//! As Microsoft documents it (IoT Hub developer guide, "Control access to
//! IoT Hub with shared access signatures"), for the resource URI
//! `{host}/devices/{deviceId}` and an expiry `se` in seconds since
//! 1970-01-01 UTC:
//!
//! ```text
//! sr  = url_encode(resource URI)
//! sig = base64(HMAC-SHA256(key = base64_decode(SASKEY), message = sr + "\n" + se))
//! password = "SharedAccessSignature sr={sr}&sig={url_encode(sig)}&se={se}"
//! ```
//!
//! with the URL encoding of Python's `urllib.parse.quote_plus`, which
//! Microsoft's sample uses. The user name is
//! `{host}/{deviceId}/?api-version=2021-04-12`.
//!
//! The HMAC runs in OpenSSL (already shipped for TLS-PSK) rather than in
//! ring: OpenSSL wipes its copies of the key when the context is freed,
//! while ring's HMAC key keeps the key-derived hash states in memory.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

use crate::encoding::{base64_encode, url_encode};
use crate::error::ConnectError;
use crate::secret::Secret;

/// The IoT Hub MQTT API version named in the user name.
pub const API_VERSION: &str = "2021-04-12";

/// 2020-01-01T00:00:00Z: a clock before this has certainly not been set.
const YEAR_2020: u64 = 1_577_836_800;

/// The user name IoT Hub expects from device `device_id` on hub `host`.
pub fn username(host: &str, device_id: &str) -> String {
    format!("{host}/{device_id}/?api-version={API_VERSION}")
}

/// The resource a device token grants access to.
pub fn resource_uri(host: &str, device_id: &str) -> String {
    format!("{host}/devices/{device_id}")
}

/// Seconds since 1970 at which a token made `now` with lifetime `ttl`
/// expires.
pub fn expiry(now: SystemTime, ttl: Duration) -> Result<u64, ConnectError> {
    let since_epoch = now.duration_since(UNIX_EPOCH).map_err(|_| {
        ConnectError::SasToken("the system clock is before 1970; set the clock (NTP)".to_owned())
    })?;
    Ok(since_epoch.as_secs() + ttl.as_secs())
}

/// The SharedAccessSignature for `resource_uri`, valid until `expiry`.
pub fn token(key: &Secret, resource_uri: &str, expiry: u64) -> Result<Secret, ConnectError> {
    let encoded_uri = url_encode(resource_uri);
    let to_sign = format!("{encoded_uri}\n{expiry}");
    let signature = hmac_sha256(key, to_sign.as_bytes())
        .map_err(|e| ConnectError::SasToken(format!("HMAC-SHA256 failed in OpenSSL: {e}")))?;
    let signature = url_encode(&base64_encode(&signature));
    Ok(Secret::new(
        format!("SharedAccessSignature sr={encoded_uri}&sig={signature}&se={expiry}").into_bytes(),
    ))
}

fn hmac_sha256(key: &Secret, message: &[u8]) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let key = PKey::hmac(key.expose())?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
    signer.update(message)?;
    signer.sign_to_vec()
}

/// What a refused SAS login (CONNACK `code`, 4 or 5) most likely means,
/// given the clock the token was made with.
pub fn refused(code: u8, now: SystemTime) -> ConnectError {
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let clock = (seconds < YEAR_2020).then(|| {
        let millis = i64::try_from(seconds).unwrap_or(0) * 1000;
        format!("{} UTC", crate::tagjson::format_time(millis, 0))
    });
    ConnectError::SasTokenRefused { code, clock }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Secret {
        Secret::new(b"0123456789abcdef0123456789abcdef".to_vec())
    }

    /// The signature of the documented string to sign, computed here with
    /// the `openssl dgst` command line as an independent HMAC.
    #[test]
    fn token_signs_the_url_encoded_uri_and_expiry() {
        let uri = resource_uri("hub.azure-devices.net", "gw 1/a");
        let made = token(&key(), &uri, 1_700_000_000).expect("token");
        let text = String::from_utf8(made.expose().to_vec()).expect("utf-8");
        let encoded_uri = "hub.azure-devices.net%2Fdevices%2Fgw+1%2Fa";
        let prefix = format!("SharedAccessSignature sr={encoded_uri}&sig=");
        assert!(text.starts_with(&prefix), "{text}");
        assert!(text.ends_with("&se=1700000000"), "{text}");

        let output = std::process::Command::new("openssl")
            .args([
                "dgst",
                "-sha256",
                "-binary",
                "-hmac",
                "0123456789abcdef0123456789abcdef",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                let mut stdin = child.stdin.take().expect("stdin");
                stdin.write_all(format!("{encoded_uri}\n1700000000").as_bytes())?;
                drop(stdin);
                child.wait_with_output()
            })
            .expect("openssl dgst");
        let expected = url_encode(&base64_encode(&output.stdout));
        assert_eq!(
            &text[prefix.len()..text.len() - "&se=1700000000".len()],
            expected
        );
    }

    #[test]
    fn username_names_hub_device_and_api_version() {
        assert_eq!(
            username("hub.azure-devices.net", "gw1"),
            "hub.azure-devices.net/gw1/?api-version=2021-04-12"
        );
    }

    #[test]
    fn refusal_names_a_clock_before_2020_as_the_likely_cause() {
        let in_2019 = UNIX_EPOCH + Duration::from_secs(1_546_300_800 + 86_400);
        let text = refused(5, in_2019).to_string();
        assert_eq!(
            text,
            "the broker refused the SharedAccessSignature made from SASKEY (CONNACK code 5): the likely cause is the system clock, which says 2019-01-02 00:00:00 UTC, before 2020 — the token's expiry is counted from it, so the hub sees a token that expired long ago; set the clock (NTP) and the next attempt makes a new token"
        );
        let now = SystemTime::now();
        let text = refused(4, now).to_string();
        assert!(text.contains("(CONNACK code 4): check SASKEY"), "{text}");
        assert!(!text.contains("clock"), "{text}");
    }
}
