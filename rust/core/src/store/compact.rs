//! Reclaiming space: deleting fully delivered segments and rewriting the
//! live records into fresh ones.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::PathBuf;

use super::disk::{io_error, partial_path, private_file, segment_path, sync_dir};
use super::format::{
    charge, decode_message_body, encode_message, max_span, message_body_len, Cursor, Version,
};
use super::scan::{message_record_body, record_at};
use super::{
    reserve, LiveRecord, Segment, Store, StoreError, StoredMessage, COMPACT_MIN_DEAD_BYTES,
    SEGMENT_TARGET_BYTES,
};

impl Store {
    /// Reclaims space. Writes delivery marks that were waiting, deletes
    /// segments whose messages were all removed (cheap), and rewrites the
    /// live records into fresh segments only when dead bytes exceed both the
    /// live bytes and 1 MiB, a segment was found damaged on open, or the
    /// disk was found full and dead bytes exceed the live ones. Returns
    /// quickly when there is nothing to do, so it can be called often.
    ///
    /// Crash-safe: new segments are written under a temporary name, synced,
    /// renamed and the directory synced before any old segment is deleted
    /// (oldest first). A crash at any point leaves the old set, or the old and
    /// new sets together, whose copies of a message share one id and are read
    /// back once.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        let marks = self.write_unwritten();
        self.delete_dead_segments()?;
        let damaged = self.segments.values().any(|s| s.damaged);
        let dead = self.total_bytes - self.live_bytes.min(self.total_bytes);
        let crowded = dead > self.live_bytes && dead > COMPACT_MIN_DEAD_BYTES;
        let tried = self.futile_rewrite_dead.is_some_and(|at| dead <= at);
        let full = self.disk_full && dead > self.live_bytes && !tried;
        if damaged || crowded || full {
            if let Err(e) = self.rewrite() {
                if e.is_disk_full() {
                    self.futile_rewrite_dead = Some(dead);
                }
                return Err(e);
            }
            self.futile_rewrite_dead = None;
            self.disk_full = false;
        }
        self.reserve
            .trim_to(reserve::needed(self.live.len() + self.unwritten.len()));
        marks.map(|_| ())
    }

    /// Deletes, oldest first, segments with no live message whose remove
    /// records no longer matter (the messages they removed are gone from
    /// disk). The newest segment stays: its name keeps ids monotonic.
    pub(super) fn delete_dead_segments(&mut self) -> Result<(), StoreError> {
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
            let Some(segment) = self.segments.get(&name) else {
                continue;
            };
            let still_needed = segment
                .remove_targets
                .iter()
                .any(|t| self.segments.contains_key(t));
            if still_needed {
                continue;
            }
            let path = segment_path(&self.dir, name, segment.version);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    result = Err(io_error(&path, "cannot delete", e));
                    break;
                }
            }
            if let Some(segment) = self.segments.remove(&name) {
                self.total_bytes -= segment.bytes;
            }
            // Its messages are gone: marks still waiting for them are moot.
            self.unwritten.retain(|_, segment| *segment != name);
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
            let path = segment_path(&self.dir, output.name, Version::V2);
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
                    self.total_bytes += output.cursor.offset;
                    self.segments
                        .insert(output.name, Segment::new(Version::V2, output.cursor.offset));
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
        self.live_bytes = 0;
        for output in outputs {
            let mut segment = Segment::new(Version::V2, output.cursor.offset);
            for (id, offset, len) in output.records {
                segment.live_count += 1;
                self.live_bytes += len;
                self.live.insert(
                    id,
                    LiveRecord {
                        segment: output.name,
                        offset,
                        len,
                    },
                );
            }
            self.total_bytes += output.cursor.offset;
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
            let version = self
                .segments
                .get(&segment)
                .map_or(Version::V2, |s| s.version);
            let path = segment_path(&self.dir, segment, version);
            let bytes = fs::read(&path).map_err(|e| io_error(&path, "cannot read", e))?;
            for &(id, record) in records {
                let message = read_live(&bytes, version, id, record.offset).map_err(|reason| {
                    StoreError::Corrupt {
                        path: path.clone(),
                        id,
                        offset: record.offset,
                        reason,
                    }
                })?;
                let body_len = message_body_len(&message).unwrap_or(0);
                let full = current.as_ref().is_some_and(|(output, _)| {
                    output.cursor.offset > 0
                        && output.cursor.offset + max_span(body_len) > SEGMENT_TARGET_BYTES
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
                    let mut buffer = Vec::new();
                    let offset = encode_message(&mut buffer, &mut output.cursor, id, &message);
                    file.write_all(&buffer)
                        .map_err(|e| io_error(&output.partial_path, "cannot write", e))?;
                    output.records.push((id, offset, charge(body_len)));
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
        let partial_path = partial_path(&self.dir, name);
        let file = private_file()
            .write(true)
            .create_new(true)
            .open(&partial_path)
            .map_err(|e| io_error(&partial_path, "cannot create", e))?;
        Ok((
            Output {
                name,
                partial_path,
                cursor: Cursor::default(),
                records: Vec::new(),
            },
            file,
        ))
    }
}

/// A segment being written by a compaction.
#[derive(Debug)]
struct Output {
    name: u64,
    partial_path: PathBuf,
    /// Its length is the file's length.
    cursor: Cursor,
    /// (id, offset, charged length) of each record in it.
    records: Vec<(u64, u64, u64)>,
}

fn finish_output(output: Output, file: File, outputs: &mut Vec<Output>) -> Result<(), StoreError> {
    // Pushed before syncing so a failure still deletes the partial file.
    let path = output.partial_path.clone();
    outputs.push(output);
    file.sync_all()
        .map_err(|e| io_error(&path, "cannot sync", e))
}

/// Live message `id` read back from its segment's contents, checked again
/// before it is copied.
fn read_live(
    bytes: &[u8],
    version: Version,
    id: u64,
    offset: u64,
) -> Result<StoredMessage, String> {
    let body = match version {
        Version::V1 => super::v1::message_body(bytes, offset, id)?.to_vec(),
        Version::V2 => {
            let data = record_at(bytes, offset)?;
            message_record_body(&data, id)?.to_vec()
        }
    };
    decode_message_body(&body)
}
