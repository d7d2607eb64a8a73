//! Reading segment format 1, written before format 2: one record after the
//! other, `0xE1, type (u8), body length (u32 LE), id (u64 LE), body,
//! CRC-32`. Only read, never written.

use std::borrow::Cow;

use super::damage::{Lost, Problem, Stretch};
use super::format::{MAX_BODY_LEN, MESSAGE_PREFIX_LEN, TYPE_MESSAGE, TYPE_REMOVE};
use super::scan::{Found, Item};

const V1_MAGIC: u8 = 0xE1;
const V1_HEADER_LEN: usize = 14;
const V1_CRC_LEN: usize = 4;

/// Reads a format 1 file up to its first damage. The format has no block
/// structure, so after damage nothing tells a record start from payload
/// bytes that look like one: the rest of the file is skipped.
pub(super) fn scan(bytes: &[u8]) -> Vec<Item<'_>> {
    let mut items = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        match parse_v1(bytes, offset) {
            Ok((kind, id, body, len)) => {
                items.push(Item::Record(Found {
                    offset: offset as u64,
                    end: (offset + len) as u64,
                    kind,
                    id,
                    seq: None,
                    body: Cow::Borrowed(body),
                }));
                offset += len;
            }
            Err(problem) => {
                items.push(Item::Damage(Stretch {
                    offset: offset as u64,
                    end: bytes.len() as u64,
                    problem,
                    lost: Lost::AtLeast(1),
                }));
                break;
            }
        }
    }
    items
}

/// A format 1 record at `offset`: (type, id, body, record length).
fn parse_v1(bytes: &[u8], offset: usize) -> Result<(u8, u64, &[u8], usize), Problem> {
    let rest = &bytes[offset..];
    let Some(header) = rest.get(..V1_HEADER_LEN) else {
        return Err(Problem::Truncated);
    };
    if header[0] != V1_MAGIC {
        return Err(Problem::V1BadMagic(header[0]));
    }
    let kind = header[1];
    if kind != TYPE_MESSAGE && kind != TYPE_REMOVE {
        return Err(Problem::V1UnknownType(kind));
    }
    let body_len = u32::from_le_bytes([header[2], header[3], header[4], header[5]]) as usize;
    let plausible = match kind {
        TYPE_REMOVE => body_len == 0,
        _ => (MESSAGE_PREFIX_LEN..=MAX_BODY_LEN).contains(&body_len),
    };
    if !plausible {
        return Err(Problem::V1ImplausibleLength(body_len as u64));
    }
    let len = V1_HEADER_LEN + body_len + V1_CRC_LEN;
    let mut id = [0u8; 8];
    id.copy_from_slice(&header[6..14]);
    let Some(raw) = rest.get(..len) else {
        return Err(Problem::Truncated);
    };
    let (covered, stored) = raw.split_at(len - V1_CRC_LEN);
    let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    if crc32fast::hash(covered) != stored {
        return Err(Problem::V1BadChecksum);
    }
    Ok((kind, u64::from_le_bytes(id), &covered[V1_HEADER_LEN..], len))
}

/// The body of the format 1 message record `id` at `offset`, checked again.
pub(super) fn message_body(bytes: &[u8], offset: u64, id: u64) -> Result<&[u8], String> {
    let offset = usize::try_from(offset).map_err(|_| "offset out of range".to_owned())?;
    if offset >= bytes.len() {
        return Err("the file is shorter than when it was opened".to_owned());
    }
    match parse_v1(bytes, offset) {
        Ok((TYPE_MESSAGE, found, body, _)) if found == id => Ok(body),
        Ok(_) => Err("a different record is in its place".to_owned()),
        Err(problem) => Err(problem.describe()),
    }
}
