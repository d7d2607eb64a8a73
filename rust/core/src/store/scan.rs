//! Reading segment files back: format 2 chunk by chunk (format 1 in
//! `v1.rs`), into intact records and damaged stretches.

use std::borrow::Cow;

use super::damage::{Lost, Problem, Stretch};
use super::format::{
    Version, BLOCK, CHUNK_FIRST, CHUNK_FULL, CHUNK_HEADER, CHUNK_LAST, CHUNK_MARKER, CHUNK_MIDDLE,
    MAX_BODY_LEN, MIN_CHUNK, RECORD_HEADER, TYPE_MESSAGE, TYPE_REMOVE,
};

/// What a segment file's bytes turned out to hold, in file order.
#[derive(Debug)]
pub(super) enum Item<'a> {
    Record(Found<'a>),
    Damage(Stretch),
}

/// A record that read back intact.
#[derive(Debug)]
pub(super) struct Found<'a> {
    /// Offset of its first chunk (format 2) or of the record (format 1).
    pub offset: u64,
    /// Where its last chunk (or the record) ends.
    pub end: u64,
    pub kind: u8,
    pub id: u64,
    /// Format 1 records have none.
    pub seq: Option<u32>,
    pub body: Cow<'a, [u8]>,
}

/// Splits a segment file into intact records and damaged stretches.
pub(super) fn scan(version: Version, bytes: &[u8]) -> Vec<Item<'_>> {
    match version {
        Version::V1 => super::v1::scan(bytes),
        Version::V2 => scan_v2(bytes),
    }
}

/// One chunk as found at a chunk boundary.
enum Chunk<'a> {
    Good {
        kind: u8,
        data: &'a [u8],
        end: u64,
    },
    /// The header is intact (so its length is the one the store wrote) but
    /// the data is not.
    BadData {
        kind: u8,
        end: u64,
    },
    /// The header is damaged: nothing in it can be believed, not even where
    /// the next chunk starts.
    BadHeader(Problem),
    /// The file ends inside the chunk; `kind` when its header is intact.
    Truncated {
        kind: Option<u8>,
    },
}

/// Reads the chunk at `pos`, a chunk boundary with room for a chunk left in
/// its block.
fn chunk_at(bytes: &[u8], pos: u64) -> Chunk<'_> {
    let start = pos as usize;
    let Some(header) = bytes.get(start..start + CHUNK_HEADER) else {
        return Chunk::Truncated { kind: None };
    };
    if header[0] != CHUNK_MARKER {
        return Chunk::BadHeader(Problem::NoMarker(header[0]));
    }
    let stored_header_crc = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if crc32fast::hash(&header[..8]) != stored_header_crc {
        return Chunk::BadHeader(Problem::HeaderChecksum);
    }
    let kind = header[1];
    if !(CHUNK_FULL..=CHUNK_LAST).contains(&kind) {
        return Chunk::BadHeader(Problem::UnknownChunkKind(kind));
    }
    let len = u16::from_le_bytes([header[2], header[3]]);
    let room = (BLOCK - pos % BLOCK) as usize - CHUNK_HEADER;
    if len == 0 || usize::from(len) > room {
        return Chunk::BadHeader(Problem::ChunkLength(len));
    }
    let end = pos + (CHUNK_HEADER + usize::from(len)) as u64;
    let Some(data) = bytes.get(start + CHUNK_HEADER..end as usize) else {
        return Chunk::Truncated { kind: Some(kind) };
    };
    let stored_data_crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if crc32fast::hash(data) != stored_data_crc {
        return Chunk::BadData { kind, end };
    }
    Chunk::Good { kind, data, end }
}

/// Skips block padding: the next position where a chunk can start.
fn chunk_boundary(pos: u64) -> u64 {
    let room = BLOCK - pos % BLOCK;
    if room < MIN_CHUNK {
        pos + room
    } else {
        pos
    }
}

/// Where a record of `len` bytes (header and body) whose first chunk is at
/// `start` ends: the layout [`encode_record`](super::format::encode_record)
/// gives it, so a record whose first chunk is intact can be skipped whole
/// even when a later chunk of it is damaged.
fn record_end(start: u64, len: usize) -> u64 {
    let mut pos = start;
    let mut left = len;
    while left > 0 {
        pos = chunk_boundary(pos);
        let take = left.min((BLOCK - pos % BLOCK) as usize - CHUNK_HEADER);
        pos += (CHUNK_HEADER + take) as u64;
        left -= take;
    }
    pos
}

/// The record whose first chunk is at `offset`, for compaction: every chunk
/// is checked again. Returns the record's bytes (header and body).
pub(super) fn record_at(bytes: &[u8], offset: u64) -> Result<Cow<'_, [u8]>, String> {
    let mut pos = offset;
    let mut assembled: Option<Vec<u8>> = None;
    loop {
        pos = chunk_boundary(pos);
        let (kind, data, end) = match chunk_at(bytes, pos) {
            Chunk::Good { kind, data, end } => (kind, data, end),
            Chunk::BadData { .. } => return Err(Problem::DataChecksum.describe()),
            Chunk::BadHeader(problem) => return Err(problem.describe()),
            Chunk::Truncated { .. } => return Err(Problem::Truncated.describe()),
        };
        match (kind, assembled.as_mut()) {
            (CHUNK_FULL, None) => return Ok(Cow::Borrowed(data)),
            (CHUNK_FIRST, None) => assembled = Some(data.to_vec()),
            (CHUNK_MIDDLE, Some(record)) => record.extend_from_slice(data),
            (CHUNK_LAST, Some(record)) => {
                record.extend_from_slice(data);
                return Ok(Cow::Owned(std::mem::take(record)));
            }
            _ => return Err(format!("the chunk at offset {pos} is out of place")),
        }
        pos = end;
    }
}

/// Splits a record's bytes into (type, sequence number, id, body).
fn split_record(data: &[u8]) -> Result<(u8, u32, u64, &[u8]), String> {
    let Some((header, body)) = data.split_at_checked(RECORD_HEADER) else {
        return Err(format!(
            "{} bytes, shorter than a record header",
            data.len()
        ));
    };
    let kind = header[0];
    if kind != TYPE_MESSAGE && kind != TYPE_REMOVE {
        return Err(format!("unknown record type {kind}"));
    }
    let seq = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&header[5..13]);
    let body_len = u32::from_le_bytes([header[13], header[14], header[15], header[16]]);
    if body_len as usize != body.len() {
        return Err(format!(
            "its header says {body_len} body bytes, its chunks hold {}",
            body.len()
        ));
    }
    Ok((kind, seq, u64::from_le_bytes(id), body))
}

/// Checks a record read back by [`record_at`] and returns its body.
pub(super) fn message_record_body(data: &[u8], id: u64) -> Result<&[u8], String> {
    match split_record(data)? {
        (TYPE_MESSAGE, _, found, body) if found == id => Ok(body),
        _ => Err("a different record is in its place".to_owned()),
    }
}

/// The damaged stretch being collected while walking a format 2 file.
struct Open {
    offset: u64,
    problem: Problem,
    /// Records known to have started in it.
    started: u64,
    /// Every chunk in it was walked: no jump to a block boundary.
    walked: bool,
}

/// A record whose first chunk was read and whose last one was not yet.
struct Assembling {
    offset: u64,
    data: Vec<u8>,
    /// Where it ends, from the length in its header.
    end: u64,
}

impl Assembling {
    fn new(offset: u64, data: &[u8]) -> Assembling {
        let body_len = data
            .get(13..17)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        Assembling {
            offset,
            data: data.to_vec(),
            end: record_end(offset, RECORD_HEADER + body_len.min(MAX_BODY_LEN)),
        }
    }
}

/// Walks a format 2 file chunk by chunk. Only positions that the store
/// itself wrote a chunk header at are ever read as a chunk: the file start,
/// the end of an intact chunk (its header's length was checked by the header
/// checksum), the end of a record whose first chunk is intact (its length is
/// in it), and block boundaries. After a damaged chunk header that no intact
/// first chunk accounts for, reading resumes at the next block boundary,
/// never inside the damaged bytes, so no payload can be taken for a record.
fn scan_v2(bytes: &[u8]) -> Vec<Item<'_>> {
    let file_len = bytes.len() as u64;
    let mut items = Vec::new();
    let mut damage: Option<Open> = None;
    let mut assembling: Option<Assembling> = None;
    let mut pos = 0;
    loop {
        pos = chunk_boundary(pos);
        if pos >= file_len {
            break;
        }
        match chunk_at(bytes, pos) {
            Chunk::Good { kind, data, end } => {
                match kind {
                    CHUNK_FULL | CHUNK_FIRST => {
                        if let Some(unfinished) = assembling.take() {
                            note(&mut damage, unfinished.offset, Problem::Unfinished, 1, true);
                        }
                        if kind == CHUNK_FULL {
                            push_record(&mut items, &mut damage, pos, end, Cow::Borrowed(data));
                        } else {
                            assembling = Some(Assembling::new(pos, data));
                        }
                    }
                    _ => match assembling.as_mut() {
                        Some(record) => {
                            record.data.extend_from_slice(data);
                            if kind == CHUNK_LAST {
                                if let Some(record) = assembling.take() {
                                    push_record(
                                        &mut items,
                                        &mut damage,
                                        record.offset,
                                        end,
                                        Cow::Owned(record.data),
                                    );
                                }
                            }
                        }
                        None => note(&mut damage, pos, Problem::Orphan, 0, true),
                    },
                }
                pos = end;
            }
            Chunk::BadData { kind, end } => {
                let resume = skip_unfinished(&assembling, kind).unwrap_or(end);
                let (from, started) = lose(&mut assembling, pos, Some(kind), &damage);
                note(&mut damage, from, Problem::DataChecksum, started, true);
                pos = resume;
            }
            Chunk::BadHeader(problem) => {
                let resume = skip_unfinished(&assembling, CHUNK_MIDDLE);
                let (from, started) = lose(&mut assembling, pos, None, &damage);
                note(&mut damage, from, problem, started, resume.is_some());
                pos = resume.unwrap_or(pos - pos % BLOCK + BLOCK);
            }
            Chunk::Truncated { kind } => {
                let (from, started) = lose(&mut assembling, pos, kind, &damage);
                note(&mut damage, from, Problem::Truncated, started, true);
                pos = file_len;
            }
        }
    }
    if let Some(unfinished) = assembling.take() {
        note(&mut damage, unfinished.offset, Problem::Truncated, 1, true);
    }
    close(&mut items, &mut damage, file_len);
    count_lost(&mut items);
    items
}

/// When the damaged chunk continues the record being assembled, the end of
/// that record, from the length in its intact first chunk.
fn skip_unfinished(assembling: &Option<Assembling>, kind: u8) -> Option<u64> {
    match (assembling, kind) {
        (Some(record), CHUNK_MIDDLE | CHUNK_LAST) => Some(record.end),
        _ => None,
    }
}

/// The chunk at `pos` is lost: so is any record being assembled. Returns
/// where the loss starts and how many records are known to start in it: the
/// record being assembled, or, when none was and the walk so far is
/// unbroken, the one the chunk at `pos` must begin (the store writes a
/// record's chunks one after the other).
fn lose(
    assembling: &mut Option<Assembling>,
    pos: u64,
    kind: Option<u8>,
    damage: &Option<Open>,
) -> (u64, u64) {
    let starts_record = |unbroken: bool| match kind {
        Some(kind) => kind == CHUNK_FULL || kind == CHUNK_FIRST,
        None => unbroken,
    };
    match assembling.take() {
        // Without a header, the chunk is the next one of that record.
        Some(record) => (record.offset, 1 + u64::from(starts_record(false))),
        None => (
            pos,
            u64::from(starts_record(
                damage.as_ref().is_none_or(|open| open.walked),
            )),
        ),
    }
}

fn note(damage: &mut Option<Open>, offset: u64, problem: Problem, started: u64, walked: bool) {
    match damage {
        Some(open) => {
            open.offset = open.offset.min(offset);
            open.started += started;
            open.walked &= walked;
        }
        None => {
            *damage = Some(Open {
                offset,
                problem,
                started,
                walked,
            })
        }
    }
}

fn close(items: &mut Vec<Item<'_>>, damage: &mut Option<Open>, end: u64) {
    if let Some(open) = damage.take() {
        let lost = if open.walked && open.started > 0 {
            Lost::Exactly(open.started)
        } else {
            Lost::AtLeast(open.started.max(1))
        };
        items.push(Item::Damage(Stretch {
            offset: open.offset,
            end,
            problem: open.problem,
            lost,
        }));
    }
}

fn push_record<'a>(
    items: &mut Vec<Item<'a>>,
    damage: &mut Option<Open>,
    offset: u64,
    end: u64,
    data: Cow<'a, [u8]>,
) {
    let parsed = split_record(&data).map(|(kind, seq, id, body)| (kind, seq, id, body.len()));
    match parsed {
        Ok((kind, seq, id, body_len)) => {
            close(items, damage, offset);
            let body = match data {
                Cow::Borrowed(bytes) => Cow::Borrowed(&bytes[bytes.len() - body_len..]),
                Cow::Owned(mut bytes) => {
                    bytes.drain(..bytes.len() - body_len);
                    Cow::Owned(bytes)
                }
            };
            items.push(Item::Record(Found {
                offset,
                end,
                kind,
                id,
                seq: Some(seq),
                body,
            }));
        }
        Err(reason) => note(damage, offset, Problem::Unreadable(reason), 1, true),
    }
}

/// Where intact records lie on both sides of a stretch, their sequence
/// numbers say exactly how many records it held.
fn count_lost(items: &mut [Item<'_>]) {
    let mut previous: Option<u32> = None;
    for index in 0..items.len() {
        let next = items[index + 1..].iter().find_map(|item| match item {
            Item::Record(found) => found.seq,
            Item::Damage(_) => None,
        });
        match &mut items[index] {
            Item::Record(found) => previous = found.seq,
            Item::Damage(stretch) => {
                if let Some(next) = next {
                    let first_lost = previous.map_or(0, |seq| seq.wrapping_add(1));
                    stretch.lost = Lost::Exactly(u64::from(next.saturating_sub(first_lost)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::format::{encode_record, Cursor};

    fn records(bytes: &[u8]) -> Vec<(u64, Option<u32>)> {
        scan(Version::V2, bytes)
            .iter()
            .filter_map(|item| match item {
                Item::Record(found) => Some((found.id, found.seq)),
                Item::Damage(_) => None,
            })
            .collect()
    }

    #[test]
    fn records_cross_blocks_in_chunks_and_read_back() {
        let mut bytes = Vec::new();
        let mut at = Cursor::default();
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut offsets = Vec::new();
        for id in 1..=5 {
            offsets.push(encode_record(
                &mut bytes,
                &mut at,
                TYPE_MESSAGE,
                id,
                &[&payload[..id as usize * 1000]],
            ));
        }
        assert_eq!(at.offset, bytes.len() as u64);
        let items = scan(Version::V2, &bytes);
        assert_eq!(items.len(), 5);
        for (index, item) in items.iter().enumerate() {
            let Item::Record(found) = item else {
                panic!("damage: {item:?}");
            };
            assert_eq!(found.offset, offsets[index]);
            assert_eq!(found.seq, Some(index as u32));
            assert_eq!(&found.body[..], &payload[..(index + 1) * 1000]);
            let data = record_at(&bytes, found.offset).expect("record_at");
            assert_eq!(&data[RECORD_HEADER..], &found.body[..]);
        }
    }

    #[test]
    fn a_damaged_later_chunk_header_costs_only_its_record() {
        let mut bytes = Vec::new();
        let mut at = Cursor::default();
        encode_record(&mut bytes, &mut at, TYPE_MESSAGE, 1, &[&[7; 100]]);
        encode_record(&mut bytes, &mut at, TYPE_MESSAGE, 2, &[&[8; 9000]]);
        let third = encode_record(&mut bytes, &mut at, TYPE_MESSAGE, 3, &[&[9; 100]]);
        // The middle chunk header of record 2, at the start of block 1.
        bytes[BLOCK as usize + 1] ^= 0xFF;
        assert_eq!(
            records(&bytes),
            vec![(1, Some(0)), (3, Some(2))],
            "record 3 starts at {third}"
        );
    }

    #[test]
    fn every_block_starts_with_a_chunk_header() {
        let mut bytes = Vec::new();
        let mut at = Cursor::default();
        for id in 0..400 {
            encode_record(&mut bytes, &mut at, TYPE_REMOVE, id, &[&[0x55; 7]]);
        }
        encode_record(&mut bytes, &mut at, TYPE_MESSAGE, 9, &[&[0xAA; 20_000]]);
        for block in (0..bytes.len()).step_by(BLOCK as usize) {
            assert!(matches!(chunk_at(&bytes, block as u64), Chunk::Good { .. }));
        }
    }

    #[test]
    fn a_damaged_chunk_header_costs_the_rest_of_its_block_counted_exactly() {
        let mut bytes = Vec::new();
        let mut at = Cursor::default();
        for id in 0..400 {
            encode_record(&mut bytes, &mut at, TYPE_REMOVE, id, &[]);
        }
        // Record 3's chunk header: records 3 to 140, the rest of block 0
        // (141 records of 29 bytes fill 4089 bytes, then 7 bytes of padding).
        bytes[3 * 29 + 2] ^= 0xFF;
        let per_block = BLOCK / 29;
        let found = records(&bytes);
        assert_eq!(found.len() as u64, 400 - (per_block - 3));
        assert_eq!(found[3], (per_block, Some(per_block as u32)));
        let damage: Vec<(u64, u64, Lost)> = scan(Version::V2, &bytes)
            .iter()
            .filter_map(|item| match item {
                Item::Damage(stretch) => Some((stretch.offset, stretch.end, stretch.lost)),
                Item::Record(_) => None,
            })
            .collect();
        assert_eq!(damage, vec![(87, BLOCK, Lost::Exactly(per_block - 3))]);
    }
}
