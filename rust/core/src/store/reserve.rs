//! Disk space held back for delivery marks (remove records), so that a full
//! disk cannot make the store forget what was already delivered.
//!
//! The reserve is a file of real, incompressible bytes (`reserve` in the
//! store directory), never read. [`Store::append`](super::Store::append)
//! first grows it to cover a mark for every stored message, and refuses the
//! message when it cannot; a mark that finds the disk full gives back one
//! 4 KiB step of the reserve and is written into the space that frees.
//! Contents are pseudo-random so that compressing file systems (UBIFS,
//! JFFS2) set the space aside too; on copy-on-write file systems space may
//! return only later, so there it is best effort.

use std::fs::File;
use std::io::{self, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use super::disk::{private_file, RESERVE_FILE};

/// The reserve grows and shrinks in steps of a file-system block.
const STEP: u64 = 4096;
/// A remove record takes 25 bytes; the rest covers block padding and chunk
/// headers.
const PER_MESSAGE: u64 = 32;
/// A new segment's first block, the rest of the active segment's last block
/// and file-system metadata.
const BASE: u64 = 4 * STEP;
/// Shrunk only when this much larger than needed, so a store that hovers
/// around one size does not rewrite the file on every delivery.
const SLACK: u64 = 4 * STEP;

/// The reserve that covers delivery marks for `messages` stored messages.
pub(super) fn needed(messages: usize) -> u64 {
    (BASE + messages as u64 * PER_MESSAGE).div_ceil(STEP) * STEP
}

#[derive(Debug)]
pub(super) struct Reserve {
    path: PathBuf,
    /// None until the file could be opened.
    file: Option<File>,
    len: u64,
    /// xorshift state for the filler bytes.
    state: u64,
}

impl Reserve {
    /// Opens (creating) the reserve file. Never fails: without the file the
    /// reserve is empty and [`Reserve::grow_to`] tries again.
    pub(super) fn open(dir: &Path) -> Reserve {
        let path = dir.join(RESERVE_FILE);
        let mut reserve = Reserve {
            path,
            file: None,
            len: 0,
            state: seed(),
        };
        let _ = reserve.file();
        reserve
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    fn file(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let file = private_file()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.path)?;
            self.len = file.metadata()?.len();
            self.file = Some(file);
        }
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("reserve file not open"))
    }

    /// Grows the reserve to at least `target` bytes, written out rather
    /// than left as a hole so the space is taken. On failure the file is cut
    /// back to what it was.
    pub(super) fn grow_to(&mut self, target: u64) -> io::Result<()> {
        if self.len >= target {
            return Ok(());
        }
        let start = self.len;
        let mut filler = vec![0u8; STEP as usize];
        for chunk in filler.chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let bytes = self.state.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        let file = self.file()?;
        let result = (|| {
            file.seek(SeekFrom::Start(start))?;
            let mut len = start;
            while len < target {
                let take = (target - len).min(STEP) as usize;
                file.write_all(&filler[..take])?;
                len += take as u64;
            }
            Ok(len)
        })();
        match result {
            Ok(len) => {
                self.len = len;
                Ok(())
            }
            Err(e) => {
                let _ = file.set_len(start);
                Err(e)
            }
        }
    }

    /// Gives one step back to the file system for a delivery mark; false
    /// when the reserve is empty (or cannot be cut).
    pub(super) fn release_step(&mut self) -> bool {
        if self.len == 0 {
            return false;
        }
        let target = (self.len - 1) / STEP * STEP;
        self.cut_to(target)
    }

    /// Shrinks the reserve to `target` when it is well above it (after many
    /// deliveries), giving the space back.
    pub(super) fn trim_to(&mut self, target: u64) {
        if self.len > target + SLACK {
            self.cut_to(target);
        }
    }

    fn cut_to(&mut self, target: u64) -> bool {
        let Ok(file) = self.file() else {
            return false;
        };
        if file.set_len(target).is_err() {
            return false;
        }
        self.len = target;
        true
    }
}

/// A nonzero xorshift seed; the filler only has to be incompressible.
fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ (u64::from(std::process::id()) << 32)) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_covers_a_mark_per_message_in_whole_steps() {
        assert_eq!(needed(0), 4 * STEP);
        assert_eq!(needed(1), 5 * STEP);
        assert_eq!(needed(128), 5 * STEP);
        assert_eq!(needed(129), 6 * STEP);
    }
}
