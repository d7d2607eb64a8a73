//! The upgrade: the HTTP request that asks for a WebSocket, and the check of
//! the answer, whose refusals name the status, the body's first line and a
//! hint.

use super::WebSocketTransport;
use crate::encoding::base64_encode;
use crate::error::ConnectError;

/// The GUID of RFC 6455, section 1.3, for `Sec-WebSocket-Accept`.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The longest upgrade answer header accepted.
const MAX_ANSWER_HEADER: usize = 16 * 1024;
/// How much of a refused answer's body is waited for to name its first line.
const BODY_PEEK: usize = 2048;

impl WebSocketTransport {
    pub(super) fn queue_request(&mut self, key: &str) {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {target}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
            path = self.path,
            target = self.target,
        );
        self.out.extend_from_slice(request.as_bytes());
    }

    /// Checks the upgrade answer once its header is complete; `Ok(false)`
    /// while more of it is needed.
    pub(super) fn check_answer(&mut self, at_end: bool) -> Result<bool, ConnectError> {
        let unread = self.unread();
        let Some(header_len) = find(unread, b"\r\n\r\n").map(|i| i + 4) else {
            if at_end {
                return Err(ConnectError::WebSocket(format!(
                    "{} closed the connection before answering the upgrade request{}",
                    self.target,
                    if unread.is_empty() {
                        " (is this a WebSocket listener? with TLS, set CAFILE or PSK)"
                    } else {
                        ""
                    }
                )));
            }
            if unread.len() >= 5 && !unread.starts_with(b"HTTP/") {
                return Err(ConnectError::WebSocket(format!(
                    "{} did not answer the upgrade request with HTTP: is this port a WebSocket listener?",
                    self.target
                )));
            }
            if unread.len() > MAX_ANSWER_HEADER {
                return Err(ConnectError::WebSocket(
                    "the upgrade answer header is longer than 16 KiB".to_owned(),
                ));
            }
            return Ok(false);
        };
        let header = String::from_utf8_lossy(&unread[..header_len]).into_owned();
        let mut lines = header.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let _version = parts.next();
        let status = parts.next().and_then(|s| s.parse::<u16>().ok());
        let reason = printable(parts.next().unwrap_or("").trim());
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let header_value = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let Some(status) = status else {
            return Err(ConnectError::WebSocket(format!(
                "the upgrade answer has no HTTP status: '{}'",
                printable(status_line)
            )));
        };
        if status != 101 {
            let body = &unread[header_len..];
            let content_length =
                header_value("content-length").and_then(|v| v.parse::<usize>().ok());
            let chunked = header_value("transfer-encoding")
                .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
            let (line, complete) = first_body_line(body, chunked);
            let whole_body = content_length.is_some_and(|len| body.len() >= len);
            if !(complete || whole_body || at_end || body.len() >= BODY_PEEK) {
                return Ok(false);
            }
            return Err(ConnectError::WebSocketRefused {
                target: self.target.clone(),
                path: self.path.clone(),
                status,
                reason,
                body: line.filter(|l| !l.is_empty()),
                hint: match status {
                    404 => " (check WSPATH)",
                    400 | 426 => " (is this a WebSocket listener for MQTT?)",
                    401 | 403 => " (the server wants other credentials, or refuses this client)",
                    _ => "",
                },
            });
        }
        let fail = |why: String| Err(ConnectError::WebSocket(why));
        if !header_value("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
            return fail("the 101 answer lacks 'Upgrade: websocket'".to_owned());
        }
        if !header_value("connection").is_some_and(|v| {
            v.split(',')
                .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
        }) {
            return fail("the 101 answer lacks 'Connection: Upgrade'".to_owned());
        }
        let key = self.upgrade_key.as_deref().unwrap_or_default();
        let expected = base64_encode(&openssl::sha::sha1(
            format!("{key}{ACCEPT_GUID}").as_bytes(),
        ));
        if header_value("sec-websocket-accept") != Some(expected.as_str()) {
            return fail(
                "the server's Sec-WebSocket-Accept does not match our key: not a WebSocket server, or a proxy changed the answer".to_owned(),
            );
        }
        match header_value("sec-websocket-protocol") {
            None => {}
            Some(p) if p.eq_ignore_ascii_case("mqtt") => {}
            Some(other) => {
                return fail(format!(
                    "the server chose the subprotocol '{}', not 'mqtt'",
                    printable(other)
                ))
            }
        }
        if let Some(extensions) = header_value("sec-websocket-extensions") {
            return fail(format!(
                "the server turned on extensions we did not offer: {}",
                printable(extensions)
            ));
        }
        // Bytes after the header are frames already.
        self.input_pos += header_len;
        self.upgrade_key = None;
        Ok(true)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first line of a body (after the chunk-size line when chunked), and
/// whether that line is complete.
fn first_body_line(body: &[u8], chunked: bool) -> (Option<String>, bool) {
    let mut body = body;
    if chunked {
        match find(body, b"\r\n") {
            Some(end) => body = &body[end + 2..],
            None => return (None, false),
        }
    }
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    match trimmed.find('\n') {
        Some(end) => (Some(printable(trimmed[..end].trim())), true),
        None => (Some(printable(trimmed.trim())), false),
    }
}

pub(super) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        // RFC 6455 section 1.3.
        let accept = base64_encode(&openssl::sha::sha1(
            format!("dGhlIHNhbXBsZSBub25jZQ=={ACCEPT_GUID}").as_bytes(),
        ));
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn first_body_line_skips_the_chunk_size() {
        assert_eq!(
            first_body_line(b"1a\r\n<h1>Not Found</h1>\r\nmore", true),
            (Some("<h1>Not Found</h1>".to_owned()), true)
        );
        assert_eq!(
            first_body_line(b"\r\nNo such path", false),
            (Some("No such path".to_owned()), false)
        );
    }
}
