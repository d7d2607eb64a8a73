//! Durable store-and-forward queue: an append-only message log on disk, so a
//! gateway keeps every reading across broker outages, JVM crashes (kill -9)
//! and power cuts.
//!
//! # Layout
//!
//! `<dir>/<client id, escaped>/` holds one `lock` file (held with an exclusive
//! advisory lock while a [`Store`] is open, so two live clients with the same
//! STOREDIR and MqttId cannot corrupt each other) and segment files
//! `seg-<16 hex digits>.log`. The digits are taken from the same counter as
//! message ids, so file names sort in creation order and the newest file name
//! keeps the id counter monotonic even after every message was delivered.
//!
//! # Record format (all integers little-endian)
//!
//! ```text
//! offset size field
//!      0    1 magic and format version: 0xE1
//!      1    1 record type: 1 = message, 2 = remove (delivered or dropped)
//!      2    4 body length in bytes (u32)
//!      6    8 message id (u64)
//!     14    n body
//!   14+n    4 CRC-32 (IEEE) of bytes 0 .. 14+n
//! ```
//!
//! A message body is `flags (u8: bits 0-1 QoS, bit 2 retain)`,
//! `topic length (u16)`, the topic's UTF-8 bytes, then the payload. A remove
//! body is empty; its id names the message it removes.
//!
//! # Why it survives crashes
//!
//! Files are only ever appended to; nothing is rewritten in place (flash
//! friendly). Every append is one `write` call, so a killed process loses at
//! most the record being written; [`SyncPolicy`] decides when the data is
//! also forced to the medium for power cuts. On open, a record that is torn
//! (length runs past the end of the file) or corrupt (bad checksum) is
//! reported in [`Recovery::damage`] and skipped, and reading resumes at the
//! next valid record, so records after the damage are kept. New records
//! always go to a new segment, never after garbage.
//!
//! Segments rotate at about 1 MiB. A segment whose messages were all removed
//! is deleted whole by [`Store::compact`]; a rewrite of the live records into
//! fresh segments happens only when dead bytes dominate (or a segment was
//! damaged). Payloads are never logged or put in error texts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Default bound on live data: 16 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// A segment is closed and a new one started when a record would take it
/// past this size, so fully delivered segments can be deleted whole.
const SEGMENT_TARGET_BYTES: u64 = 1024 * 1024;

/// [`Store::compact`] rewrites only when more than this many bytes are dead
/// (and dead bytes outnumber live ones): flash wears with every rewrite.
const COMPACT_MIN_DEAD_BYTES: u64 = 1024 * 1024;

/// With [`SyncPolicy::Batch`], data is forced to the medium at most this often.
const BATCH_SYNC_INTERVAL: Duration = Duration::from_millis(100);

const MAGIC: u8 = 0xE1;
const TYPE_MESSAGE: u8 = 1;
const TYPE_REMOVE: u8 = 2;
const HEADER_LEN: usize = 14;
const CRC_LEN: usize = 4;
const RECORD_OVERHEAD: usize = HEADER_LEN + CRC_LEN;
/// Flags, topic length.
const MESSAGE_PREFIX_LEN: usize = 3;
/// The largest body a record may claim: an MQTT packet cannot be larger
/// (268 435 455 bytes), and refusing more keeps a corrupt length field from
/// being believed while searching for the next valid record.
const MAX_BODY_LEN: usize = 268_435_455;

const FLAG_QOS_MASK: u8 = 0b011;
const FLAG_RETAIN: u8 = 0b100;

const LOCK_FILE: &str = "lock";
const SEGMENT_PREFIX: &str = "seg-";
const SEGMENT_SUFFIX: &str = ".log";
/// A compaction writes its segments under this suffix and renames them once
/// they are complete and synced; a leftover one is an interrupted compaction.
const PARTIAL_SUFFIX: &str = ".tmp";

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
    /// Every append and remove is synced before it returns: nothing that
    /// returned is lost, even to a power cut.
    Always,
    /// Synced at most every 100 ms (checked on each append and remove), on
    /// [`Store::sync`] and on close. Data is written to the operating system
    /// immediately, so a crashed or killed process loses nothing; a power cut
    /// can lose what was written since the last sync. Call [`Store::sync`]
    /// from a timer (every 100 ms, say) so a quiet period is synced too.
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

/// Why a store operation failed. No variant carries a payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("message store: {path}: {reason}")]
    Io { path: PathBuf, reason: String },

    #[error("message store full: {used} of {max} bytes hold undelivered messages; the message was not stored (raise STOREMAXBYTES, or set STOREFULL dropoldest to drop the oldest messages instead)")]
    Full { used: u64, max: u64 },

    #[error("message too large for the store: it takes {size} bytes on disk, the limit is {max}")]
    TooLarge { size: u64, max: u64 },

    #[error("message store {path} is locked by another live client with the same store directory and client id; give each client its own id")]
    Locked { path: PathBuf },

    #[error("message not stored: {reason}")]
    InvalidMessage { reason: String },

    #[error("invalid message store configuration: {reason}")]
    InvalidConfig { reason: String },

    /// A live record no longer reads back (the medium changed it after the
    /// store was opened). Compaction stops and keeps the old files, so no
    /// message is lost; it succeeds again once that message is removed.
    #[error("message store file {path}: the record of message {id} at offset {offset} no longer reads back correctly ({reason}); compaction skipped, files left as they were")]
    Corrupt {
        path: PathBuf,
        id: u64,
        offset: u64,
        reason: String,
    },
}

/// What [`Store::open`] found on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Undelivered messages with their ids, oldest first.
    pub messages: Vec<(u64, StoredMessage)>,
    /// One plain-words report per torn or corrupt stretch of a file. Empty
    /// when every file read back cleanly.
    pub damage: Vec<String>,
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
    dropped: u64,
}

#[derive(Debug, Default)]
struct Segment {
    bytes: u64,
    live_count: usize,
    /// Segments holding messages that this segment's remove records removed.
    /// While one of them exists this segment must stay, or those messages
    /// would come back on the next open.
    remove_targets: BTreeSet<u64>,
    /// Torn or corrupt data was found in it; compaction rewrites the store so
    /// the damage is reported once, not on every open.
    damaged: bool,
}

#[derive(Debug, Clone, Copy)]
struct LiveRecord {
    segment: u64,
    offset: u64,
    len: u64,
}

#[derive(Debug)]
struct ActiveSegment {
    name: u64,
    file: File,
    len: u64,
    /// Written since the last sync.
    dirty: bool,
}

impl Store {
    /// Opens (creating if needed) the store of `config.client_id` in
    /// `config.dir`, takes its lock and reads back every undelivered message.
    /// Torn or corrupt records do not fail the open: they are skipped and
    /// reported in [`Recovery::damage`].
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
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "cannot create the directory", e))?;
        // The new directory's entry must survive a power cut too.
        sync_dir(&root)?;

        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| io_error(&lock_path, "cannot open the lock file", e))?;
        lock_exclusively(&lock, &lock_path, &dir)?;

        let names = list_segments(&dir)?;
        let mut replay = Replay::default();
        for &name in &names {
            let path = segment_path(&dir, name);
            let bytes = fs::read(&path).map_err(|e| io_error(&path, "cannot read", e))?;
            replay.segment(name, &path, &bytes);
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
        let newest_name = names.last().copied().unwrap_or(0);
        let next_id = max_id.max(newest_name).saturating_add(1);

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
            dropped: 0,
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
    /// [`FullPolicy::DropOldest`] removes the oldest messages first.
    ///
    /// When writing or syncing fails the message counts as not stored, though
    /// it may already be on disk and come back on the next open: at least
    /// once, as QoS 1 expects.
    pub fn append(&mut self, message: &StoredMessage) -> Result<Appended, StoreError> {
        let body_len = message_body_len(message)?;
        let size = (RECORD_OVERHEAD + body_len) as u64;
        let limit = self.max_bytes.min((RECORD_OVERHEAD + MAX_BODY_LEN) as u64);
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

        let mut buffer = Vec::with_capacity(dropped.len() * RECORD_OVERHEAD + size as usize);
        for &id in &dropped {
            encode_record(&mut buffer, TYPE_REMOVE, id, &[]);
        }
        let message_offset_in_buffer = buffer.len() as u64;
        self.prepare_active(buffer.len() as u64 + size)?;
        let id = self.next_id;
        self.next_id += 1;
        encode_message(&mut buffer, id, message, body_len);

        let (segment, start) = self.write(&buffer)?;
        for &dropped_id in &dropped {
            self.forget(dropped_id, segment);
        }
        self.dropped += dropped.len() as u64;
        self.remember(
            id,
            LiveRecord {
                segment,
                offset: start + message_offset_in_buffer,
                len: size,
            },
        );
        Ok(Appended { id, dropped })
    }

    /// Marks message `id` delivered by appending a remove record. Removing an
    /// id that is not stored (or no longer) does nothing.
    pub fn remove(&mut self, id: u64) -> Result<(), StoreError> {
        if !self.live.contains_key(&id) {
            return Ok(());
        }
        let mut buffer = Vec::with_capacity(RECORD_OVERHEAD);
        encode_record(&mut buffer, TYPE_REMOVE, id, &[]);
        self.prepare_active(buffer.len() as u64)?;
        let (segment, _) = self.write(&buffer)?;
        self.forget(id, segment);
        Ok(())
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
        let path = segment_path(&self.dir, active.name);
        if let Err(e) = active.file.sync_data() {
            // After a failed fsync the state of the written pages is unknown;
            // write later records to a fresh segment.
            self.active = None;
            return Err(io_error(&path, "cannot sync", e));
        }
        active.dirty = false;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Syncs and closes the store, releasing its lock. Dropping a store does
    /// the same but cannot report a failure.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.sync()
    }

    /// Number of undelivered messages.
    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    /// Bytes on disk taken by undelivered messages (whole records); bounded
    /// by `max_bytes`.
    pub fn used_bytes(&self) -> u64 {
        self.live_bytes
    }

    /// Messages dropped by [`FullPolicy::DropOldest`] since the store was opened.
    pub fn dropped_count(&self) -> u64 {
        self.dropped
    }

    /// Reclaims space. Deletes segments whose messages were all removed
    /// (cheap), and rewrites the live records into fresh segments only when
    /// dead bytes exceed both the live bytes and 1 MiB, or a segment was found
    /// damaged on open. Returns quickly when there is nothing to do, so it can
    /// be called often.
    ///
    /// Crash-safe: new segments are written under a temporary name, synced,
    /// renamed and the directory synced before any old segment is deleted
    /// (oldest first). A crash at any point leaves the old set, or the old and
    /// new sets together, whose copies of a message share one id and are read
    /// back once.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        self.delete_dead_segments()?;
        let damaged = self.segments.values().any(|s| s.damaged);
        let dead = self.total_bytes - self.live_bytes;
        if damaged || (dead > self.live_bytes && dead > COMPACT_MIN_DEAD_BYTES) {
            self.rewrite()?;
        }
        Ok(())
    }

    /// Makes sure an active segment exists that `len` more bytes fit in
    /// (rotating at about 1 MiB).
    fn prepare_active(&mut self, len: u64) -> Result<(), StoreError> {
        if let Some(active) = &self.active {
            if active.len > 0 && active.len + len > SEGMENT_TARGET_BYTES {
                self.seal()?;
            }
        }
        if self.active.is_none() {
            let name = self.next_id;
            self.next_id += 1;
            let path = segment_path(&self.dir, name);
            let file = OpenOptions::new()
                .append(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| io_error(&path, "cannot create", e))?;
            sync_dir(&self.dir)?;
            self.segments.insert(name, Segment::default());
            self.active = Some(ActiveSegment {
                name,
                file,
                len: 0,
                dirty: false,
            });
        }
        Ok(())
    }

    /// Syncs the active segment and stops writing to it.
    fn seal(&mut self) -> Result<(), StoreError> {
        self.sync()?;
        self.active = None;
        Ok(())
    }

    /// Appends `buffer` to the active segment in one write and syncs per the
    /// policy. Returns the segment and the offset the buffer starts at.
    fn write(&mut self, buffer: &[u8]) -> Result<(u64, u64), StoreError> {
        let Some(active) = self.active.as_mut() else {
            return Err(StoreError::Io {
                path: self.dir.clone(),
                reason: "no segment open for writing".to_owned(),
            });
        };
        let name = active.name;
        let start = active.len;
        if let Err(e) = active.file.write_all(buffer) {
            let path = segment_path(&self.dir, name);
            // Cut off a partly written record so later records never follow
            // garbage; if even that fails, start a new segment next time.
            if active.file.set_len(start).is_err() {
                self.active = None;
            }
            return Err(io_error(&path, "cannot write", e));
        }
        active.len += buffer.len() as u64;
        active.dirty = true;
        self.total_bytes += buffer.len() as u64;
        if let Some(segment) = self.segments.get_mut(&name) {
            segment.bytes += buffer.len() as u64;
        }
        let due = match self.sync {
            SyncPolicy::Always => true,
            SyncPolicy::Batch => self.last_sync.elapsed() >= BATCH_SYNC_INTERVAL,
        };
        if due {
            self.sync()?;
        }
        Ok((name, start))
    }

    fn remember(&mut self, id: u64, record: LiveRecord) {
        self.live_bytes += record.len;
        if let Some(segment) = self.segments.get_mut(&record.segment) {
            segment.live_count += 1;
        }
        self.live.insert(id, record);
    }

    /// Drops `id` from the live set after its remove record was written to
    /// `remover`.
    fn forget(&mut self, id: u64, remover: u64) {
        let Some(record) = self.live.remove(&id) else {
            return;
        };
        self.live_bytes -= record.len;
        if let Some(segment) = self.segments.get_mut(&record.segment) {
            segment.live_count -= 1;
        }
        if record.segment != remover {
            if let Some(segment) = self.segments.get_mut(&remover) {
                segment.remove_targets.insert(record.segment);
            }
        }
    }

    /// Deletes, oldest first, segments with no live message whose remove
    /// records no longer matter (the messages they removed are gone from
    /// disk). The newest segment stays: its name keeps ids monotonic.
    fn delete_dead_segments(&mut self) -> Result<(), StoreError> {
        let newest = self.segments.keys().next_back().copied();
        let candidates: Vec<u64> = self
            .segments
            .iter()
            .filter(|(name, s)| Some(**name) != newest && s.live_count == 0)
            .map(|(name, _)| *name)
            .collect();
        let mut deleted_any = false;
        let mut result = Ok(());
        for name in candidates {
            let still_needed = self.segments.get(&name).is_some_and(|s| {
                s.remove_targets
                    .iter()
                    .any(|t| self.segments.contains_key(t))
            });
            if still_needed {
                continue;
            }
            let path = segment_path(&self.dir, name);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    result = Err(io_error(&path, "cannot delete", e));
                    break;
                }
            }
            if let Some(segment) = self.segments.remove(&name) {
                self.total_bytes -= segment.bytes;
            }
            deleted_any = true;
        }
        if deleted_any {
            sync_dir(&self.dir)?;
        }
        result
    }

    /// Copies every live record into fresh segments, then deletes the old ones.
    fn rewrite(&mut self) -> Result<(), StoreError> {
        self.seal()?;
        let mut by_segment: BTreeMap<u64, Vec<(u64, LiveRecord)>> = BTreeMap::new();
        for (&id, record) in &self.live {
            by_segment
                .entry(record.segment)
                .or_default()
                .push((id, *record));
        }

        let mut outputs: Vec<Output> = Vec::new();
        if let Err(e) = self.write_outputs(&by_segment, &mut outputs) {
            for output in &outputs {
                let _ = fs::remove_file(&output.partial_path);
            }
            return Err(e);
        }

        let mut renamed = 0;
        let mut rename_error = None;
        for output in &outputs {
            let path = segment_path(&self.dir, output.name);
            if let Err(e) = fs::rename(&output.partial_path, &path) {
                rename_error = Some(io_error(&output.partial_path, "cannot rename", e));
                break;
            }
            renamed += 1;
        }
        let dir_synced = sync_dir(&self.dir);
        if rename_error.is_some() || dir_synced.is_err() {
            // The old set is intact and still indexed. Renamed outputs hold
            // copies with the same ids; track them as dead so they get deleted.
            for (index, output) in outputs.iter().enumerate() {
                if index < renamed {
                    self.total_bytes += output.len;
                    self.segments.insert(
                        output.name,
                        Segment {
                            bytes: output.len,
                            ..Segment::default()
                        },
                    );
                } else {
                    let _ = fs::remove_file(&output.partial_path);
                }
            }
            dir_synced?;
            return Err(rename_error.unwrap_or_else(|| StoreError::Io {
                path: self.dir.clone(),
                reason: "compaction interrupted".to_owned(),
            }));
        }

        // The new set is durable: point the index at it. The old segments
        // then hold nothing live and are deleted oldest first.
        for segment in self.segments.values_mut() {
            segment.live_count = 0;
        }
        for output in outputs {
            let mut segment = Segment {
                bytes: output.len,
                ..Segment::default()
            };
            for (id, offset, len) in output.records {
                segment.live_count += 1;
                self.live.insert(
                    id,
                    LiveRecord {
                        segment: output.name,
                        offset,
                        len,
                    },
                );
            }
            self.total_bytes += output.len;
            self.segments.insert(output.name, segment);
        }
        self.delete_dead_segments()
    }

    fn write_outputs(
        &mut self,
        by_segment: &BTreeMap<u64, Vec<(u64, LiveRecord)>>,
        outputs: &mut Vec<Output>,
    ) -> Result<(), StoreError> {
        let mut current: Option<(Output, File)> = None;
        for (&segment, records) in by_segment {
            let path = segment_path(&self.dir, segment);
            let bytes = fs::read(&path).map_err(|e| io_error(&path, "cannot read", e))?;
            for &(id, record) in records {
                let raw =
                    verified_record(&bytes, id, record).map_err(|reason| StoreError::Corrupt {
                        path: path.clone(),
                        id,
                        offset: record.offset,
                        reason,
                    })?;
                let full = current.as_ref().is_some_and(|(output, _)| {
                    output.len > 0 && output.len + record.len > SEGMENT_TARGET_BYTES
                });
                if full {
                    if let Some((output, file)) = current.take() {
                        finish_output(output, file, outputs)?;
                    }
                }
                if current.is_none() {
                    current = Some(self.start_output()?);
                }
                if let Some((output, file)) = current.as_mut() {
                    file.write_all(raw)
                        .map_err(|e| io_error(&output.partial_path, "cannot write", e))?;
                    output.records.push((id, output.len, record.len));
                    output.len += record.len;
                }
            }
        }
        // Even with nothing live, one (empty) output keeps the newest name.
        let last = match current.take() {
            Some(open) => open,
            None => self.start_output()?,
        };
        finish_output(last.0, last.1, outputs)
    }

    fn start_output(&mut self) -> Result<(Output, File), StoreError> {
        let name = self.next_id;
        self.next_id += 1;
        let partial_path = self
            .dir
            .join(format!("{SEGMENT_PREFIX}{name:016x}{PARTIAL_SUFFIX}"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial_path)
            .map_err(|e| io_error(&partial_path, "cannot create", e))?;
        Ok((
            Output {
                name,
                partial_path,
                len: 0,
                records: Vec::new(),
            },
            file,
        ))
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

/// A segment being written by a compaction.
#[derive(Debug)]
struct Output {
    name: u64,
    partial_path: PathBuf,
    len: u64,
    /// (id, offset, record length) of each record in it.
    records: Vec<(u64, u64, u64)>,
}

fn finish_output(output: Output, file: File, outputs: &mut Vec<Output>) -> Result<(), StoreError> {
    // Pushed before syncing so a failure still deletes the partial file.
    let path = output.partial_path.clone();
    outputs.push(output);
    file.sync_all()
        .map_err(|e| io_error(&path, "cannot sync", e))
}

/// The bytes of live record `record` in a segment's contents, checked again
/// before they are copied.
fn verified_record(bytes: &[u8], id: u64, record: LiveRecord) -> Result<&[u8], String> {
    let start = usize::try_from(record.offset).map_err(|_| "offset out of range".to_owned())?;
    let len = usize::try_from(record.len).map_err(|_| "length out of range".to_owned())?;
    let raw = bytes
        .get(start..start.saturating_add(len))
        .ok_or_else(|| "the file is shorter than when it was opened".to_owned())?;
    match parse_record(raw, 0) {
        Ok(parsed) if parsed.kind == TYPE_MESSAGE && parsed.id == id && parsed.len == len => {
            Ok(raw)
        }
        Ok(_) => Err("a different record is in its place".to_owned()),
        Err(problem) => Err(format!("the record {}", problem.describe())),
    }
}

/// State built while reading the segments back on open.
#[derive(Default)]
struct Replay {
    segments: BTreeMap<u64, Segment>,
    live: BTreeMap<u64, LiveRecord>,
    messages: BTreeMap<u64, StoredMessage>,
    damage: Vec<String>,
    max_id: u64,
}

impl Replay {
    fn segment(&mut self, name: u64, path: &Path, bytes: &[u8]) {
        let mut segment = Segment {
            bytes: bytes.len() as u64,
            ..Segment::default()
        };
        for item in scan(bytes) {
            match item {
                Scanned::Record(record) => {
                    self.max_id = self.max_id.max(record.id);
                    if record.kind == TYPE_REMOVE {
                        if let Some(removed) = self.live.remove(&record.id) {
                            self.messages.remove(&record.id);
                            if removed.segment != name {
                                segment.remove_targets.insert(removed.segment);
                            }
                        }
                        continue;
                    }
                    match decode_message_body(&bytes[record.body.clone()]) {
                        Ok(message) => {
                            // A compaction interrupted before deleting the
                            // old segments leaves two copies; the later wins.
                            self.live.insert(
                                record.id,
                                LiveRecord {
                                    segment: name,
                                    offset: record.offset as u64,
                                    len: record.len as u64,
                                },
                            );
                            self.messages.insert(record.id, message);
                        }
                        Err(reason) => {
                            segment.damaged = true;
                            self.damage.push(format!(
                                "store file {}: the record of message {} at offset {} has a valid checksum but cannot be read ({reason}); skipped 1 record",
                                path.display(),
                                record.id,
                                record.offset
                            ));
                        }
                    }
                }
                Scanned::Damage {
                    offset,
                    resume,
                    problem,
                } => {
                    segment.damaged = true;
                    self.damage
                        .push(describe_damage(path, bytes.len(), offset, resume, &problem));
                }
            }
        }
        self.segments.insert(name, segment);
    }
}

fn describe_damage(
    path: &Path,
    file_len: usize,
    offset: usize,
    resume: Option<usize>,
    problem: &Problem,
) -> String {
    let path = path.display();
    let problem_text = problem.describe();
    match resume {
        None if matches!(problem, Problem::Truncated { .. }) => format!(
            "store file {path}: the record at offset {offset} {problem_text}: a write cut short by a crash or power cut; ignored the last {} bytes",
            file_len - offset
        ),
        None => format!(
            "store file {path}: the record at offset {offset} {problem_text}; no valid record follows, ignored the last {} bytes",
            file_len - offset
        ),
        Some(resume) => {
            let skipped = resume - offset;
            let what = if problem.claimed_len() == Some(skipped) {
                format!("1 record ({skipped} bytes)")
            } else {
                format!("{skipped} bytes")
            };
            format!(
                "store file {path}: the record at offset {offset} {problem_text}; skipped {what}, reading resumed at the next valid record at offset {resume}"
            )
        }
    }
}

/// What a segment's bytes turned out to hold.
#[derive(Debug)]
enum Scanned {
    Record(ParsedRecord),
    /// Bytes from `offset` up to `resume` (the next valid record, or the end
    /// of the file when `None`) are not valid records.
    Damage {
        offset: usize,
        resume: Option<usize>,
        problem: Problem,
    },
}

#[derive(Debug)]
struct ParsedRecord {
    offset: usize,
    kind: u8,
    id: u64,
    body: std::ops::Range<usize>,
    len: usize,
}

#[derive(Debug)]
enum Problem {
    BadMagic(u8),
    UnknownType(u8),
    ImplausibleLength(u64),
    Truncated { needed: usize, present: usize },
    BadChecksum { id: u64, len: usize },
}

impl Problem {
    /// Completes "the record at offset N …".
    fn describe(&self) -> String {
        match self {
            Problem::BadMagic(byte) => {
                format!("does not start with the record marker (found byte 0x{byte:02x})")
            }
            Problem::UnknownType(kind) => format!("has an unknown type {kind}"),
            Problem::ImplausibleLength(len) => {
                format!("claims an implausible length of {len} bytes")
            }
            Problem::Truncated { needed, present } => format!(
                "runs past the end of the file (only {present} of its {needed} bytes are there)"
            ),
            Problem::BadChecksum { id, .. } => {
                format!("(message {id}, per its header) has a bad checksum")
            }
        }
    }

    /// The record length the header claimed, when it was believable.
    fn claimed_len(&self) -> Option<usize> {
        match self {
            Problem::BadChecksum { len, .. } => Some(*len),
            _ => None,
        }
    }
}

/// Splits a segment's contents into records and damaged stretches. After
/// damage, reading resumes at the next offset holding a whole record with a
/// valid checksum, so records after a corrupt one are kept.
fn scan(bytes: &[u8]) -> Vec<Scanned> {
    let mut items = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        match parse_record(bytes, offset) {
            Ok(record) => {
                offset += record.len;
                items.push(Scanned::Record(record));
            }
            Err(problem) => {
                let resume = (offset + 1..bytes.len())
                    .find(|&at| bytes[at] == MAGIC && parse_record(bytes, at).is_ok());
                items.push(Scanned::Damage {
                    offset,
                    resume,
                    problem,
                });
                offset = resume.unwrap_or(bytes.len());
            }
        }
    }
    items
}

fn parse_record(bytes: &[u8], offset: usize) -> Result<ParsedRecord, Problem> {
    let rest = &bytes[offset..];
    let Some(header) = rest.get(..HEADER_LEN) else {
        return Err(Problem::Truncated {
            needed: RECORD_OVERHEAD,
            present: rest.len(),
        });
    };
    if header[0] != MAGIC {
        return Err(Problem::BadMagic(header[0]));
    }
    let kind = header[1];
    if kind != TYPE_MESSAGE && kind != TYPE_REMOVE {
        return Err(Problem::UnknownType(kind));
    }
    let body_len = u32::from_le_bytes([header[2], header[3], header[4], header[5]]);
    let plausible = match kind {
        TYPE_REMOVE => body_len == 0,
        _ => body_len as usize >= MESSAGE_PREFIX_LEN && body_len as usize <= MAX_BODY_LEN,
    };
    if !plausible {
        return Err(Problem::ImplausibleLength(u64::from(body_len)));
    }
    let len = RECORD_OVERHEAD + body_len as usize;
    let id = u64::from_le_bytes([
        header[6], header[7], header[8], header[9], header[10], header[11], header[12], header[13],
    ]);
    let Some(raw) = rest.get(..len) else {
        return Err(Problem::Truncated {
            needed: len,
            present: rest.len(),
        });
    };
    let (covered, stored) = raw.split_at(len - CRC_LEN);
    let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    if crc32(covered) != stored {
        return Err(Problem::BadChecksum { id, len });
    }
    Ok(ParsedRecord {
        offset,
        kind,
        id,
        body: offset + HEADER_LEN..offset + len - CRC_LEN,
        len,
    })
}

fn message_body_len(message: &StoredMessage) -> Result<usize, StoreError> {
    if message.qos > 2 {
        return Err(StoreError::InvalidMessage {
            reason: format!("QoS {} is not 0, 1 or 2", message.qos),
        });
    }
    if message.topic.len() > usize::from(u16::MAX) {
        return Err(StoreError::InvalidMessage {
            reason: format!(
                "the topic is {} bytes long; MQTT allows at most 65535",
                message.topic.len()
            ),
        });
    }
    Ok(MESSAGE_PREFIX_LEN + message.topic.len() + message.payload.len())
}

/// Appends a message record; `body_len` is from [`message_body_len`].
fn encode_message(out: &mut Vec<u8>, id: u64, message: &StoredMessage, body_len: usize) {
    let mut flags = message.qos & FLAG_QOS_MASK;
    if message.retain {
        flags |= FLAG_RETAIN;
    }
    // Checked by message_body_len: topics fit in u16, bodies in MAX_BODY_LEN.
    let topic_len = message.topic.len() as u16;
    let start = out.len();
    out.push(MAGIC);
    out.push(TYPE_MESSAGE);
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.push(flags);
    out.extend_from_slice(&topic_len.to_le_bytes());
    out.extend_from_slice(message.topic.as_bytes());
    out.extend_from_slice(&message.payload);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

fn encode_record(out: &mut Vec<u8>, kind: u8, id: u64, body: &[u8]) {
    let start = out.len();
    out.push(MAGIC);
    out.push(kind);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

fn decode_message_body(body: &[u8]) -> Result<StoredMessage, String> {
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

/// Segment names in the store directory, oldest first. Deletes partial files
/// of an interrupted compaction: the old segments they were copied from are
/// all still there.
fn list_segments(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, "cannot list", e))?;
    let mut names = Vec::new();
    let mut removed_partial = false;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, "cannot list", e))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if let Some(name) = parse_segment_name(file_name, SEGMENT_SUFFIX) {
            names.push(name);
        } else if parse_segment_name(file_name, PARTIAL_SUFFIX).is_some() {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| io_error(&path, "cannot delete", e))?;
            removed_partial = true;
        }
    }
    if removed_partial {
        sync_dir(dir)?;
    }
    names.sort_unstable();
    Ok(names)
}

fn parse_segment_name(file_name: &str, suffix: &str) -> Option<u64> {
    let digits = file_name
        .strip_prefix(SEGMENT_PREFIX)?
        .strip_suffix(suffix)?;
    if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

fn segment_path(dir: &Path, name: u64) -> PathBuf {
    dir.join(format!("{SEGMENT_PREFIX}{name:016x}{SEGMENT_SUFFIX}"))
}

/// A file name for a client id: bytes outside `[A-Za-z0-9._-]` (and a
/// leading dot, so `.` and `..` stay inside the store directory) become
/// `%XX`. Distinct ids give distinct names; very long ids are cut and
/// suffixed with a 64-bit hash of the whole id to fit file-name limits.
fn file_name_for_client_id(client_id: &str) -> String {
    const MAX_NAME: usize = 200;
    const KEEP: usize = 180;
    let mut name = String::with_capacity(client_id.len());
    let mut cut = None;
    for (index, byte) in client_id.bytes().enumerate() {
        if cut.is_none() && name.len() + 3 > KEEP {
            cut = Some(name.len());
        }
        let safe = byte.is_ascii_alphanumeric()
            || byte == b'-'
            || byte == b'_'
            || (byte == b'.' && index > 0);
        if safe {
            name.push(char::from(byte));
        } else {
            let _ = write!(name, "%{byte:02X}");
        }
    }
    if name.len() > MAX_NAME {
        let reversed: Vec<u8> = client_id.bytes().rev().collect();
        name.truncate(cut.unwrap_or(KEEP));
        // '~' is always escaped above, so a cut name never equals a whole one.
        let _ = write!(
            name,
            "~{:08x}{:08x}",
            crc32(client_id.as_bytes()),
            crc32(&reversed)
        );
    }
    name
}

/// Takes the store's advisory lock without waiting: a second live client with
/// the same store directory and client id gets [`StoreError::Locked`]. The
/// lock is tied to the open file, so the operating system releases it when a
/// crashed process dies; a stale lock file never blocks a restart.
// `File::try_lock` (Rust 1.89) is why the workspace's rust-version is 1.89.
fn lock_exclusively(lock: &File, lock_path: &Path, dir: &Path) -> Result<(), StoreError> {
    match lock.try_lock() {
        Ok(()) => Ok(()),
        Err(fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            path: dir.to_path_buf(),
        }),
        Err(fs::TryLockError::Error(e)) => Err(io_error(lock_path, "cannot lock the lock file", e)),
    }
}

/// Makes created, renamed and deleted directory entries survive a power cut.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(dir, "cannot sync the directory", e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn io_error(path: &Path, action: &str, error: io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        reason: format!("{action}: {error}"),
    }
}

/// CRC-32 (IEEE 802.3, as in zip and PNG).
fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn client_id_file_names_are_safe_and_distinct() {
        assert_eq!(file_name_for_client_id("flexy-1_a.b"), "flexy-1_a.b");
        assert_eq!(file_name_for_client_id(".."), "%2E.");
        assert_eq!(file_name_for_client_id("a/b"), "a%2Fb");
        assert_ne!(
            file_name_for_client_id("a%2Fb"),
            file_name_for_client_id("a/b")
        );
        let long_a = "a".repeat(300);
        let long_b = format!("{}b", "a".repeat(299));
        assert!(file_name_for_client_id(&long_a).len() <= 200);
        assert_ne!(
            file_name_for_client_id(&long_a),
            file_name_for_client_id(&long_b)
        );
    }

    #[test]
    fn scan_resumes_after_a_corrupt_record() {
        let mut bytes = Vec::new();
        for id in 1..=3 {
            encode_record(&mut bytes, TYPE_REMOVE, id, &[]);
        }
        bytes[RECORD_OVERHEAD + 8] ^= 0x40;
        let items = scan(&bytes);
        let ids: Vec<u64> = items
            .iter()
            .filter_map(|i| match i {
                Scanned::Record(r) => Some(r.id),
                Scanned::Damage { .. } => None,
            })
            .collect();
        assert_eq!(ids, vec![1, 3]);
    }
}
