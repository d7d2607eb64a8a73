//! The store's files and directories: names, private modes, the lock,
//! directory syncs, and I/O errors in the store's words.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::format::Version;
use super::StoreError;

pub(super) const LOCK_FILE: &str = "lock";
pub(super) const RESERVE_FILE: &str = "reserve";
const SEGMENT_PREFIX: &str = "seg-";
const V1_SUFFIX: &str = ".log";
/// Format 1 readers look for exactly 16 hex digits before ".log", so they
/// skip format 2 files instead of misreading them.
const V2_SUFFIX: &str = ".v2.log";
/// A compaction writes its segments under this suffix and renames them once
/// they are complete and synced; a leftover one is an interrupted compaction.
const PARTIAL_SUFFIX: &str = ".tmp";
const V2_PARTIAL_SUFFIX: &str = ".v2.tmp";

/// Store files hold plant data: only the owner may read them.
#[cfg(unix)]
const PRIVATE_FILE: u32 = 0o600;
#[cfg(unix)]
const PRIVATE_DIR: u32 = 0o700;

pub(super) fn segment_path(dir: &Path, name: u64, version: Version) -> PathBuf {
    let suffix = match version {
        Version::V1 => V1_SUFFIX,
        Version::V2 => V2_SUFFIX,
    };
    dir.join(format!("{SEGMENT_PREFIX}{name:016x}{suffix}"))
}

pub(super) fn partial_path(dir: &Path, name: u64) -> PathBuf {
    dir.join(format!("{SEGMENT_PREFIX}{name:016x}{V2_PARTIAL_SUFFIX}"))
}

/// Creates `dir` (and missing parents) for the owner only, whatever the
/// umask, and narrows an existing store directory made by an older version.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR);
    builder
        .create(dir)
        .map_err(|e| io_error(dir, "cannot create the directory", e))?;
    make_private(dir, true)
}

/// Takes group and other permissions away from `path` if it has any (a
/// store written before files were private). The mode bits requested at
/// creation are narrowed by the umask but never widened, so new files need
/// no such fix; this is for old ones.
pub(super) fn make_private(path: &Path, is_dir: bool) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let metadata = fs::metadata(path).map_err(|e| io_error(path, "cannot inspect", e))?;
        let mode = metadata.permissions().mode();
        let private = if is_dir { PRIVATE_DIR } else { PRIVATE_FILE };
        if mode & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(mode & private))
                .map_err(|e| io_error(path, "cannot make private", e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, is_dir);
    Ok(())
}

/// Options for a store file: created for the owner only (0600 on Unix).
pub(super) fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE);
    options
}

/// Segment names and formats in the store directory, oldest first. Deletes
/// partial files of an interrupted compaction (the old segments they were
/// copied from are all still there) and narrows the modes of old files.
pub(super) fn list_segments(dir: &Path) -> Result<Vec<(u64, Version)>, StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, "cannot list", e))?;
    let mut names = Vec::new();
    let mut removed_partial = false;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, "cannot list", e))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        let path = entry.path();
        if let Some(name) = parse_segment_name(file_name, V2_SUFFIX) {
            make_private(&path, false)?;
            names.push((name, Version::V2));
        } else if let Some(name) = parse_segment_name(file_name, V1_SUFFIX) {
            make_private(&path, false)?;
            names.push((name, Version::V1));
        } else if parse_segment_name(file_name, PARTIAL_SUFFIX).is_some()
            || parse_segment_name(file_name, V2_PARTIAL_SUFFIX).is_some()
        {
            fs::remove_file(&path).map_err(|e| io_error(&path, "cannot delete", e))?;
            removed_partial = true;
        } else if file_name == LOCK_FILE || file_name == RESERVE_FILE {
            make_private(&path, false)?;
        }
    }
    if removed_partial {
        sync_dir(dir)?;
    }
    names.sort_unstable_by_key(|(name, _)| *name);
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

/// A file name for a client id: bytes outside `[A-Za-z0-9._-]` (and a
/// leading dot, so `.` and `..` stay inside the store directory) become
/// `%XX`. Distinct ids give distinct names; very long ids are cut and
/// suffixed with a 64-bit hash of the whole id to fit file-name limits.
pub(super) fn file_name_for_client_id(client_id: &str) -> String {
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
            crc32fast::hash(client_id.as_bytes()),
            crc32fast::hash(&reversed)
        );
    }
    name
}

/// Takes the store's advisory lock: a second live client with the same store
/// directory and client id gets [`StoreError::Locked`]. The lock is tied to
/// the open file, so the operating system releases it when a crashed process
/// dies; a stale lock file never blocks a restart.
///
/// A lock that is busy is tried again for a moment before giving up: while
/// another thread starts a process, the new process holds a copy of every
/// file descriptor until it runs its program (they close on exec), so a store
/// closed and opened again at that moment would otherwise find its own old
/// lock still held.
// `File::try_lock` (Rust 1.89) is why the workspace's rust-version is 1.89.
pub(super) fn lock_exclusively(
    lock: &File,
    lock_path: &Path,
    dir: &Path,
) -> Result<(), StoreError> {
    const PATIENCE: Duration = Duration::from_millis(500);
    let deadline = Instant::now() + PATIENCE;
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Locked {
                    path: dir.to_path_buf(),
                })
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(io_error(lock_path, "cannot lock the lock file", e))
            }
        }
    }
}

/// Makes created, renamed and deleted directory entries survive a power cut.
pub(super) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
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

/// True when `error` means the file system has no room (or the user's quota
/// is used up): the cases the store's reserve is for.
pub(super) fn is_out_of_space(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// A failed file operation as a [`StoreError`]: [`StoreError::DiskFull`]
/// when the disk has no room, else [`StoreError::Io`].
pub(super) fn io_error(path: &Path, action: &'static str, error: io::Error) -> StoreError {
    if is_out_of_space(&error) {
        StoreError::DiskFull {
            path: path.to_path_buf(),
            action,
        }
    } else {
        StoreError::Io {
            path: path.to_path_buf(),
            reason: format!("{action}: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
