//! How records reach the segment files: one write per call to the active
//! segment, rotation and syncing, the reserve for delivery marks, and the
//! live set's bookkeeping.

use std::io::Write as _;

use super::disk::{io_error, private_file, segment_path, sync_dir};
use super::format::{
    encode_message, encode_record, max_span, message_body_len, Cursor, Version, TYPE_REMOVE,
};
use super::{
    reserve, ActiveSegment, LiveRecord, Segment, Store, StoreError, StoreNotice, StoredMessage,
    SyncPolicy, Written, BATCH_SYNC_INTERVAL, SEGMENT_TARGET_BYTES,
};

impl Store {
    /// Writes the remove records of `unwritten` in one write, drawing on the
    /// reserve when the disk is full.
    pub(super) fn write_unwritten(&mut self) -> Result<Option<StoreNotice>, StoreError> {
        if self.unwritten.is_empty() {
            return Ok(None);
        }
        let ids: Vec<u64> = self.unwritten.keys().copied().collect();
        let mut drew = false;
        let written = loop {
            match self.write_records(&ids, None) {
                Ok(written) => break written,
                Err(e) if e.is_disk_full() && self.reserve.release_step() => {
                    drew = true;
                    self.disk_full = true;
                }
                Err(e) => {
                    self.disk_full |= e.is_disk_full();
                    return Err(StoreError::DeliveryNotRecorded {
                        path: self.dir.clone(),
                        pending: self.unwritten.len(),
                        reason: e.to_string(),
                    });
                }
            }
        };
        let remover = written.segment;
        for (_, segment) in std::mem::take(&mut self.unwritten) {
            if segment != remover && self.segments.contains_key(&segment) {
                if let Some(holder) = self.segments.get_mut(&remover) {
                    holder.remove_targets.insert(segment);
                }
            }
        }
        if !drew || self.reserve_drawn {
            return Ok(None);
        }
        self.reserve_drawn = true;
        Ok(Some(StoreNotice::DiskFullUsingReserve {
            path: self.dir.clone(),
            left: self.reserve.len(),
        }))
    }

    /// Grows the reserve to cover marks for `messages` stored messages.
    pub(super) fn grow_reserve(&mut self, messages: usize) -> Result<(), StoreError> {
        let target = reserve::needed(messages + self.unwritten.len());
        if self.reserve.len() >= target {
            return Ok(());
        }
        match self.reserve.grow_to(target) {
            Ok(()) => {
                self.reserve_drawn = false;
                Ok(())
            }
            Err(e) => Err(io_error(
                self.reserve.path(),
                "cannot reserve space for delivery marks",
                e,
            )),
        }
    }

    /// Writes remove records for `removes`, then `message` if given, to the
    /// active segment in one write.
    pub(super) fn write_records(
        &mut self,
        removes: &[u64],
        message: Option<&StoredMessage>,
    ) -> Result<Written, StoreError> {
        let body_len = message.map(|m| message_body_len(m).unwrap_or(0));
        let estimate = removes.len() as u64 * max_span(0) + body_len.map_or(0, max_span);
        self.prepare_active(estimate)?;
        let Some(mut cursor) = self.active.as_ref().map(|a| a.cursor) else {
            return Err(StoreError::Io {
                path: self.dir.clone(),
                reason: "no segment open for writing".to_owned(),
            });
        };
        let mut buffer = Vec::with_capacity(estimate as usize);
        for &id in removes {
            encode_record(&mut buffer, &mut cursor, TYPE_REMOVE, id, &[]);
        }
        let message = message.map(|message| {
            let id = self.next_id;
            self.next_id += 1;
            (id, encode_message(&mut buffer, &mut cursor, id, message))
        });
        // Only a new message must be on the medium before this returns.
        let segment = self.write(&buffer, cursor, message.is_some())?;
        Ok(Written { segment, message })
    }

    /// Makes sure an active segment exists that `len` more bytes fit in
    /// (rotating at about 1 MiB).
    fn prepare_active(&mut self, len: u64) -> Result<(), StoreError> {
        if let Some(active) = &self.active {
            if active.cursor.offset > 0 && active.cursor.offset + len > SEGMENT_TARGET_BYTES {
                self.seal()?;
            }
        }
        if self.active.is_none() {
            let name = self.next_id;
            self.next_id += 1;
            let path = segment_path(&self.dir, name, Version::V2);
            let file = private_file()
                .append(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| io_error(&path, "cannot create", e))?;
            self.segments.insert(name, Segment::new(Version::V2, 0));
            self.active = Some(ActiveSegment {
                name,
                file,
                cursor: Cursor::default(),
                dirty: false,
            });
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Syncs the active segment and stops writing to it.
    pub(super) fn seal(&mut self) -> Result<(), StoreError> {
        self.sync()?;
        self.active = None;
        Ok(())
    }

    /// Appends `buffer` to the active segment in one write and syncs per the
    /// policy (`holds_message`: it holds a new message, which SyncPolicy::Always
    /// syncs at once); `end` is where the buffer leaves the segment's layout.
    /// Returns the segment written to.
    fn write(
        &mut self,
        buffer: &[u8],
        end: Cursor,
        holds_message: bool,
    ) -> Result<u64, StoreError> {
        let Some(active) = self.active.as_mut() else {
            return Err(StoreError::Io {
                path: self.dir.clone(),
                reason: "no segment open for writing".to_owned(),
            });
        };
        let name = active.name;
        let start = active.cursor.offset;
        if let Err(e) = active.file.write_all(buffer) {
            let path = segment_path(&self.dir, name, Version::V2);
            // Cut off partly written records so later records never follow
            // garbage; if even that fails, start a new segment next time.
            if active.file.set_len(start).is_err() {
                self.active = None;
            }
            return Err(io_error(&path, "cannot write", e));
        }
        active.cursor = end;
        active.dirty = true;
        self.total_bytes += buffer.len() as u64;
        if let Some(segment) = self.segments.get_mut(&name) {
            segment.bytes += buffer.len() as u64;
        }
        // Delivery marks never sync by themselves: the next append's fsync
        // or Store::sync_if_due takes them along.
        self.unsynced_message |= holds_message;
        let due = holds_message
            && match self.sync {
                SyncPolicy::Always => true,
                SyncPolicy::Batch => self.last_sync.elapsed() >= BATCH_SYNC_INTERVAL,
            };
        if due {
            self.sync()?;
        }
        Ok(name)
    }

    pub(super) fn remember(&mut self, id: u64, record: LiveRecord) {
        self.live_bytes += record.len;
        if let Some(segment) = self.segments.get_mut(&record.segment) {
            segment.live_count += 1;
        }
        self.live.insert(id, record);
    }

    /// Drops `id` from the live set; `remover` is the segment its remove
    /// record was written to, when it was.
    pub(super) fn forget(&mut self, id: u64, remover: Option<u64>) -> Option<LiveRecord> {
        let record = self.live.remove(&id)?;
        self.live_bytes -= record.len;
        if let Some(segment) = self.segments.get_mut(&record.segment) {
            segment.live_count -= 1;
        }
        if let Some(remover) = remover.filter(|&r| r != record.segment) {
            if let Some(segment) = self.segments.get_mut(&remover) {
                segment.remove_targets.insert(record.segment);
            }
        }
        Some(record)
    }
}
