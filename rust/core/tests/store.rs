//! The durable message store: round trips, crash recovery (torn and corrupt
//! records, killed and aborted processes, records planted in payloads, old
//! format files), size limits, a full disk, private files, locking,
//! compaction.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use etkmqtt_core::store::{
    FullPolicy, Lost, Recovery, Store, StoreConfig, StoreError, StoreNotice, StoredMessage,
    SyncPolicy,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CLIENT_ID: &str = "flexy/test 1";
/// Record header 17 (type, sequence number, id, body length), flags and
/// topic length 3.
const MESSAGE_OVERHEAD: usize = 20;
/// A chunk header per 4084 bytes of record (4096-byte blocks).
const CHUNK_HEADER: usize = 12;
const CHUNK_DATA: usize = 4096 - CHUNK_HEADER;
const BLOCK: usize = 4096;

/// A store root under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "etkmqtt-store-{test}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        TempDir(path)
    }

    fn config(&self, sync: SyncPolicy) -> StoreConfig {
        StoreConfig {
            sync,
            ..StoreConfig::new(&self.0, CLIENT_ID)
        }
    }

    /// The store's own directory (the client id, escaped).
    fn store_dir(&self) -> PathBuf {
        self.0.join("flexy%2Ftest%201")
    }

    fn segments(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(self.store_dir())
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("seg-") && n.ends_with(".log"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }

    fn segment_bytes(&self) -> u64 {
        self.segments()
            .iter()
            .filter_map(|p| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn message(index: usize, payload_len: usize) -> StoredMessage {
    let mut payload = format!("reading {index};").into_bytes();
    payload.resize(payload_len.max(payload.len()), b'x');
    StoredMessage {
        topic: format!("flexy/tags/{}", index % 7),
        payload,
        qos: (index % 3) as u8,
        retain: index.is_multiple_of(2),
    }
}

/// What the store charges a message against its size limit (the module
/// documentation's formula), and its bytes on disk when it starts a block.
fn record_len(message: &StoredMessage) -> u64 {
    let data = MESSAGE_OVERHEAD + message.topic.len() + message.payload.len();
    (data + CHUNK_HEADER * data.div_ceil(CHUNK_DATA)) as u64
}

fn ids(recovery: &Recovery) -> Vec<u64> {
    recovery.messages.iter().map(|(id, _)| *id).collect()
}

#[test]
fn append_remove_reopen_round_trip_preserves_order() -> TestResult {
    let temp = TempDir::new("round-trip");
    let (mut store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert!(recovery.messages.is_empty());
    assert!(recovery.damage.is_empty());

    let mut expected = Vec::new();
    for index in 0..20 {
        let msg = message(index, 50);
        let appended = store.append(&msg)?;
        assert!(appended.dropped.is_empty());
        expected.push((appended.id, msg));
    }
    // Deliver every third, out of order, and one twice (idempotent).
    let removed: Vec<u64> = expected
        .iter()
        .step_by(3)
        .map(|(id, _)| *id)
        .rev()
        .collect();
    for &id in &removed {
        store.remove(id)?;
    }
    store.remove(removed[0])?;
    store.remove(u64::MAX)?;
    expected.retain(|(id, _)| !removed.contains(id));
    assert_eq!(store.live_count(), expected.len());
    let used: u64 = expected.iter().map(|(_, m)| record_len(m)).sum();
    assert_eq!(store.used_bytes(), used);
    drop(store);

    let (store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert!(recovery.damage.is_empty(), "{:?}", recovery.damage);
    assert_eq!(recovery.messages, expected);
    assert_eq!(store.live_count(), expected.len());
    assert_eq!(store.used_bytes(), used);
    Ok(())
}

/// STORESYNC always: each message is on the medium before append returns;
/// its delivery mark rides on the next append's fsync (or a timer's), so a
/// steady stream costs one fsync per message, not two.
#[test]
fn always_syncs_each_append_and_lets_delivery_marks_ride_on_the_next() -> TestResult {
    let temp = TempDir::new("sync-marks");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Always))?;
    for index in 0..50 {
        let before = store.sync_count();
        let appended = store.append(&message(index, 64))?;
        let synced_at = std::time::Instant::now();
        assert_eq!(store.sync_count(), before + 1, "append {index} is synced");
        store.remove(appended.id)?;
        assert_eq!(
            store.sync_count(),
            before + 1,
            "its mark waits for the next fsync"
        );
        store.sync_if_due()?;
        // A mark alone waits 30 s; only a machine that stalled that long syncs here.
        if synced_at.elapsed() < std::time::Duration::from_secs(30) {
            assert_eq!(store.sync_count(), before + 1, "and is not due yet");
        }
    }
    store.sync()?;
    drop(store);
    let (_, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert!(recovery.messages.is_empty(), "every mark reached the file");
    Ok(())
}

/// STORESYNC batch: a message is synced within 100 ms, so it is due at the
/// first timer tick after that; marks alone are not due for 30 s.
#[test]
fn batch_makes_a_message_due_within_100_ms_and_marks_alone_wait() -> TestResult {
    let temp = TempDir::new("sync-batch");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Batch))?;
    store.append(&message(0, 64))?;
    store.sync()?;
    let synced = store.sync_count();
    // Within 100 ms of a sync an append waits for the timer.
    let started = std::time::Instant::now();
    let first = store.append(&message(1, 64))?;
    if started.elapsed() < std::time::Duration::from_millis(100) {
        assert_eq!(store.sync_count(), synced, "the append waits");
    }
    let due_by = started + std::time::Duration::from_secs(5);
    while store.sync_count() == synced {
        assert!(
            std::time::Instant::now() < due_by,
            "synced by the timer in time"
        );
        store.sync_if_due()?;
        std::thread::yield_now();
    }
    let synced = store.sync_count();
    let marked_at = std::time::Instant::now();
    store.remove(first.id)?;
    store.sync_if_due()?;
    if marked_at.elapsed() < std::time::Duration::from_secs(30) {
        assert_eq!(store.sync_count(), synced, "a mark alone is not due yet");
    }
    Ok(())
}

#[test]
fn ten_thousand_messages_survive_reopen_in_order() -> TestResult {
    let temp = TempDir::new("ten-thousand");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Batch))?;
    let mut expected = Vec::new();
    for index in 0..10_000 {
        let msg = message(index, 200);
        expected.push((store.append(&msg)?.id, msg));
    }
    assert!(
        temp.segments().len() > 1,
        "1 MiB rotation should give several segments"
    );
    store.close()?;

    let (mut store, recovery) = Store::open(temp.config(SyncPolicy::Batch))?;
    assert!(recovery.damage.is_empty(), "{:?}", recovery.damage);
    assert_eq!(recovery.messages, expected);
    for (id, _) in expected.iter().filter(|(id, _)| id % 2 == 0) {
        store.remove(*id)?;
    }
    store.close()?;

    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Batch))?;
    expected.retain(|(id, _)| id % 2 == 1);
    assert_eq!(recovery.messages, expected);
    Ok(())
}

#[test]
fn torn_tail_record_is_reported_and_the_rest_kept() -> TestResult {
    let temp = TempDir::new("torn");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Always))?;
    let kept: Vec<u64> = (0..3)
        .map(|i| store.append(&message(i, 100)).map(|a| a.id))
        .collect::<Result<_, _>>()?;
    store.append(&message(3, 100))?;
    drop(store);

    // A power cut in the middle of the last write.
    let segment = temp.segments().pop().ok_or("no segment")?;
    let len = fs::metadata(&segment)?.len();
    fs::OpenOptions::new()
        .write(true)
        .open(&segment)?
        .set_len(len - 40)?;

    let (mut store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert_eq!(ids(&recovery), kept);
    assert_eq!(recovery.damage.len(), 1, "{:?}", recovery.damage);
    let report = &recovery.damage[0];
    println!("damage report: {report}");
    assert!(report.to_string().contains("a write cut short"), "{report}");
    assert_eq!(report.lost, Lost::Exactly(1), "{report}");
    assert_eq!(report.offset, 3 * record_len(&message(0, 100)), "{report}");
    assert_eq!(report.len, record_len(&message(3, 100)) - 40, "{report}");

    // New records never follow the garbage: they go to a new segment.
    let after = store.append(&message(9, 100))?.id;
    assert_eq!(fs::metadata(&segment)?.len(), len - 40);
    assert_eq!(temp.segments().len(), 2);
    drop(store);

    let (mut store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    let mut expected = kept.clone();
    expected.push(after);
    assert_eq!(ids(&recovery), expected);
    // Compaction rewrites a damaged store, so the damage is reported once.
    store.compact()?;
    drop(store);
    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert!(recovery.damage.is_empty(), "{:?}", recovery.damage);
    assert_eq!(ids(&recovery), expected);
    Ok(())
}

#[test]
fn flipped_byte_in_middle_record_skips_only_that_record() -> TestResult {
    let temp = TempDir::new("flipped");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Always))?;
    let messages: Vec<StoredMessage> = (0..3).map(|i| message(i, 100)).collect();
    let mut appended = Vec::new();
    for msg in &messages {
        appended.push(store.append(msg)?.id);
    }
    drop(store);

    let segment = temp.segments().pop().ok_or("no segment")?;
    let mut bytes = fs::read(&segment)?;
    let middle = record_len(&messages[0]) as usize + record_len(&messages[1]) as usize / 2;
    bytes[middle] ^= 0x10;
    fs::write(&segment, &bytes)?;

    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert_eq!(ids(&recovery), vec![appended[0], appended[2]]);
    assert_eq!(recovery.messages[1].1, messages[2]);
    assert_eq!(recovery.damage.len(), 1, "{:?}", recovery.damage);
    let report = &recovery.damage[0];
    println!("damage report: {report}");
    let text = report.to_string();
    assert!(text.contains("bad checksum"), "{report}");
    assert!(text.contains("1 record lost"), "{report}");
    assert_eq!(report.lost, Lost::Exactly(1));
    assert_eq!(report.offset, record_len(&messages[0]));
    assert_eq!(report.len, record_len(&messages[1]));
    assert!(
        text.contains(&format!("offset {}", record_len(&messages[0]))),
        "{report}"
    );
    Ok(())
}

#[test]
fn corrupt_length_field_costs_the_rest_of_its_block_counted_exactly() -> TestResult {
    let temp = TempDir::new("bad-length");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Always))?;
    // 100 records of 90 bytes: 45 in the first block, one across into the second.
    let appended: Vec<u64> = (0..100)
        .map(|i| store.append(&message(i, 46)).map(|a| a.id))
        .collect::<Result<_, _>>()?;
    drop(store);
    let one = record_len(&message(0, 46)) as usize;
    assert_eq!(one, 90);

    let segment = temp.segments().pop().ok_or("no segment")?;
    let mut bytes = fs::read(&segment)?;
    // Record 1's chunk length field: nothing in that header can be believed,
    // so reading resumes at the next block, after record 45 (the one that
    // crosses the boundary).
    bytes[one + 2] = 0x0F;
    fs::write(&segment, &bytes)?;

    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    println!("damage report: {:?}", recovery.damage);
    let crossing = BLOCK / one;
    let mut expected = appended.clone();
    expected.drain(1..=crossing);
    assert_eq!(ids(&recovery), expected);
    assert_eq!(recovery.damage.len(), 1, "{:?}", recovery.damage);
    assert_eq!(recovery.damage[0].offset, one as u64);
    assert_eq!(recovery.damage[0].lost, Lost::Exactly(crossing as u64));
    Ok(())
}

#[test]
fn full_store_rejects_with_reject_policy() -> TestResult {
    let temp = TempDir::new("reject");
    let one = record_len(&message(0, 100));
    let config = StoreConfig {
        max_bytes: one * 10,
        full: FullPolicy::Reject,
        ..temp.config(SyncPolicy::Always)
    };
    let (mut store, _) = Store::open(config.clone())?;
    let mut appended = Vec::new();
    for index in 0..10 {
        appended.push(store.append(&message(index, 100))?.id);
    }
    match store.append(&message(10, 100)) {
        Err(StoreError::Full { used, max }) => {
            assert_eq!(used, one * 10);
            assert_eq!(max, one * 10);
        }
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(store.live_count(), 10);
    assert_eq!(store.dropped_count(), 0);

    match store.append(&message(11, 20_000)) {
        Err(StoreError::TooLarge { size, max }) => {
            assert_eq!(size, record_len(&message(11, 20_000)));
            assert_eq!(max, one * 10);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let bad_qos = StoredMessage {
        qos: 3,
        ..message(12, 10)
    };
    assert!(matches!(
        store.append(&bad_qos),
        Err(StoreError::InvalidMessage { .. })
    ));

    store.remove(appended[0])?;
    store.append(&message(13, 100))?;
    drop(store);
    let (_store, recovery) = Store::open(config)?;
    assert_eq!(recovery.messages.len(), 10);
    assert_eq!(recovery.messages[0].0, appended[1]);
    Ok(())
}

#[test]
fn full_store_drops_oldest_with_drop_oldest_policy() -> TestResult {
    let temp = TempDir::new("drop-oldest");
    let one = record_len(&message(0, 100));
    let config = StoreConfig {
        max_bytes: one * 10,
        full: FullPolicy::DropOldest,
        ..temp.config(SyncPolicy::Always)
    };
    let (mut store, _) = Store::open(config.clone())?;
    let mut appended = Vec::new();
    for index in 0..15 {
        let result = store.append(&message(index, 100))?;
        if index < 10 {
            assert!(result.dropped.is_empty());
        } else {
            assert_eq!(result.dropped, vec![appended[index - 10]]);
        }
        appended.push(result.id);
    }
    assert_eq!(store.dropped_count(), 5);
    assert_eq!(store.live_count(), 10);
    assert_eq!(store.used_bytes(), one * 10);

    // A bigger message drops as many as it needs.
    let big = message(15, 100 + 2 * one as usize);
    let result = store.append(&big)?;
    assert_eq!(result.dropped, appended[5..8].to_vec());
    assert_eq!(store.dropped_count(), 8);
    assert!(store.used_bytes() <= one * 10);
    drop(store);

    let (_store, recovery) = Store::open(config)?;
    let mut expected = appended[8..].to_vec();
    expected.push(result.id);
    assert_eq!(ids(&recovery), expected);
    Ok(())
}

#[test]
fn store_can_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
    assert_send::<StoreError>();
}

#[test]
fn second_open_of_the_same_store_is_locked() -> TestResult {
    let temp = TempDir::new("locked");
    let (first, _) = Store::open(temp.config(SyncPolicy::Always))?;
    match Store::open(temp.config(SyncPolicy::Always)) {
        Err(StoreError::Locked { path }) => assert_eq!(path, temp.store_dir()),
        other => panic!("expected Locked, got {other:?}"),
    }
    // Another client id in the same directory is independent.
    let (_other, _) = Store::open(StoreConfig::new(&temp.0, "another-client"))?;
    drop(first);
    let (_again, _) = Store::open(temp.config(SyncPolicy::Always))?;
    Ok(())
}

#[test]
fn compaction_deletes_fully_delivered_segments_without_rewriting() -> TestResult {
    let temp = TempDir::new("compact-delete");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Batch))?;
    let mut appended = Vec::new();
    // Dead bytes stay below live bytes, so nothing is rewritten.
    for index in 0..4000 {
        appended.push(store.append(&message(index, 1000))?.id);
    }
    for &id in &appended[..2000] {
        store.remove(id)?;
    }
    let before = temp.segments();
    assert!(before.len() >= 4, "{before:?}");
    store.compact()?;
    let after = temp.segments();
    assert!(after.len() < before.len(), "{before:?} -> {after:?}");
    // No rewrite: every remaining file is one that existed before.
    assert!(after.iter().all(|p| before.contains(p)), "{after:?}");
    store.compact()?; // nothing to do
    assert_eq!(temp.segments(), after);
    drop(store);

    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Batch))?;
    assert!(recovery.damage.is_empty(), "{:?}", recovery.damage);
    assert_eq!(ids(&recovery), appended[2000..].to_vec());
    Ok(())
}

#[test]
fn compaction_rewrites_when_dead_bytes_dominate_and_keeps_exactly_the_live_set() -> TestResult {
    let temp = TempDir::new("compact-rewrite");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Batch))?;
    let mut expected = Vec::new();
    for index in 0..3000 {
        let msg = message(index, 1000);
        let id = store.append(&msg)?.id;
        if index % 10 == 0 {
            expected.push((id, msg));
        } else {
            store.remove(id)?;
        }
    }
    let before = temp.segments();
    let used = store.used_bytes();
    store.compact()?;
    let after = temp.segments();
    assert!(
        after.iter().all(|p| !before.contains(p)),
        "old segments remain: {after:?}"
    );
    // Only live records remain: the files hold their charged bytes plus block
    // padding and the chunk headers of records that start mid-block.
    let on_disk = temp.segment_bytes();
    assert!(
        on_disk >= used && on_disk < used + used / 50,
        "{on_disk} bytes on disk for {used} live"
    );
    assert_eq!(store.used_bytes(), used);
    assert_eq!(store.live_count(), expected.len());

    // The store keeps working on the compacted files.
    let msg = message(5000, 10);
    let id = store.append(&msg)?.id;
    store.remove(expected[0].0)?;
    expected.remove(0);
    expected.push((id, msg));
    drop(store);

    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Batch))?;
    assert!(recovery.damage.is_empty(), "{:?}", recovery.damage);
    assert_eq!(recovery.messages, expected);
    Ok(())
}

#[test]
fn compaction_interrupted_before_deleting_old_segments_delivers_no_duplicates() -> TestResult {
    let temp = TempDir::new("compact-crash");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Batch))?;
    let mut expected = Vec::new();
    for index in 0..3000 {
        let msg = message(index, 1000);
        let id = store.append(&msg)?.id;
        if index % 4 == 0 {
            expected.push((id, msg));
        } else {
            store.remove(id)?;
        }
    }
    store.sync()?;
    let old: Vec<(PathBuf, Vec<u8>)> = temp
        .segments()
        .into_iter()
        .map(|p| fs::read(&p).map(|bytes| (p, bytes)))
        .collect::<Result<_, _>>()?;
    store.compact()?;
    drop(store);

    // As if the power failed after the new segments were renamed into place
    // but before the old ones were deleted, with a half-written output too.
    for (path, bytes) in &old {
        fs::write(path, bytes)?;
    }
    let partial = temp.store_dir().join("seg-ffffffffffffff00.v2.tmp");
    fs::write(&partial, b"half a segment")?;

    let (mut store, recovery) = Store::open(temp.config(SyncPolicy::Batch))?;
    assert!(recovery.damage.is_empty(), "{:?}", recovery.damage);
    assert_eq!(recovery.messages, expected);
    assert!(!partial.exists(), "leftover partial output is deleted");
    store.compact()?;
    let remaining = temp.segments();
    assert!(
        old.iter().all(|(p, _)| !remaining.contains(p)),
        "old copies are deleted: {remaining:?}"
    );
    drop(store);

    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Batch))?;
    assert_eq!(recovery.messages, expected);
    Ok(())
}

#[test]
fn ids_stay_monotonic_across_reopen_even_when_everything_was_delivered() -> TestResult {
    let temp = TempDir::new("monotonic");
    let mut last = 0;
    for round in 0..4 {
        let (mut store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
        assert!(recovery.messages.is_empty());
        for index in 0..5 {
            let id = store.append(&message(index, 10))?.id;
            assert!(id > last, "round {round}: id {id} after {last}");
            last = id;
            store.remove(id)?;
        }
        store.compact()?;
        assert!(temp.segments().len() <= 2, "{:?}", temp.segments());
    }
    Ok(())
}

#[test]
fn batch_policy_keeps_everything_after_close() -> TestResult {
    let temp = TempDir::new("batch");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Batch))?;
    let mut expected = Vec::new();
    for index in 0..100 {
        let msg = message(index, 64);
        expected.push((store.append(&msg)?.id, msg));
    }
    store.sync()?;
    store.close()?;
    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Batch))?;
    assert_eq!(recovery.messages, expected);
    Ok(())
}

const CHILD_MODE: &str = "ETKMQTT_STORE_TEST_CHILD";
const CHILD_DIR: &str = "ETKMQTT_STORE_TEST_DIR";
const CHILD_SYNC: &str = "ETKMQTT_STORE_TEST_SYNC";
const CHILD_COUNT: usize = 1000;

/// Runs only when spawned by a crash test: appends messages, reports each
/// completed append on stdout, and dies without closing the store.
#[test]
fn child_process_entry() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let dir = PathBuf::from(std::env::var(CHILD_DIR).unwrap_or_default());
    let sync = match std::env::var(CHILD_SYNC).as_deref() {
        Ok("batch") => SyncPolicy::Batch,
        _ => SyncPolicy::Always,
    };
    let config = StoreConfig {
        sync,
        ..StoreConfig::new(&dir, CLIENT_ID)
    };
    let Ok((mut store, _)) = Store::open(config) else {
        std::process::exit(3);
    };
    if mode == "private" {
        // Every kind of file the store creates: segments, the lock, the
        // reserve, and a compaction's outputs (over 1 MiB dead forces one).
        for index in 0..1200 {
            let Ok(appended) = store.append(&message(index, 1000)) else {
                std::process::exit(4);
            };
            if index % 100 != 0 && store.remove(appended.id).is_err() {
                std::process::exit(5);
            }
        }
        let code = if store.compact().is_ok() { 0 } else { 6 };
        std::process::exit(code);
    }
    let mut stdout = std::io::stdout().lock();
    for index in 0..CHILD_COUNT {
        if mode == "abort" && index == CHILD_COUNT / 2 {
            // Abort from another thread while this one keeps appending, so
            // the process may die in the middle of a write.
            std::thread::spawn(|| {
                std::thread::sleep(Duration::from_micros(300));
                std::process::abort();
            });
        }
        let Ok(appended) = store.append(&message(index, 100)) else {
            std::process::exit(4);
        };
        let _ = writeln!(stdout, "appended {index} {}", appended.id);
        let _ = stdout.flush();
    }
    match mode.as_str() {
        "abort" => std::process::abort(),
        // exit() runs no destructors: the store is never dropped or synced.
        _ => std::process::exit(0),
    }
}

/// Spawns this test binary as a crashing child; returns the (index, id) of
/// every append the child reported complete.
fn run_child(
    temp: &TempDir,
    mode: &str,
    sync: &str,
) -> Result<Vec<(usize, u64)>, Box<dyn std::error::Error>> {
    let output = Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .env(CHILD_DIR, &temp.0)
        .env(CHILD_SYNC, sync)
        .output()?;
    assert!(
        !output.status.success() || mode == "exit",
        "{:?}",
        output.status
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut completed = Vec::new();
    for line in stdout.lines() {
        // libtest prints "test child_process_entry ... " before the first line.
        let Some(at) = line.find("appended ") else {
            continue;
        };
        let mut words = line[at..].split_whitespace().skip(1);
        let index = words.next().ok_or("index")?.parse()?;
        let id = words.next().ok_or("id")?.parse()?;
        completed.push((index, id));
    }
    Ok(completed)
}

fn assert_child_appends_recovered(
    completed: &[(usize, u64)],
    recovery: &Recovery,
    may_have_one_more: bool,
) {
    let recovered = &recovery.messages;
    let extra = recovered.len() - completed.len().min(recovered.len());
    assert!(
        recovered.len() >= completed.len() && extra <= usize::from(may_have_one_more),
        "child completed {} appends, store recovered {}",
        completed.len(),
        recovered.len()
    );
    for ((index, id), (recovered_id, msg)) in completed.iter().zip(recovered) {
        assert_eq!(id, recovered_id);
        assert_eq!(msg, &message(*index, 100));
    }
}

#[test]
fn process_exit_without_closing_keeps_every_append() -> TestResult {
    for sync in ["always", "batch"] {
        let temp = TempDir::new("exit");
        let completed = run_child(&temp, "exit", sync)?;
        assert_eq!(completed.len(), CHILD_COUNT, "sync {sync}");
        let (_store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
        assert!(recovery.damage.is_empty(), "{:?}", recovery.damage);
        assert_child_appends_recovered(&completed, &recovery, false);
    }
    Ok(())
}

#[test]
fn process_abort_mid_append_keeps_every_completed_append() -> TestResult {
    let temp = TempDir::new("abort");
    let completed = run_child(&temp, "abort", "always")?;
    assert!(
        completed.len() >= CHILD_COUNT / 2,
        "child completed only {} appends",
        completed.len()
    );
    let (mut store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    // The append in flight when the process died may or may not be there.
    assert_child_appends_recovered(&completed, &recovery, true);
    let before: BTreeSet<u64> = ids(&recovery).into_iter().collect();
    let next = store.append(&message(0, 1))?.id;
    assert!(before.iter().all(|&id| id < next));
    println!(
        "abort test: child completed {} of {CHILD_COUNT} appends before abort; {} recovered; damage: {:?}",
        completed.len(),
        recovery.messages.len(),
        recovery.damage
    );
    Ok(())
}

fn measure(temp: &TempDir, sync: SyncPolicy, count: usize) -> Result<f64, StoreError> {
    let (mut store, _) = Store::open(temp.config(sync))?;
    let msg = message(1, 100);
    let start = Instant::now();
    for _ in 0..count {
        store.append(&msg)?;
    }
    store.sync()?;
    Ok(count as f64 / start.elapsed().as_secs_f64())
}

#[test]
fn append_throughput_is_reported() -> TestResult {
    let always_dir = TempDir::new("throughput-always");
    let batch_dir = TempDir::new("throughput-batch");
    let always = measure(&always_dir, SyncPolicy::Always, 500)?;
    let batch = measure(&batch_dir, SyncPolicy::Batch, 20_000)?;
    println!(
        "store append throughput (100-byte payload, {}): Always {always:.0}/s, Batch {batch:.0}/s",
        Path::new(&std::env::temp_dir()).display()
    );
    assert!(always > 0.0 && batch > 0.0);
    Ok(())
}

/// The bytes of a whole, valid store file holding one message to
/// `rel/c/injected`, written by the store itself: whatever the format, this
/// is what a record looks like.
fn valid_record_bytes(test: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let scratch = TempDir::new(test);
    let (mut store, _) = Store::open(scratch.config(SyncPolicy::Always))?;
    store.append(&StoredMessage {
        topic: "rel/c/injected".to_owned(),
        payload: b"a message nobody published".to_vec(),
        qos: 1,
        retain: false,
    })?;
    store.close()?;
    Ok(fs::read(scratch.segments().pop().ok_or("no segment")?)?)
}

/// Flips the first byte that `append` wrote at or after `from`: the start of
/// that record, whatever padding came before it.
fn damage_record_start(segment: &Path, from: usize) -> Result<usize, Box<dyn std::error::Error>> {
    let mut bytes = fs::read(segment)?;
    let at = (from..bytes.len())
        .find(|&i| bytes[i] != 0)
        .ok_or("nothing written")?;
    bytes[at] = !bytes[at];
    fs::write(segment, &bytes)?;
    Ok(at)
}

#[test]
fn a_record_planted_in_a_payload_is_never_recovered_when_the_record_around_it_is_damaged(
) -> TestResult {
    let planted = valid_record_bytes("planted-source")?;
    let temp = TempDir::new("planted");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Always))?;
    let mut expected = Vec::new();
    for index in 0..5 {
        let msg = message(index, 40);
        expected.push((store.append(&msg)?.id, msg));
    }
    // The carrier holds the planted file many times over, at every offset
    // modulo 64 and across block boundaries, so any reader that looks for
    // records inside damaged bytes would find one.
    let mut payload = Vec::new();
    for shift in 0..64 {
        payload.extend(std::iter::repeat_n(b'.', shift));
        payload.extend_from_slice(&planted);
    }
    let carrier = StoredMessage {
        topic: "rel/c/carrier".to_owned(),
        payload,
        qos: 1,
        retain: false,
    };
    let segment = temp.segments().pop().ok_or("no segment")?;
    let before = fs::metadata(&segment)?.len() as usize;
    store.append(&carrier)?;
    for index in 5..10 {
        let msg = message(index, 40);
        expected.push((store.append(&msg)?.id, msg));
    }
    drop(store);
    let damaged_at = damage_record_start(&segment, before)?;

    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    println!("damage report: {:?}", recovery.damage);
    for (_, msg) in &recovery.messages {
        assert_ne!(msg.topic, "rel/c/injected", "recovery invented a message");
    }
    assert_eq!(recovery.messages, expected, "exactly the carrier is lost");
    assert_eq!(recovery.damage.len(), 1, "{:?}", recovery.damage);
    let report = &recovery.damage[0];
    assert_eq!(report.lost, Lost::Exactly(1), "{report}");
    assert_eq!(report.offset, damaged_at as u64, "{report}");
    assert!(report.to_string().contains("1 record lost"), "{report}");
    Ok(())
}

#[test]
fn a_planted_record_stays_payload_whichever_chunk_header_is_damaged() -> TestResult {
    let planted = valid_record_bytes("planted-every-source")?;
    let mut payload = Vec::new();
    while payload.len() < 3 * BLOCK {
        payload.extend_from_slice(&planted);
    }
    let carrier = StoredMessage {
        topic: "rel/c/carrier".to_owned(),
        payload,
        qos: 1,
        retain: false,
    };
    let temp = TempDir::new("planted-every");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Always))?;
    let first = store.append(&message(0, 10))?.id;
    let segment = temp.segments().pop().ok_or("no segment")?;
    let start = fs::metadata(&segment)?.len() as usize;
    store.append(&carrier)?;
    let end = fs::metadata(&segment)?.len() as usize;
    let last = store.append(&message(1, 10))?.id;
    drop(store);
    let original = fs::read(&segment)?;

    // Damage one byte of the carrier's span at a time (headers, data, the
    // headers at block starts): only the carrier may be lost, and only whole.
    for at in (start..end).step_by(13) {
        let mut bytes = original.clone();
        bytes[at] = !bytes[at];
        fs::write(&segment, &bytes)?;
        let (_store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
        for (_, msg) in &recovery.messages {
            assert_ne!(
                msg.topic, "rel/c/injected",
                "damage at {at} invented a message"
            );
        }
        let got = ids(&recovery);
        if got.len() == 3 {
            // The byte was block padding: nothing lost.
            assert!(recovery.damage.is_empty(), "damage at {at}");
            assert_eq!(recovery.messages[1].1, carrier, "damage at {at}");
        } else {
            assert_eq!(got, vec![first, last], "damage at {at}");
            assert_eq!(recovery.damage.len(), 1, "damage at {at}");
            assert_eq!(recovery.damage[0].lost, Lost::Exactly(1), "damage at {at}");
        }
    }
    Ok(())
}

/// Encodes a record of the old format 1, as written before format 2.
fn v1_record(out: &mut Vec<u8>, kind: u8, id: u64, body: &[u8]) {
    let start = out.len();
    out.push(0xE1);
    out.push(kind);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(body);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
}

fn v1_message(out: &mut Vec<u8>, id: u64, msg: &StoredMessage) {
    let mut body = vec![msg.qos | if msg.retain { 4 } else { 0 }];
    body.extend_from_slice(&(msg.topic.len() as u16).to_le_bytes());
    body.extend_from_slice(msg.topic.as_bytes());
    body.extend_from_slice(&msg.payload);
    v1_record(out, 1, id, &body);
}

/// CRC-32 (IEEE), bit by bit: the test's own, independent of the store's.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn old_format_files_are_read_then_rewritten_in_the_new_format() -> TestResult {
    let temp = TempDir::new("v1");
    fs::create_dir_all(temp.store_dir())?;
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for id in 2..12 {
        let msg = message(id as usize, 50);
        v1_message(&mut bytes, id, &msg);
        expected.push((id, msg));
    }
    v1_record(&mut bytes, 2, 3, &[]);
    expected.retain(|(id, _)| *id != 3);
    let old = temp.store_dir().join("seg-0000000000000001.log");
    fs::write(&old, &bytes)?;

    let (mut store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert!(recovery.damage.is_empty(), "{:?}", recovery.damage);
    assert_eq!(recovery.messages, expected);
    // New ids follow the old ones; removes of old messages go to new files.
    let msg = message(99, 10);
    let id = store.append(&msg)?.id;
    assert!(id > 11);
    store.remove(4)?;
    expected.retain(|(id, _)| *id != 4);
    expected.push((id, msg));
    drop(store);

    let (store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert_eq!(recovery.messages, expected);
    drop(store);
    // Compaction rewrites a damaged store: damage the new file's tail (a
    // chunk header cut short) and check that the old file is rewritten too.
    let newest = temp.segments().pop().ok_or("no segment")?;
    fs::OpenOptions::new()
        .append(true)
        .open(&newest)?
        .write_all(&[0xE2, 1, 200])?;
    let (mut store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert_eq!(recovery.messages, expected);
    assert_eq!(recovery.damage.len(), 1, "{:?}", recovery.damage);
    store.compact()?;
    assert!(!old.exists(), "the old-format file was rewritten");
    let names: Vec<String> = temp
        .segments()
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n.ends_with(".v2.log")), "{names:?}");
    drop(store);
    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert!(recovery.damage.is_empty(), "{:?}", recovery.damage);
    assert_eq!(recovery.messages, expected);
    Ok(())
}

#[test]
fn damage_in_an_old_format_file_skips_its_rest_instead_of_guessing() -> TestResult {
    let temp = TempDir::new("v1-damage");
    fs::create_dir_all(temp.store_dir())?;
    let planted = {
        let mut planted = Vec::new();
        v1_message(&mut planted, 7, &message(7, 10));
        planted
    };
    let mut bytes = Vec::new();
    v1_message(&mut bytes, 2, &message(2, 10));
    let carrier_at = bytes.len();
    // A payload holding a valid format 1 record, then a record after it.
    let carrier = StoredMessage {
        topic: "rel/c/carrier".to_owned(),
        payload: planted,
        qos: 1,
        retain: false,
    };
    v1_message(&mut bytes, 3, &carrier);
    v1_message(&mut bytes, 4, &message(4, 10));
    bytes[carrier_at] = 0x00;
    fs::write(temp.store_dir().join("seg-0000000000000001.log"), &bytes)?;

    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert_eq!(
        ids(&recovery),
        vec![2],
        "nothing after the damage is guessed at"
    );
    assert_eq!(recovery.damage.len(), 1);
    let report = &recovery.damage[0];
    println!("damage report: {report}");
    assert_eq!(report.lost, Lost::AtLeast(1));
    assert_eq!(report.offset, carrier_at as u64);
    assert!(report.to_string().contains("old format"), "{report}");
    Ok(())
}

#[cfg(unix)]
fn mode(path: &Path) -> Result<u32, std::io::Error> {
    use std::os::unix::fs::PermissionsExt as _;
    Ok(fs::metadata(path)?.permissions().mode() & 0o777)
}

#[cfg(unix)]
#[test]
fn store_files_are_private_whatever_the_umask() -> TestResult {
    let temp = TempDir::new("private");
    // umask 000 would leave 0666 files and 0777 directories if the store
    // relied on it.
    let status = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(std::env::current_exe()?)
        .args(["--exact", "child_process_entry", "--test-threads=1"])
        .env(CHILD_MODE, "private")
        .env(CHILD_DIR, &temp.0)
        .env(CHILD_SYNC, "batch")
        .status()?;
    assert!(status.success(), "child: {status:?}");
    assert_eq!(mode(&temp.store_dir())?, 0o700);
    let files: Vec<PathBuf> = fs::read_dir(temp.store_dir())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    assert!(names.contains(&"lock".to_owned()), "{names:?}");
    assert!(names.contains(&"reserve".to_owned()), "{names:?}");
    // The compaction output, renamed into place: it was created 0600 too.
    assert_eq!(temp.segments().len(), 1, "{names:?}");
    for file in &files {
        assert_eq!(mode(file)?, 0o600, "{}", file.display());
    }
    Ok(())
}

#[cfg(unix)]
#[test]
fn a_store_left_readable_by_an_older_version_is_made_private_on_open() -> TestResult {
    use std::os::unix::fs::PermissionsExt as _;
    let temp = TempDir::new("private-old");
    let (mut store, _) = Store::open(temp.config(SyncPolicy::Always))?;
    store.append(&message(0, 10))?;
    drop(store);
    fs::set_permissions(temp.store_dir(), fs::Permissions::from_mode(0o755))?;
    let segment = temp.segments().pop().ok_or("no segment")?;
    fs::set_permissions(&segment, fs::Permissions::from_mode(0o644))?;

    let (_store, recovery) = Store::open(temp.config(SyncPolicy::Always))?;
    assert_eq!(recovery.messages.len(), 1);
    assert_eq!(mode(&temp.store_dir())?, 0o700);
    assert_eq!(mode(&segment)?, 0o600);
    Ok(())
}

/// A tmpfs of a given size, mounted for one test (this needs root, as the
/// test machines run) and unmounted when dropped.
struct SmallDisk(TempDir);

impl SmallDisk {
    fn mount(test: &str, size: &str) -> Result<SmallDisk, Box<dyn std::error::Error>> {
        let dir = TempDir::new(test);
        fs::create_dir_all(&dir.0)?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir.0)
            .output()?;
        if !output.status.success() {
            return Err(format!(
                "cannot mount a {size} tmpfs on {} (the full-disk test needs root): {}",
                dir.0.display(),
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0 .0).status();
    }
}

#[test]
fn a_full_disk_never_makes_delivered_messages_come_back() -> TestResult {
    let disk = SmallDisk::mount("full-disk", "256k")?;
    let config = StoreConfig::new(&disk.0 .0, CLIENT_ID);
    let (mut store, _) = Store::open(config.clone())?;
    let mut accepted = Vec::new();
    let mut refused = 0;
    for index in 0..400 {
        match store.append(&message(index, 1000)) {
            Ok(appended) => accepted.push(appended.id),
            Err(e) => {
                assert!(e.is_disk_full(), "{e}");
                assert!(e.to_string().contains("the disk is full"), "{e}");
                refused += 1;
            }
        }
    }
    println!(
        "256 KiB disk: {} accepted, {refused} refused, reserve {} bytes",
        accepted.len(),
        store.reserved_bytes()
    );
    assert!(refused > 100 && accepted.len() > 150, "{refused} refused");

    // Every message is delivered; the disk is full, so the marks draw on the
    // reserve, and that is reported once.
    let mut notices = Vec::new();
    for &id in &accepted {
        notices.extend(store.remove(id)?);
    }
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        matches!(&notices[0], StoreNotice::DiskFullUsingReserve { .. }),
        "{:?}",
        notices[0]
    );
    println!("notice: {}", notices[0]);
    store.close()?;

    for open in 1..=2 {
        let (store, recovery) = Store::open(config.clone())?;
        assert_eq!(recovery.messages.len(), 0, "open {open} would resend them");
        assert!(recovery.damage.is_empty(), "{:?}", recovery.damage);
        drop(store);
    }

    // Nothing stuck: compaction gives the dead records' space back.
    let (mut store, _) = Store::open(config)?;
    let refused_again = store.append(&message(0, 1000));
    assert!(
        refused_again.as_ref().is_err_and(StoreError::is_disk_full),
        "{refused_again:?}"
    );
    store.compact()?;
    store.append(&message(1, 1000))?;
    Ok(())
}
