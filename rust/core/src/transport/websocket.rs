//! TRANSPORT websocket: MQTT inside WebSocket binary frames (RFC 6455,
//! client side; MQTT 3.1.1 section 6), subprotocol `mqtt`, over plain TCP
//! (`ws`) or TLS/TLS-PSK (`wss`), optionally through PROXY.
//!
//! **Why our own code.** A WebSocket client needs the upgrade request, the
//! check of the 101 answer, and frame coding with masking: about 400 lines
//! here. tungstenite does the same and runs on non-blocking streams, but its
//! `Read + Write` stream must be the whole TLS stack, whose handshake and
//! buffering our [`Transport`] layers already own and explain; it would also
//! add its own HTTP parser, `sha1`, `rand` and more to a library whose size
//! matters on gateways. The SHA-1 of the handshake and the random masks
//! come from OpenSSL, already shipped for TLS-PSK.
//!
//! **Stream, not messages.** MQTT packets may span frames and frames may
//! hold several packets, so payloads are passed through as a byte stream:
//! a frame's payload is copied to the reader as it arrives, never buffered
//! whole, and fragmented messages (continuation frames) read the same.
//! Pings are answered with pongs, pongs ignored, a close is answered and
//! reported with its code and reason.

use std::io;

use zeroize::Zeroize;

use super::Transport;
use crate::encoding::base64_encode;
use crate::error::ConnectError;
use upgrade::printable;

mod upgrade;

/// The largest payload put in one frame.
const MAX_FRAME_PAYLOAD: usize = 16 * 1024;
/// Framed bytes held for the layer below before a write waits.
const OUT_LIMIT: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;

mod opcode {
    pub(super) const CONTINUATION: u8 = 0x0;
    pub(super) const TEXT: u8 = 0x1;
    pub(super) const BINARY: u8 = 0x2;
    pub(super) const CLOSE: u8 = 0x8;
    pub(super) const PING: u8 = 0x9;
    pub(super) const PONG: u8 = 0xa;
}

/// From the options: WSPATH, and whether the layer below is TLS (wss).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) path: String,
    pub(crate) secure: bool,
}

/// Why a WebSocket read failed, carried inside the `io::Error` so that
/// [`Transport::explain`] gives the words.
#[derive(Debug)]
enum WsError {
    Closed { code: Option<u16>, reason: String },
    Protocol(String),
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsError::Closed { code, reason } => {
                write!(f, "WebSocket closed by the broker ({code:?} {reason})")
            }
            WsError::Protocol(why) => write!(f, "WebSocket protocol error: {why}"),
        }
    }
}

impl std::error::Error for WsError {}

fn ws_error(error: WsError) -> io::Error {
    io::Error::other(error)
}

/// Where the reader stands in the incoming frame sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Incoming {
    /// At a frame header.
    Header,
    /// Inside a data frame's payload: this many bytes still belong to it.
    Data { remaining: u64 },
}

/// Masking keys: 4 random bytes per frame (RFC 6455 section 5.3 wants them
/// unpredictable), drawn from OpenSSL 256 bytes at a time.
struct Masks {
    pool: [u8; 256],
    used: usize,
}

impl Masks {
    fn new() -> Masks {
        Masks {
            pool: [0; 256],
            used: 256,
        }
    }

    fn next(&mut self) -> io::Result<[u8; 4]> {
        if self.used + 4 > self.pool.len() {
            openssl::rand::rand_bytes(&mut self.pool).map_err(io::Error::other)?;
            self.used = 0;
        }
        let mut mask = [0u8; 4];
        mask.copy_from_slice(&self.pool[self.used..self.used + 4]);
        self.used += 4;
        Ok(mask)
    }
}

pub(crate) struct WebSocketTransport {
    inner: Box<dyn Transport>,
    /// `host:port` as sent in `Host`, for messages too.
    target: String,
    path: String,
    /// The key sent in the upgrade; `None` once the upgrade is done.
    upgrade_key: Option<String>,
    /// The request is queued (the layer below finished its handshake).
    request_queued: bool,
    /// Framed bytes for the layer below (the request during the upgrade).
    /// Zeroized as it drains: it may hold the CONNECT with the password.
    out: Vec<u8>,
    out_sent: usize,
    /// Bytes from the layer below not yet parsed.
    input: Vec<u8>,
    input_pos: usize,
    incoming: Incoming,
    /// A fragmented data message is open (continuation frames may follow).
    in_message: bool,
    /// The broker's close, once received; reads report it.
    closed: Option<(Option<u16>, String)>,
    masks: Masks,
}

impl WebSocketTransport {
    pub(crate) fn new(
        inner: Box<dyn Transport>,
        settings: &Settings,
        host: &str,
        port: u16,
    ) -> Result<WebSocketTransport, ConnectError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let host_part = if bare.contains(':') {
            format!("[{bare}]")
        } else {
            bare.to_owned()
        };
        let default_port = if settings.secure { 443 } else { 80 };
        let target = if port == default_port {
            host_part
        } else {
            format!("{host_part}:{port}")
        };
        let mut key = [0u8; 16];
        openssl::rand::rand_bytes(&mut key)
            .map_err(|e| ConnectError::WebSocket(format!("no random bytes for the key: {e}")))?;
        Ok(WebSocketTransport {
            inner,
            target,
            path: settings.path.clone(),
            upgrade_key: Some(base64_encode(&key)),
            request_queued: false,
            out: Vec::new(),
            out_sent: 0,
            input: Vec::new(),
            input_pos: 0,
            incoming: Incoming::Header,
            in_message: false,
            closed: None,
            masks: Masks::new(),
        })
    }

    /// Hands framed bytes to the layer below until it blocks.
    fn send_out(&mut self) -> io::Result<()> {
        while self.out_sent < self.out.len() {
            match self.inner.write(&self.out[self.out_sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // Wipe what was sent before reusing the buffer.
        self.out.zeroize();
        self.out_sent = 0;
        Ok(())
    }

    fn send_out_what_fits(&mut self) -> io::Result<()> {
        match self.send_out() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    fn out_pending(&self) -> usize {
        self.out.len() - self.out_sent
    }

    /// Appends one masked frame.
    fn queue_frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        let mask = self.masks.next()?;
        self.out.push(0x80 | opcode);
        let len = payload.len();
        if len < 126 {
            self.out.push(0x80 | len as u8);
        } else if len <= usize::from(u16::MAX) {
            self.out.push(0x80 | 126);
            self.out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            self.out.push(0x80 | 127);
            self.out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        self.out.extend_from_slice(&mask);
        self.out
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        Ok(())
    }

    fn unread(&self) -> &[u8] {
        &self.input[self.input_pos..]
    }

    /// Reads more bytes from the layer below. `Ok(0)` at its end.
    fn fill(&mut self) -> io::Result<usize> {
        if self.input_pos > 0 && self.input_pos == self.input.len() {
            self.input.clear();
            self.input_pos = 0;
        } else if self.input_pos > READ_CHUNK {
            self.input.drain(..self.input_pos);
            self.input_pos = 0;
        }
        let start = self.input.len();
        self.input.resize(start + READ_CHUNK, 0);
        let result = self.inner.read(&mut self.input[start..]);
        self.input.truncate(start + *result.as_ref().unwrap_or(&0));
        result
    }

    /// Parses frames from the unread bytes, copying data payloads into
    /// `buf`. Returns the bytes copied (0 when more input is needed).
    fn parse(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut copied = 0;
        loop {
            match self.incoming {
                Incoming::Data { remaining } => {
                    let available = self.unread().len() as u64;
                    let room = (buf.len() - copied) as u64;
                    let n = remaining.min(available).min(room) as usize;
                    if n == 0 {
                        if remaining == 0 {
                            self.incoming = Incoming::Header;
                            continue;
                        }
                        return Ok(copied);
                    }
                    let start = self.input_pos;
                    buf[copied..copied + n].copy_from_slice(&self.input[start..start + n]);
                    self.input_pos += n;
                    copied += n;
                    let left = remaining - n as u64;
                    self.incoming = if left == 0 {
                        Incoming::Header
                    } else {
                        Incoming::Data { remaining: left }
                    };
                }
                Incoming::Header => {
                    let Some(frame) = parse_header(self.unread())? else {
                        return Ok(copied);
                    };
                    match frame.opcode {
                        opcode::BINARY | opcode::CONTINUATION => {
                            if frame.opcode == opcode::BINARY && self.in_message {
                                return Err(protocol(
                                    "a new binary message began inside a fragmented one",
                                ));
                            }
                            if frame.opcode == opcode::CONTINUATION && !self.in_message {
                                return Err(protocol(
                                    "a continuation frame came without a message to continue",
                                ));
                            }
                            self.in_message = !frame.fin;
                            self.input_pos += frame.header_len;
                            self.incoming = Incoming::Data {
                                remaining: frame.payload_len,
                            };
                        }
                        opcode::TEXT => return Err(protocol(
                            "the broker sent a text frame; MQTT over WebSocket uses binary frames",
                        )),
                        opcode::PING | opcode::PONG | opcode::CLOSE => {
                            let total = frame.header_len + frame.payload_len as usize;
                            if self.unread().len() < total {
                                return Ok(copied);
                            }
                            let start = self.input_pos + frame.header_len;
                            let payload =
                                self.input[start..start + frame.payload_len as usize].to_vec();
                            self.input_pos += total;
                            match frame.opcode {
                                opcode::PING => {
                                    self.queue_frame(opcode::PONG, &payload)?;
                                    self.send_out_what_fits()?;
                                }
                                opcode::CLOSE => return self.on_close(&payload, copied),
                                _ => {}
                            }
                        }
                        other => return Err(protocol(&format!("unknown frame opcode {other:#x}"))),
                    }
                }
            }
        }
    }

    /// The broker's close frame: answered (RFC 6455 section 5.5.1), then
    /// reported by this and every later read once data already copied is
    /// returned.
    fn on_close(&mut self, payload: &[u8], copied: usize) -> io::Result<usize> {
        let code = (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        let reason = payload
            .get(2..)
            .map(|r| printable(&String::from_utf8_lossy(r)))
            .unwrap_or_default();
        let echo: Vec<u8> = code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default();
        self.queue_frame(opcode::CLOSE, &echo)?;
        let _ = self.send_out_what_fits();
        let _ = self.inner.flush();
        self.closed = Some((code, reason));
        if copied > 0 {
            return Ok(copied);
        }
        Err(self.closed_error())
    }

    fn closed_error(&self) -> io::Error {
        let (code, reason) = self.closed.clone().unwrap_or_default();
        ws_error(WsError::Closed { code, reason })
    }
}

fn protocol(why: &str) -> io::Error {
    ws_error(WsError::Protocol(why.to_owned()))
}

struct FrameHeader {
    fin: bool,
    opcode: u8,
    header_len: usize,
    payload_len: u64,
}

/// Parses a frame header from the broker; `None` while incomplete.
fn parse_header(bytes: &[u8]) -> io::Result<Option<FrameHeader>> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (bytes[0], bytes[1]);
    if b0 & 0x70 != 0 {
        return Err(protocol(
            "a frame has reserved bits set (no extension was agreed)",
        ));
    }
    if b1 & 0x80 != 0 {
        return Err(protocol(
            "the broker sent a masked frame (RFC 6455 forbids it)",
        ));
    }
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0f;
    let (header_len, payload_len) = match b1 & 0x7f {
        126 => {
            if bytes.len() < 4 {
                return Ok(None);
            }
            (4, u64::from(u16::from_be_bytes([bytes[2], bytes[3]])))
        }
        127 => {
            if bytes.len() < 10 {
                return Ok(None);
            }
            let mut len = [0u8; 8];
            len.copy_from_slice(&bytes[2..10]);
            (10, u64::from_be_bytes(len))
        }
        len => (2, u64::from(len)),
    };
    if opcode >= 0x8 && (!fin || payload_len > 125) {
        return Err(protocol(
            "a control frame is fragmented or longer than 125 bytes",
        ));
    }
    Ok(Some(FrameHeader {
        fin,
        opcode,
        header_len,
        payload_len,
    }))
}

impl Transport for WebSocketTransport {
    fn handshake(&mut self) -> Result<bool, ConnectError> {
        let Some(key) = self.upgrade_key.clone() else {
            return Ok(true);
        };
        if !self.request_queued {
            if !self.inner.handshake()? {
                return Ok(false);
            }
            self.queue_request(&key);
            self.request_queued = true;
        }
        match self.send_out() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(self.inner.explain(&e)),
        }
        match self.inner.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(self.inner.explain(&e)),
        }
        loop {
            if self.check_answer(false)? {
                return Ok(true);
            }
            match self.fill() {
                Ok(0) => {
                    self.check_answer(true)?;
                    return Ok(true);
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if super::is_reset(&e) => {
                    self.check_answer(true)?;
                    return Ok(true);
                }
                Err(e) => return Err(self.inner.explain(&e)),
            }
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.closed.is_some() {
                return Err(self.closed_error());
            }
            let n = self.parse(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if self.fill()? == 0 {
                return Ok(0);
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send_out_what_fits()?;
        if self.out_pending() >= OUT_LIMIT {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(MAX_FRAME_PAYLOAD);
        if n == 0 {
            return Ok(0);
        }
        self.queue_frame(opcode::BINARY, &buf[..n])?;
        self.send_out_what_fits()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_out()?;
        self.inner.flush()
    }

    fn wants_write(&self) -> bool {
        self.out_pending() > 0 || self.inner.wants_write()
    }

    fn socket_mut(&mut self) -> &mut mio::net::TcpStream {
        self.inner.socket_mut()
    }

    fn explain(&self, err: &io::Error) -> ConnectError {
        match err.get_ref().and_then(|e| e.downcast_ref::<WsError>()) {
            Some(WsError::Closed { code, reason }) => ConnectError::WebSocketClosed {
                code: *code,
                reason: reason.clone(),
            },
            Some(WsError::Protocol(why)) => ConnectError::WebSocket(why.clone()),
            None => self.inner.explain(err),
        }
    }

    fn phase(&self) -> &'static str {
        if self.request_queued || self.upgrade_key.is_none() {
            "in the WebSocket upgrade with"
        } else {
            self.inner.phase()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_of_all_three_length_forms_parse() {
        let short = parse_header(&[0x82, 5]).expect("ok").expect("complete");
        assert_eq!(
            (short.fin, short.opcode, short.header_len, short.payload_len),
            (true, 2, 2, 5)
        );
        let medium = parse_header(&[0x02, 126, 1, 0])
            .expect("ok")
            .expect("complete");
        assert_eq!(
            (medium.fin, medium.header_len, medium.payload_len),
            (false, 4, 256)
        );
        let long = parse_header(&[0x80, 127, 0, 0, 0, 1, 0, 0, 0, 0])
            .expect("ok")
            .expect("complete");
        assert_eq!(
            (long.opcode, long.header_len, long.payload_len),
            (0, 10, 1 << 32)
        );
        assert!(parse_header(&[0x82, 126, 1]).expect("ok").is_none());
    }

    #[test]
    fn masked_reserved_and_long_control_frames_are_refused() {
        for (bytes, words) in [
            (&[0x82u8, 0x85][..], "masked"),
            (&[0xc2, 1][..], "reserved bits"),
            (&[0x89, 126, 0, 200][..], "control frame"),
            (&[0x09, 0][..], "control frame"),
        ] {
            let error = parse_header(bytes).err().expect("refused");
            assert!(error.to_string().contains(words), "{error}");
        }
    }
}
