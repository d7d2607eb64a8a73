//! The two text encodings the cloud transports need: base64 (RFC 4648,
//! standard alphabet with padding: SAS keys and signatures, HTTP Basic
//! authentication, WebSocket keys) and URL encoding as Python's
//! `urllib.parse.quote_plus` does it (the SharedAccessSignature fields).
//! A few dozen lines each, so no crate is pulled in for them.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `data` as base64 with `=` padding.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Why a base64 text was refused. Carries no part of the text: it may be a
/// secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base64Error {
    /// A character outside the base64 alphabet, at this position.
    Character(usize),
    /// The length (without spaces) is not a multiple of 4.
    Length(usize),
    /// `=` somewhere other than the last one or two places.
    Padding,
}

/// Decodes standard base64; the padding is required, as Azure and AWS
/// print their keys with it. The result is returned in a wiped-on-drop
/// buffer by the callers that decode secrets.
pub(crate) fn base64_decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return Err(Base64Error::Length(bytes.len()));
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.len() / 4;
    for (index, chunk) in bytes.chunks(4).enumerate() {
        let last = index + 1 == chunks;
        let padding = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if padding > 2 || (padding > 0 && !last) {
            return Err(Base64Error::Padding);
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let value = if i >= 4 - padding {
                0
            } else {
                match c {
                    b'A'..=b'Z' => c - b'A',
                    b'a'..=b'z' => c - b'a' + 26,
                    b'0'..=b'9' => c - b'0' + 52,
                    b'+' => 62,
                    b'/' => 63,
                    _ => return Err(Base64Error::Character(index * 4 + i)),
                }
            };
            n = n << 6 | u32::from(value);
        }
        let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&decoded[..3 - padding]);
    }
    Ok(out)
}

/// URL-encodes like Python's `urllib.parse.quote_plus`, which Microsoft's
/// SAS token samples use: letters, digits and `_.-~` stay, a space becomes
/// `+`, every other byte becomes `%XX` with upper-case hex (so `/` is
/// `%2F` and `=` is `%3D`).
pub(crate) fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for &byte in text.as_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 15)]));
            }
        }
    }
    out
}

/// Decodes `%XX` escapes (user names and passwords in a PROXY URL may
/// need them for `@`, `:` or `/`). `None` for a broken escape.
pub(crate) fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let high = (hex[0] as char).to_digit(16)?;
            let low = (hex[1] as char).to_digit(16)?;
            out.push((high << 4 | low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors of RFC 4648, section 10.
    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), encoded);
            assert_eq!(
                base64_decode(encoded).expect(encoded),
                plain.as_bytes(),
                "{encoded}"
            );
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(
            base64_decode(&base64_encode(&all)).expect("round trip"),
            all
        );
    }

    #[test]
    fn base64_refuses_broken_text_without_repeating_it() {
        assert_eq!(base64_decode("abc"), Err(Base64Error::Length(3)));
        assert_eq!(base64_decode("ab!d"), Err(Base64Error::Character(2)));
        assert_eq!(base64_decode("a==="), Err(Base64Error::Padding));
        assert_eq!(base64_decode("ab==abcd"), Err(Base64Error::Padding));
    }

    #[test]
    fn url_encoding_is_that_of_quote_plus() {
        assert_eq!(
            url_encode("hub.azure-devices.net/devices/gw 1"),
            "hub.azure-devices.net%2Fdevices%2Fgw+1"
        );
        assert_eq!(url_encode("a+b/c=d~_"), "a%2Bb%2Fc%3Dd~_");
        assert_eq!(url_encode("é"), "%C3%A9");
    }

    #[test]
    fn percent_decoding_handles_escapes_and_refuses_broken_ones() {
        assert_eq!(
            percent_decode("p%40ss%3Aword").as_deref(),
            Some(&b"p@ss:word"[..])
        );
        assert_eq!(percent_decode("plain").as_deref(), Some(&b"plain"[..]));
        assert_eq!(percent_decode("bad%4"), None);
        assert_eq!(percent_decode("bad%zz"), None);
    }
}
