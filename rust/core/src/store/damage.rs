//! What damage in a segment file cost: the problem found, the records
//! lost, and the report [`Store::open`](super::Store::open) gives for it.

use std::borrow::Borrow;
use std::fmt;
use std::path::{Path, PathBuf};

use super::format::Version;

/// Bytes from `offset` to `end` that hold no readable record.
#[derive(Debug)]
pub(super) struct Stretch {
    pub offset: u64,
    pub end: u64,
    /// The first problem in it.
    pub problem: Problem,
    pub lost: Lost,
}

/// How many records a damaged stretch cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// Known from the sequence numbers of the records around the damage, or
    /// from walking every chunk of it.
    Exactly(u64),
    /// Part of the stretch could not be walked (a damaged chunk header, or a
    /// format 1 file), so only this many records are known to be lost.
    AtLeast(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Problem {
    NoMarker(u8),
    HeaderChecksum,
    UnknownChunkKind(u8),
    ChunkLength(u16),
    DataChecksum,
    /// A continuation chunk whose record's first chunk is missing.
    Orphan,
    /// A record's chunks stop before its last one.
    Unfinished,
    /// The chunks check out but the record inside cannot be read.
    Unreadable(String),
    /// Runs past the end of the file.
    Truncated,
    /// Format 1.
    V1BadMagic(u8),
    V1UnknownType(u8),
    V1ImplausibleLength(u64),
    V1BadChecksum,
}

impl Problem {
    pub(super) fn describe(&self) -> String {
        match self {
            Problem::NoMarker(byte) => {
                format!("a chunk does not start with the chunk marker (found byte 0x{byte:02x})")
            }
            Problem::HeaderChecksum => "a chunk header has a bad checksum".to_owned(),
            Problem::UnknownChunkKind(kind) => format!("a chunk has an unknown kind {kind}"),
            Problem::ChunkLength(len) => {
                format!("a chunk claims a length of {len} bytes, more than its block holds")
            }
            Problem::DataChecksum => "a chunk's data has a bad checksum".to_owned(),
            Problem::Orphan => "a chunk continues a record whose start is missing".to_owned(),
            Problem::Unfinished => "a record's chunks stop before its end".to_owned(),
            Problem::Unreadable(reason) => {
                format!("a record checks out but cannot be read ({reason})")
            }
            Problem::Truncated => "a record runs past the end of the file".to_owned(),
            Problem::V1BadMagic(byte) => {
                format!("a record does not start with the record marker (found byte 0x{byte:02x})")
            }
            Problem::V1UnknownType(kind) => format!("a record has an unknown type {kind}"),
            Problem::V1ImplausibleLength(len) => {
                format!("a record claims an implausible length of {len} bytes")
            }
            Problem::V1BadChecksum => "a record has a bad checksum".to_owned(),
        }
    }
}

/// One damaged stretch of a store file, as [`Store::open`](super::Store::open)
/// found it. Its text (`Display`) names the file, where, what was wrong and
/// how many records were lost; `Borrow<str>` lets a list of them be joined.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Damage {
    pub file: PathBuf,
    /// First damaged byte.
    pub offset: u64,
    /// Bytes skipped.
    pub len: u64,
    /// Records lost: messages, or marks that a message was delivered (a lost
    /// mark brings its message back, so it is sent again: at least once).
    pub lost: Lost,
    text: String,
}

impl Damage {
    pub(super) fn new(file: &Path, file_len: u64, version: Version, stretch: &Stretch) -> Damage {
        let len = stretch.end - stretch.offset;
        let lost = match stretch.lost {
            Lost::Exactly(1) => {
                "1 record lost (a message, or the mark that one was delivered)".to_owned()
            }
            Lost::Exactly(n) => {
                format!("{n} records lost (messages, or marks that messages were delivered)")
            }
            Lost::AtLeast(n) => format!(
                "at least {n} record{} lost (messages, or marks that messages were delivered)",
                if n == 1 { "" } else { "s" }
            ),
        };
        let problem = stretch.problem.describe();
        let old = if version == Version::V1 {
            " (a file in the old format: after damage, the rest of it cannot be read safely)"
        } else {
            ""
        };
        let text = if stretch.end < file_len {
            format!(
                "store file {}: {len} bytes at offset {} are damaged ({problem}); {lost}; reading resumed at offset {}",
                file.display(),
                stretch.offset,
                stretch.end
            )
        } else if stretch.problem == Problem::Truncated {
            format!(
                "store file {}: the last {len} bytes, from offset {}, are a write cut short by a crash or power cut ({problem}); {lost}{old}",
                file.display(),
                stretch.offset,
            )
        } else {
            format!(
                "store file {}: the last {len} bytes, from offset {}, are damaged ({problem}); {lost}{old}",
                file.display(),
                stretch.offset,
            )
        };
        Damage {
            file: file.to_path_buf(),
            offset: stretch.offset,
            len,
            lost: stretch.lost,
            text,
        }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Borrow<str> for Damage {
    fn borrow(&self) -> &str {
        &self.text
    }
}
