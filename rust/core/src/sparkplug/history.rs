//! The node's queue of recorded DATA, oldest first: bounded in memory, and
//! durable with STOREDIR (the message store of [`crate::store`], under its
//! own id `<MqttId>#sparkplug`).
//!
//! An entry is an *un-stamped* payload: the metrics by name with datatype,
//! value and acquisition time, and no `seq`, payload timestamp or aliases.
//! Those belong to the session that sends it and are added when it is
//! handed out, so an entry recorded in one JVM is sent correctly by the next.
//! Entries leave the store when handed out: NDATA and DDATA are QoS 0.

use std::collections::VecDeque;

use crate::store::{Store, StoreError, StoredMessage};

use super::SparkplugError;

/// Bound on queued payload bytes without STOREDIR (about 7 000 readings of
/// ten metrics); with STOREDIR, STOREMAXBYTES bounds the queue instead.
pub const MEMORY_LIMIT_BYTES: usize = 2 * 1024 * 1024;

/// One recorded NDATA or DDATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The NDATA or DDATA topic: says whose metrics these are.
    pub topic: String,
    /// The un-stamped payload (protobuf).
    pub payload: Vec<u8>,
    /// The birth this was recorded under; `None` when recorded while not
    /// born (offline, or in an earlier run). Sent under another birth, the
    /// entry is history.
    pub generation: Option<u64>,
    store_id: Option<u64>,
}

/// The queue.
#[derive(Debug)]
pub struct History {
    entries: VecDeque<Entry>,
    bytes: usize,
    store: Option<Store>,
    dropped: u64,
}

impl History {
    pub fn in_memory() -> History {
        History {
            entries: VecDeque::new(),
            bytes: 0,
            store: None,
            dropped: 0,
        }
    }

    /// A durable queue holding what an earlier run left in `store`.
    pub fn durable(store: Store, recovered: Vec<(u64, StoredMessage)>) -> History {
        let mut history = History {
            store: Some(store),
            ..History::in_memory()
        };
        for (id, message) in recovered {
            history.bytes += message.payload.len();
            history.entries.push_back(Entry {
                topic: message.topic,
                payload: message.payload,
                generation: None,
                store_id: Some(id),
            });
        }
        history
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries dropped to make room (STOREFULL dropoldest) since start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn is_durable(&self) -> bool {
        self.store.is_some()
    }

    /// Appends; on disk before it returns when durable (per STORESYNC).
    pub fn push(
        &mut self,
        topic: String,
        payload: Vec<u8>,
        generation: Option<u64>,
    ) -> Result<(), super::NodeError> {
        let store_id = match self.store.as_mut() {
            Some(store) => {
                let appended = store.append(&StoredMessage {
                    topic: topic.clone(),
                    payload: payload.clone(),
                    qos: 0,
                    retain: false,
                })?;
                if !appended.dropped.is_empty() {
                    self.forget(&appended.dropped);
                }
                Some(appended.id)
            }
            None => {
                if self.bytes + payload.len() > MEMORY_LIMIT_BYTES {
                    return Err(SparkplugError::QueueFull {
                        queued: self.entries.len(),
                        bytes: self.bytes,
                        limit: MEMORY_LIMIT_BYTES,
                    }
                    .into());
                }
                None
            }
        };
        self.bytes += payload.len();
        self.entries.push_back(Entry {
            topic,
            payload,
            generation,
            store_id,
        });
        Ok(())
    }

    /// Takes the oldest entry and removes it from the store. A store that
    /// fails to record the removal does not keep the entry from going out:
    /// it may then be sent again after a restart (the error is returned
    /// beside the entry for the caller to report).
    pub fn pop(&mut self) -> Option<(Entry, Option<StoreError>)> {
        let entry = self.entries.pop_front()?;
        self.bytes -= entry.payload.len();
        let mut failure = None;
        if let (Some(store), Some(id)) = (self.store.as_mut(), entry.store_id) {
            if let Err(e) = store.remove(id) {
                failure = Some(e);
            }
        }
        Some((entry, failure))
    }

    /// Syncs what the store's policy says is due by now
    /// ([`Store::sync_if_due`]): called from the I/O thread's timer.
    pub fn maintain(&mut self) -> Option<StoreError> {
        self.store.as_mut()?.sync_if_due().err()
    }

    /// Syncs and releases the store; the queue then lives in memory only.
    pub fn close(&mut self) -> Result<(), StoreError> {
        match self.store.take() {
            Some(store) => store.close(),
            None => Ok(()),
        }
    }

    /// Drops the entries the store dropped (always the oldest).
    fn forget(&mut self, ids: &[u64]) {
        let before = self.entries.len();
        let mut freed = 0;
        self.entries.retain(|entry| {
            let dropped = entry.store_id.is_some_and(|id| ids.contains(&id));
            if dropped {
                freed += entry.payload.len();
            }
            !dropped
        });
        self.bytes -= freed;
        self.dropped += (before - self.entries.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FullPolicy, StoreConfig};

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "etkmqtt-history-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn memory_queue_is_bounded_and_refuses_rather_than_drops() {
        let mut history = History::in_memory();
        let chunk = vec![0u8; 64 * 1024];
        for _ in 0..(MEMORY_LIMIT_BYTES / chunk.len()) {
            history.push("t".into(), chunk.clone(), None).expect("fits");
        }
        let err = history.push("t".into(), chunk, None).expect_err("full");
        assert!(err.to_string().contains("STOREDIR"), "{err}");
        assert_eq!(history.dropped(), 0);
        assert_eq!(history.len(), MEMORY_LIMIT_BYTES / (64 * 1024));
    }

    #[test]
    fn durable_entries_survive_a_reopen_until_handed_out() {
        let dir = temp_dir("reopen");
        let config = StoreConfig::new(&dir, "node#sparkplug");
        let (store, recovery) = Store::open(config.clone()).expect("open");
        assert!(recovery.messages.is_empty());
        let mut history = History::durable(store, recovery.messages);
        for i in 0..3u8 {
            history
                .push("spBv1.0/g/NDATA/n".into(), vec![i], Some(1))
                .expect("push");
        }
        let (first, failure) = history.pop().expect("entry");
        assert!(failure.is_none());
        assert_eq!(first.payload, [0]);
        history.close().expect("close");

        let (store, recovery) = Store::open(config).expect("reopen");
        let mut history = History::durable(store, recovery.messages);
        let payloads: Vec<Vec<u8>> = std::iter::from_fn(|| history.pop().map(|(e, _)| e))
            .map(|e| {
                assert_eq!(e.generation, None, "recovered entries are history");
                e.payload
            })
            .collect();
        assert_eq!(payloads, [vec![1], vec![2]]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn store_dropoldest_drops_the_oldest_entries_and_counts_them() {
        let dir = temp_dir("drop");
        let mut config = StoreConfig::new(&dir, "node#sparkplug");
        config.max_bytes = 200;
        config.full = FullPolicy::DropOldest;
        let (store, recovery) = Store::open(config).expect("open");
        let mut history = History::durable(store, recovery.messages);
        for i in 0..10u8 {
            history.push("t".into(), vec![i; 40], None).expect("push");
        }
        assert!(history.dropped() > 0);
        assert_eq!(history.len() as u64 + history.dropped(), 10);
        let (oldest, _) = history.pop().expect("entry");
        assert_eq!(
            oldest.payload[0],
            history.dropped() as u8,
            "the newest are kept"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
