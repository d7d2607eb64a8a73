//! Durable store-and-forward queue: an append-only message log on disk, so a
//! gateway keeps every reading across broker outages, JVM crashes (kill -9)
//! and power cuts.
//!
//! # Layout
//!
//! `<dir>/<client id, escaped>/` (mode 0700) holds one `lock` file (held with
//! an exclusive advisory lock while a [`Store`] is open, so two live clients
//! with the same STOREDIR and MqttId cannot corrupt each other), a `reserve`
//! file (see below) and segment files `seg-<16 hex digits>.v2.log`, all mode
//! 0600 whatever the umask: they hold plant data. The digits are taken from
//! the same counter as message ids, so file names sort in creation order and
//! the newest file name keeps the id counter monotonic even after every
//! message was delivered.
//!
//! # Segment format 2 (all integers little-endian)
//!
//! A file is a sequence of 4096-byte blocks. Records are cut into chunks
//! that never cross a block boundary; a block with fewer than 13 bytes left
//! is padded with zeros, so **every block starts with a chunk header**.
//!
//! ```text
//! chunk:  marker 0xE2 (u8) | kind (u8: 1 whole record, 2 first, 3 middle,
//!         4 last part) | data length (u16) | CRC-32 of the data (u32) |
//!         CRC-32 of the 8 header bytes before it (u32) | data
//! record: type (u8: 1 message, 2 remove) | sequence number in this file
//!         (u32: 0, 1, 2, ...) | message id (u64) | body
//! ```
//!
//! A message body is `flags (u8: bits 0-1 QoS, bit 2 retain)`,
//! `topic length (u16)`, the topic's UTF-8 bytes, then the payload. A remove
//! body is empty; its id names the message it removes (delivered or
//! dropped). A record is charged 13 bytes plus its body plus 12 bytes per
//! 4084 against the size limit.
//!
//! # Why damage can never bring forth a message nobody published
//!
//! Recovery reads a chunk only at a position where the store itself wrote a
//! chunk header: the start of the file, the end of an intact chunk (whose
//! length is covered by the header's own checksum), or a block boundary.
//! When a chunk's data is damaged but its header is intact, reading goes on
//! right after it (that record is lost). When a header is damaged, nothing
//! in it is believed and reading resumes at the next block boundary, never
//! inside the damaged bytes, skipping continuation chunks of a record whose
//! start was lost. Payload bytes therefore never sit where a chunk is looked
//! for: a payload holding a perfect copy of a record, checksums and all, is
//! read as payload or not at all. (Format 1 resumed at the next bytes that
//! parsed as a record, which a payload could supply.) Only a damaged header
//! whose checksum still matches, a one in 2^32 accident, could mislead it,
//! as with any checksum.
//!
//! The cost of this rule is bounded: a damaged header loses the rest of its
//! 4 KiB block. Each loss is reported in [`Recovery::damage`] with the file,
//! the offset, the bytes skipped and the number of records lost: exact from
//! the sequence numbers of the intact records around the damage, or from
//! walking every chunk of it, and otherwise (damage at the end of a file
//! that also broke a header) a lower bound marked as such.
//!
//! Format 1 files (`seg-*.log`, written before format 2) are still read, up
//! to their first damage: that format has no safe place to resume, so the
//! rest of such a file is skipped and reported. They are rewritten in
//! format 2 by the next compaction. Format 1 readers ignore format 2 files
//! (the name does not match), so a downgrade cannot misread them.
//!
//! # Why it survives crashes
//!
//! Files are only ever appended to; nothing is rewritten in place (flash
//! friendly). Every append is one `write` call, so a killed process loses at
//! most the records being written; [`SyncPolicy`] decides when the data is
//! also forced to the medium for power cuts. New records always go to a new
//! segment after an open, never after possible garbage.
//!
//! Segments rotate at about 1 MiB. A segment whose messages were all removed
//! is deleted whole by [`Store::compact`]; a rewrite of the live records into
//! fresh segments happens only when dead bytes dominate, a segment was
//! damaged, or the disk was found full. Payloads are never logged or put in
//! error texts.
//!
//! # A full disk
//!
//! Appends refuse a message with [`StoreError::DiskFull`] when the disk has
//! no room for it, or for its delivery mark in the reserve (about 32 bytes
//! per stored message, a few KiB at least; `reserve.rs` says how it works).
//! Delivery marks draw on the reserve when the disk is full, so a delivered
//! message is not sent again after a restart; [`Store::remove`] returns
//! [`StoreNotice::DiskFullUsingReserve`] when that starts. Should a mark
//! still not be writable (a store opened on an already full disk), the
//! message counts as delivered in memory, the mark is retried on every later
//! remove and compaction, and [`StoreError::DeliveryNotRecorded`] says how
//! many wait; deleting or compacting its segment also settles it.

mod compact;
mod damage;
mod disk;
mod error;
mod format;
mod replay;
mod reserve;
mod scan;
mod v1;
mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use damage::{Damage, Lost};
use disk::{
    create_private_dir, file_name_for_client_id, io_error, list_segments, lock_exclusively,
    private_file, segment_path, sync_dir, LOCK_FILE,
};
pub use error::{StoreError, StoreNotice};
use format::{charge, message_body_len, Cursor, Version, MAX_BODY_LEN};
use replay::Replay;
use reserve::Reserve;

/// Default bound on live data: 16 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// A segment is closed and a new one started when a record would take it
/// past this size, so fully delivered segments can be deleted whole.
const SEGMENT_TARGET_BYTES: u64 = 1024 * 1024;

/// [`Store::compact`] rewrites only when more than this many bytes are dead
/// (and dead bytes outnumber live ones): flash wears with every rewrite.
const COMPACT_MIN_DEAD_BYTES: u64 = 1024 * 1024;

/// With [`SyncPolicy::Batch`], data is forced to the medium at most this often.
pub const BATCH_SYNC_INTERVAL: Duration = Duration::from_millis(100);

/// How long a delivery mark waits for the next append (whose fsync takes it
/// along for free) before [`Store::sync_if_due`] syncs it on its own. Long
/// enough for a gateway that publishes every 10 s to pay one fsync per
/// reading; a power cut can make messages delivered in that time be sent
/// again (never lost).
const MARK_SYNC_DELAY: Duration = Duration::from_secs(30);

/// One message as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

/// When written data is forced to the storage medium (`fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Every append is synced before it returns: nothing that returned is
    /// lost, even to a power cut. (With either policy the mark that a
    /// message was delivered is synced with the next append, or on its own
    /// after 30 s ([`Store::sync_if_due`]): a power cut can make a message
    /// delivered in those seconds be sent again, never lost, and a stream
    /// of messages costs one fsync each instead of two.)
    Always,
    /// Messages are synced at most every 100 ms (checked on each append), on
    /// [`Store::sync`] and on close. Data is written to the operating system
    /// immediately, so a crashed or killed process loses nothing; a power cut
    /// can lose messages written in the last 100 ms. Call
    /// [`Store::sync_if_due`] from a timer (every 100 ms, say) so a quiet
    /// period is synced too.
    Batch,
}

/// What [`Store::append`] does when the live data would exceed `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullPolicy {
    /// Refuse the new message with [`StoreError::Full`].
    Reject,
    /// Drop the oldest messages to make room; [`Appended::dropped`] names them.
    DropOldest,
}

/// Where and how a store keeps its messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The STOREDIR; each client id gets its own directory inside it.
    pub dir: PathBuf,
    /// The MqttId. Escaped into a safe directory name.
    pub client_id: String,
    /// Bound on live data on disk, counting whole records. Removed records
    /// take space until [`Store::compact`] reclaims them, so the files can
    /// briefly hold up to about twice this plus 2 MiB.
    pub max_bytes: u64,
    pub sync: SyncPolicy,
    pub full: FullPolicy,
}

impl StoreConfig {
    /// The safe defaults: 16 MiB, [`SyncPolicy::Always`], [`FullPolicy::Reject`].
    pub fn new(dir: impl Into<PathBuf>, client_id: impl Into<String>) -> StoreConfig {
        StoreConfig {
            dir: dir.into(),
            client_id: client_id.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            sync: SyncPolicy::Always,
            full: FullPolicy::Reject,
        }
    }
}

/// What [`Store::open`] found on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Undelivered messages with their ids, oldest first.
    pub messages: Vec<(u64, StoredMessage)>,
    /// One report per damaged stretch of a file. Empty when every file read
    /// back cleanly.
    pub damage: Vec<Damage>,
}

/// The result of [`Store::append`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The new message's id; pass it to [`Store::remove`] once delivered.
    pub id: u64,
    /// Messages dropped to make room ([`FullPolicy::DropOldest`]), oldest first.
    pub dropped: Vec<u64>,
}

/// An open message store. Not internally synchronized: wrap it in a `Mutex`.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    /// Holds the advisory lock for as long as the store is open.
    _lock: File,
    max_bytes: u64,
    sync: SyncPolicy,
    full: FullPolicy,
    /// Every segment file on disk, by name number (ascending = oldest first).
    segments: BTreeMap<u64, Segment>,
    /// Where each live message's record is, by id (ascending = oldest first).
    live: BTreeMap<u64, LiveRecord>,
    live_bytes: u64,
    /// Sum of all segment file sizes.
    total_bytes: u64,
    next_id: u64,
    active: Option<ActiveSegment>,
    last_sync: Instant,
    /// fsyncs of segment data since open (for tests and diagnostics).
    syncs: u64,
    /// A message was written and not yet synced (SyncPolicy::Batch): due
    /// within 100 ms. Unsynced delivery marks alone may wait longer.
    unsynced_message: bool,
    dropped: u64,
    reserve: Reserve,
    /// Delivered messages whose remove record could not be written yet, with
    /// the segment each is in.
    unwritten: BTreeMap<u64, u64>,
    /// The reserve was drawn on and not refilled since.
    reserve_drawn: bool,
    /// The last append found the disk full: compaction then rewrites for
    /// less dead space than usual.
    disk_full: bool,
    /// Dead bytes when a rewrite last failed for lack of space; it is not
    /// tried again until there are more.
    futile_rewrite_dead: Option<u64>,
}

#[derive(Debug)]
struct Segment {
    version: Version,
    bytes: u64,
    live_count: usize,
    /// Segments holding messages that this segment's remove records removed.
    /// While one of them exists this segment must stay, or those messages
    /// would come back on the next open.
    remove_targets: BTreeSet<u64>,
    /// Damage was found in it; compaction rewrites the store so the damage
    /// is reported once, not on every open.
    damaged: bool,
}

impl Segment {
    fn new(version: Version, bytes: u64) -> Segment {
        Segment {
            version,
            bytes,
            live_count: 0,
            remove_targets: BTreeSet::new(),
            damaged: false,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct LiveRecord {
    segment: u64,
    /// Where the record (its first chunk) starts.
    offset: u64,
    /// Bytes charged against the size limit ([`format::charge`]).
    len: u64,
}

#[derive(Debug)]
struct ActiveSegment {
    name: u64,
    file: File,
    cursor: Cursor,
    /// Written since the last sync.
    dirty: bool,
}

/// What one write put on disk.
struct Written {
    segment: u64,
    /// The message's id and offset, when the write held one.
    message: Option<(u64, u64)>,
}

impl Store {
    /// Opens (creating if needed) the store of `config.client_id` in
    /// `config.dir`, takes its lock and reads back every undelivered message.
    /// Damaged records do not fail the open: they are skipped and reported
    /// in [`Recovery::damage`].
    pub fn open(config: StoreConfig) -> Result<(Store, Recovery), StoreError> {
        if config.client_id.is_empty() {
            return Err(StoreError::InvalidConfig {
                reason: "the client id is empty; a store needs a stable client id".to_owned(),
            });
        }
        if config.max_bytes == 0 {
            return Err(StoreError::InvalidConfig {
                reason: "the store size limit is 0 bytes".to_owned(),
            });
        }
        let root = if config.dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            config.dir
        };
        let dir = root.join(file_name_for_client_id(&config.client_id));
        create_private_dir(&dir)?;
        // The new directory's entry must survive a power cut too.
        sync_dir(&root)?;

        let lock_path = dir.join(LOCK_FILE);
        let lock = private_file()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| io_error(&lock_path, "cannot open the lock file", e))?;
        lock_exclusively(&lock, &lock_path, &dir)?;

        let names = list_segments(&dir)?;
        let mut replay = Replay::default();
        for &(name, version) in &names {
            let path = segment_path(&dir, name, version);
            let bytes = fs::read(&path).map_err(|e| io_error(&path, "cannot read", e))?;
            replay.segment(name, version, &path, &bytes);
        }
        let Replay {
            mut segments,
            live,
            mut messages,
            damage,
            max_id,
        } = replay;
        let mut live_bytes = 0;
        for record in live.values() {
            live_bytes += record.len;
            if let Some(segment) = segments.get_mut(&record.segment) {
                segment.live_count += 1;
            }
        }
        let total_bytes = segments.values().map(|s| s.bytes).sum();
        let newest_name = names.last().map_or(0, |(name, _)| *name);
        let next_id = max_id.max(newest_name).saturating_add(1);

        // A full disk must not stop the recovery: without the reserve, marks
        // are written while there is room and kept in memory otherwise.
        let mut reserve = Reserve::open(&dir);
        let disk_full = reserve
            .grow_to(reserve::needed(live.len()))
            .is_err_and(|e| disk::is_out_of_space(&e));

        let recovered = live
            .keys()
            .filter_map(|id| messages.remove(id).map(|m| (*id, m)))
            .collect();
        let store = Store {
            dir,
            _lock: lock,
            max_bytes: config.max_bytes,
            sync: config.sync,
            full: config.full,
            segments,
            live,
            live_bytes,
            total_bytes,
            next_id,
            active: None,
            last_sync: Instant::now(),
            syncs: 0,
            unsynced_message: false,
            dropped: 0,
            reserve,
            unwritten: BTreeMap::new(),
            reserve_drawn: false,
            disk_full,
            futile_rewrite_dead: None,
        };
        Ok((
            store,
            Recovery {
                messages: recovered,
                damage,
            },
        ))
    }

    /// Stores `message` and returns its id; durable per the [`SyncPolicy`]
    /// before it returns. When the live data would exceed `max_bytes`,
    /// [`FullPolicy::Reject`] fails with [`StoreError::Full`] and
    /// [`FullPolicy::DropOldest`] removes the oldest messages first. When the
    /// disk has no room for the message and its delivery mark, it fails with
    /// [`StoreError::DiskFull`], whatever the policy.
    ///
    /// When writing or syncing fails the message counts as not stored, though
    /// it may already be on disk and come back on the next open: at least
    /// once, as QoS 1 expects.
    pub fn append(&mut self, message: &StoredMessage) -> Result<Appended, StoreError> {
        let body_len =
            message_body_len(message).map_err(|reason| StoreError::InvalidMessage { reason })?;
        let size = charge(body_len);
        let limit = self.max_bytes.min(charge(MAX_BODY_LEN));
        if size > limit {
            return Err(StoreError::TooLarge { size, max: limit });
        }

        let mut dropped = Vec::new();
        if self.live_bytes + size > self.max_bytes {
            match self.full {
                FullPolicy::Reject => {
                    return Err(StoreError::Full {
                        used: self.live_bytes,
                        max: self.max_bytes,
                    })
                }
                FullPolicy::DropOldest => {
                    let mut freed = 0;
                    for (&id, record) in &self.live {
                        if self.live_bytes - freed + size <= self.max_bytes {
                            break;
                        }
                        freed += record.len;
                        dropped.push(id);
                    }
                }
            }
        }

        let result = self
            .grow_reserve(self.live.len() - dropped.len() + 1)
            .and_then(|()| self.write_records(&dropped, Some(message)));
        let written = match result {
            Ok(written) => written,
            Err(e) => {
                self.disk_full = e.is_disk_full();
                return Err(e);
            }
        };
        self.disk_full = false;
        for &dropped_id in &dropped {
            self.forget(dropped_id, Some(written.segment));
        }
        self.dropped += dropped.len() as u64;
        let Some((id, offset)) = written.message else {
            return Err(StoreError::Io {
                path: self.dir.clone(),
                reason: "the message was not written".to_owned(),
            });
        };
        self.remember(
            id,
            LiveRecord {
                segment: written.segment,
                offset,
                len: size,
            },
        );
        Ok(Appended { id, dropped })
    }

    /// Marks message `id` delivered by appending a remove record. Removing an
    /// id that is not stored (or no longer) does nothing.
    ///
    /// Returns a notice when the disk is full and the mark went into the
    /// reserve (once, when that starts). When even that fails, the message
    /// still counts as delivered in memory and the error says how many marks
    /// wait to be written; they are retried on every later remove and
    /// compaction.
    pub fn remove(&mut self, id: u64) -> Result<Option<StoreNotice>, StoreError> {
        let Some(record) = self.forget(id, None) else {
            return Ok(None);
        };
        self.unwritten.insert(id, record.segment);
        self.write_unwritten()
    }

    /// Syncs what is due by now: a message 100 ms after it was written
    /// ([`SyncPolicy::Batch`]; [`SyncPolicy::Always`] syncs messages at
    /// once), delivery marks that waited 30 s for an append to take them
    /// along. Call it from a timer (every 100 ms, say); it returns at once
    /// when nothing is due.
    pub fn sync_if_due(&mut self) -> Result<(), StoreError> {
        let wait = if self.unsynced_message {
            BATCH_SYNC_INTERVAL
        } else {
            MARK_SYNC_DELAY
        };
        if self.last_sync.elapsed() >= wait {
            self.sync()
        } else {
            Ok(())
        }
    }

    /// Forces everything written so far to the storage medium. Returns at
    /// once when nothing is pending.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        let Some(active) = self.active.as_mut() else {
            return Ok(());
        };
        if !active.dirty {
            return Ok(());
        }
        let path = segment_path(&self.dir, active.name, Version::V2);
        if let Err(e) = active.file.sync_data() {
            // After a failed fsync the state of the written pages is unknown;
            // write later records to a fresh segment.
            self.active = None;
            return Err(io_error(&path, "cannot sync", e));
        }
        active.dirty = false;
        self.last_sync = Instant::now();
        self.syncs += 1;
        self.unsynced_message = false;
        Ok(())
    }

    /// Syncs and closes the store, releasing its lock. Dropping a store does
    /// the same but cannot report a failure.
    pub fn close(mut self) -> Result<(), StoreError> {
        let marks = self.write_unwritten();
        self.sync()?;
        marks.map(|_| ())
    }

    /// The directory of this store (`<dir>/<escaped client id>`), which it
    /// holds locked while open; files other than its segments are left alone.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// How many times segment data was forced to the medium since open.
    pub fn sync_count(&self) -> u64 {
        self.syncs
    }

    /// Number of undelivered messages.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// Bytes charged for undelivered messages (records and chunk headers);
    /// bounded by `max_bytes`.
    pub fn used_bytes(&self) -> u64 {
        self.live_bytes
    }

    /// Bytes held back for delivery marks in case the disk fills up.
    pub fn reserved_bytes(&self) -> u64 {
        self.reserve.len()
    }

    /// Messages dropped by [`FullPolicy::DropOldest`] since the store was opened.
    pub fn dropped_count(&self) -> u64 {
        self.dropped
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.write_unwritten();
        let _ = self.sync();
    }
}
