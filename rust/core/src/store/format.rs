//! The bytes of segment files: the layout of format 2 and writing it.
//! Reading them back is in `scan.rs` (format 1 in `v1.rs`), the report of
//! what damage cost in `damage.rs`. The layout and the reasons for it are
//! in the [module documentation](super).

use super::StoredMessage;

/// Format 2 files are cut into blocks of this size; every block starts with a
/// chunk header written by the store, never with payload bytes.
pub(super) const BLOCK: u64 = 4096;
/// marker (u8), kind (u8), data length (u16), data CRC (u32), header CRC (u32).
pub(super) const CHUNK_HEADER: usize = 12;
/// The first byte of every chunk; also names the format.
pub(super) const CHUNK_MARKER: u8 = 0xE2;
/// A chunk carries at least a record header's worth of bytes, so a block
/// with less room than this left is padded with zeros and the next chunk
/// starts the next block; a record's first chunk then always holds the whole
/// record header, length included.
pub(super) const MIN_CHUNK: u64 = (CHUNK_HEADER + RECORD_HEADER) as u64;
/// The most data one chunk can carry (a whole block less its header).
const MAX_CHUNK_DATA: usize = BLOCK as usize - CHUNK_HEADER;

pub(super) const CHUNK_FULL: u8 = 1;
pub(super) const CHUNK_FIRST: u8 = 2;
pub(super) const CHUNK_MIDDLE: u8 = 3;
pub(super) const CHUNK_LAST: u8 = 4;

/// type (u8), sequence number in the file (u32), message id (u64), body
/// length (u32).
pub(super) const RECORD_HEADER: usize = 17;
pub(super) const TYPE_MESSAGE: u8 = 1;
pub(super) const TYPE_REMOVE: u8 = 2;

/// Flags, topic length.
pub(super) const MESSAGE_PREFIX_LEN: usize = 3;
/// The largest body a record may have: an MQTT packet cannot be larger
/// (268 435 455 bytes).
pub(super) const MAX_BODY_LEN: usize = 268_435_455;
const FLAG_QOS_MASK: u8 = 0b011;
const FLAG_RETAIN: u8 = 0b100;

/// The two segment formats the store reads; it writes only [`Version::V2`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    V1,
    V2,
}

/// Bytes a record with a body of `body_len` bytes is charged against the
/// store's size limit: the record and one chunk header per 4084 bytes of it.
/// The same whatever block offset it lands on, so limits are predictable;
/// block padding (under 13 bytes per 4 KiB block) and the extra chunk header
/// of a record that starts mid-block are not charged.
pub(super) fn charge(body_len: usize) -> u64 {
    let data = RECORD_HEADER + body_len;
    (data + CHUNK_HEADER * data.div_ceil(MAX_CHUNK_DATA)) as u64
}

/// The most bytes a record with a body of `body_len` bytes can take in a
/// file, wherever it starts: its charge, one more chunk header and padding.
pub(super) fn max_span(body_len: usize) -> u64 {
    charge(body_len) + CHUNK_HEADER as u64 + MIN_CHUNK
}

/// Where the next record of a format 2 file goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Cursor {
    /// File offset (the file's length, as records are only appended).
    pub offset: u64,
    /// Sequence number of the next record: records of one file are numbered
    /// 0, 1, 2, … so a gap between two readable records is exactly the number
    /// of records lost between them.
    pub seq: u32,
}

/// Appends one record to `out`, cut into chunks for the block layout at
/// `at`, and advances `at`. Returns the offset of the record's first chunk.
pub(super) fn encode_record(
    out: &mut Vec<u8>,
    at: &mut Cursor,
    kind: u8,
    id: u64,
    body: &[&[u8]],
) -> u64 {
    let mut header = [0u8; RECORD_HEADER];
    header[0] = kind;
    header[1..5].copy_from_slice(&at.seq.to_le_bytes());
    header[5..13].copy_from_slice(&id.to_le_bytes());
    let body_len: usize = body.iter().map(|p| p.len()).sum();
    // Checked by the callers: bodies are at most MAX_BODY_LEN bytes.
    header[13..17].copy_from_slice(&(body_len as u32).to_le_bytes());
    let mut parts = Parts {
        parts: std::iter::once(&header[..])
            .chain(body.iter().copied())
            .collect(),
        index: 0,
        offset: 0,
    };
    let mut left = RECORD_HEADER + body_len;
    let mut start = None;
    while left > 0 {
        let room = BLOCK - at.offset % BLOCK;
        if room < MIN_CHUNK {
            out.resize(out.len() + room as usize, 0);
            at.offset += room;
            continue;
        }
        let take = left.min(room as usize - CHUNK_HEADER);
        let kind = match (start.is_none(), take == left) {
            (true, true) => CHUNK_FULL,
            (true, false) => CHUNK_FIRST,
            (false, false) => CHUNK_MIDDLE,
            (false, true) => CHUNK_LAST,
        };
        start.get_or_insert(at.offset);
        let header_at = out.len();
        out.extend_from_slice(&[0; CHUNK_HEADER]);
        let mut crc = crc32fast::Hasher::new();
        parts.copy(take, out, &mut crc);
        let chunk = &mut out[header_at..header_at + CHUNK_HEADER];
        chunk[0] = CHUNK_MARKER;
        chunk[1] = kind;
        // take <= MAX_CHUNK_DATA < 65536.
        chunk[2..4].copy_from_slice(&(take as u16).to_le_bytes());
        chunk[4..8].copy_from_slice(&crc.finalize().to_le_bytes());
        let header_crc = crc32fast::hash(&chunk[..8]);
        chunk[8..12].copy_from_slice(&header_crc.to_le_bytes());
        at.offset += (CHUNK_HEADER + take) as u64;
        left -= take;
    }
    // A file never holds 2^32 records: it rotates at about 1 MiB, and a
    // record takes at least 25 bytes.
    at.seq = at.seq.wrapping_add(1);
    start.unwrap_or(at.offset)
}

/// Appends a message record; `message` was checked by [`message_body_len`].
pub(super) fn encode_message(
    out: &mut Vec<u8>,
    at: &mut Cursor,
    id: u64,
    message: &StoredMessage,
) -> u64 {
    let mut flags = message.qos & FLAG_QOS_MASK;
    if message.retain {
        flags |= FLAG_RETAIN;
    }
    // Checked by message_body_len: topics fit in u16.
    let topic_len = (message.topic.len() as u16).to_le_bytes();
    encode_record(
        out,
        at,
        TYPE_MESSAGE,
        id,
        &[
            &[flags],
            &topic_len,
            message.topic.as_bytes(),
            &message.payload,
        ],
    )
}

/// Checks what a record can hold and returns the body length.
pub(super) fn message_body_len(message: &StoredMessage) -> Result<usize, String> {
    if message.qos > 2 {
        return Err(format!("QoS {} is not 0, 1 or 2", message.qos));
    }
    if message.topic.len() > usize::from(u16::MAX) {
        return Err(format!(
            "the topic is {} bytes long; MQTT allows at most 65535",
            message.topic.len()
        ));
    }
    Ok(MESSAGE_PREFIX_LEN + message.topic.len() + message.payload.len())
}

pub(super) fn decode_message_body(body: &[u8]) -> Result<StoredMessage, String> {
    let [flags, len_lo, len_hi, rest @ ..] = body else {
        return Err("body too short".to_owned());
    };
    if flags & !(FLAG_QOS_MASK | FLAG_RETAIN) != 0 || flags & FLAG_QOS_MASK == 3 {
        return Err(format!("invalid flags 0x{flags:02x}"));
    }
    let topic_len = usize::from(u16::from_le_bytes([*len_lo, *len_hi]));
    if topic_len > rest.len() {
        return Err("topic length runs past the record".to_owned());
    }
    let (topic, payload) = rest.split_at(topic_len);
    let topic = String::from_utf8(topic.to_vec()).map_err(|_| "topic is not UTF-8".to_owned())?;
    Ok(StoredMessage {
        topic,
        payload: payload.to_vec(),
        qos: flags & FLAG_QOS_MASK,
        retain: flags & FLAG_RETAIN != 0,
    })
}

/// The record body parts being copied into chunks.
struct Parts<'a> {
    parts: Vec<&'a [u8]>,
    index: usize,
    offset: usize,
}

impl Parts<'_> {
    fn copy(&mut self, mut n: usize, out: &mut Vec<u8>, crc: &mut crc32fast::Hasher) {
        while n > 0 {
            let Some(part) = self.parts.get(self.index) else {
                return;
            };
            let rest = &part[self.offset..];
            let take = n.min(rest.len());
            out.extend_from_slice(&rest[..take]);
            crc.update(&rest[..take]);
            n -= take;
            self.offset += take;
            if self.offset == part.len() {
                self.index += 1;
                self.offset = 0;
            }
        }
    }
}
