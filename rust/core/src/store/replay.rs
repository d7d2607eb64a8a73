//! Reading the segments back when a store is opened.

use std::collections::BTreeMap;
use std::path::Path;

use super::damage::{Damage, Lost, Problem, Stretch};
use super::format::{charge, decode_message_body, Version, TYPE_MESSAGE, TYPE_REMOVE};
use super::scan::{scan, Item};
use super::{LiveRecord, Segment, StoredMessage};

/// State built while reading the segments back on open.
#[derive(Default)]
pub(super) struct Replay {
    pub(super) segments: BTreeMap<u64, Segment>,
    pub(super) live: BTreeMap<u64, LiveRecord>,
    pub(super) messages: BTreeMap<u64, StoredMessage>,
    pub(super) damage: Vec<Damage>,
    pub(super) max_id: u64,
}

impl Replay {
    pub(super) fn segment(&mut self, name: u64, version: Version, path: &Path, bytes: &[u8]) {
        let file_len = bytes.len() as u64;
        let mut segment = Segment::new(version, file_len);
        for item in scan(version, bytes) {
            let found = match item {
                Item::Record(found) => found,
                Item::Damage(stretch) => {
                    segment.damaged = true;
                    self.damage
                        .push(Damage::new(path, file_len, version, &stretch));
                    continue;
                }
            };
            self.max_id = self.max_id.max(found.id);
            if found.kind == TYPE_REMOVE {
                if let Some(removed) = self.live.remove(&found.id) {
                    self.messages.remove(&found.id);
                    if removed.segment != name {
                        segment.remove_targets.insert(removed.segment);
                    }
                }
                continue;
            }
            debug_assert_eq!(found.kind, TYPE_MESSAGE);
            match decode_message_body(&found.body) {
                Ok(message) => {
                    // A compaction interrupted before deleting the old
                    // segments leaves two copies; the later wins.
                    self.live.insert(
                        found.id,
                        LiveRecord {
                            segment: name,
                            offset: found.offset,
                            len: charge(found.body.len()),
                        },
                    );
                    self.messages.insert(found.id, message);
                }
                Err(reason) => {
                    segment.damaged = true;
                    let stretch = Stretch {
                        offset: found.offset,
                        end: found.end,
                        problem: Problem::Unreadable(reason),
                        lost: Lost::Exactly(1),
                    };
                    self.damage
                        .push(Damage::new(path, file_len, version, &stretch));
                }
            }
        }
        self.segments.insert(name, segment);
    }
}
