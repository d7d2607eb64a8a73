//! The birth/death sequence number (bdSeq) kept across JVM restarts: one
//! small file, `bdseq`, in the node's store directory (STOREDIR).
//!
//! The file holds the bdSeq of the latest CONNECT as decimal text. It is
//! replaced atomically (written to `bdseq.new` with mode 0600, synced,
//! renamed over `bdseq`, directory synced) *before* the CONNECT that carries
//! the new value goes out, so a crash at any point leaves either the old or
//! the new value, and the next run never repeats the bdSeq a host saw last.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

const FILE: &str = "bdseq";
const NEW_FILE: &str = "bdseq.new";

/// The bdSeq file of one node.
#[derive(Debug)]
pub struct BdSeqFile {
    dir: PathBuf,
}

impl BdSeqFile {
    pub fn in_dir(dir: &Path) -> BdSeqFile {
        BdSeqFile {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// The bdSeq of the latest CONNECT of an earlier run; `Ok(None)` when
    /// there was none. A file that does not hold a number 0–255 is an error
    /// (the caller reports it and starts over at 0).
    pub fn load(&self) -> Result<Option<u8>, String> {
        let path = self.path();
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse::<u8>().map(Some).map_err(|_| {
                format!(
                    "Sparkplug bdSeq file {} does not hold a number from 0 to 255; bdSeq starts over at 0",
                    path.display()
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!(
                "cannot read the Sparkplug bdSeq file {}: {e}; bdSeq starts over at 0",
                path.display()
            )),
        }
    }

    /// Replaces the stored value; durable when this returns `Ok`.
    pub fn save(&self, bd_seq: u8) -> Result<(), String> {
        let new_path = self.dir.join(NEW_FILE);
        let path = self.path();
        let fail = |what: &str, p: &Path, e: io::Error| {
            format!(
                "cannot {what} the Sparkplug bdSeq file {}: {e} (a restart may repeat bdSeq {bd_seq})",
                p.display()
            )
        };
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options
            .open(&new_path)
            .map_err(|e| fail("write", &new_path, e))?;
        file.write_all(format!("{bd_seq}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| fail("write", &new_path, e))?;
        drop(file);
        fs::rename(&new_path, &path).map_err(|e| fail("replace", &path, e))?;
        // The rename itself must survive a power cut.
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| fail("sync the directory of", &path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "etkmqtt-bdseq-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn saved_bdseq_reads_back_and_the_file_is_private() {
        let dir = temp_dir("save");
        let file = BdSeqFile::in_dir(&dir);
        assert_eq!(file.load(), Ok(None));
        file.save(255).expect("save");
        assert_eq!(file.load(), Ok(Some(255)));
        file.save(0).expect("save");
        assert_eq!(file.load(), Ok(Some(0)));
        assert!(
            !dir.join(NEW_FILE).exists(),
            "the temporary file was renamed"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(file.path())
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_damaged_file_is_reported_not_believed() {
        let dir = temp_dir("damaged");
        let file = BdSeqFile::in_dir(&dir);
        fs::write(file.path(), "300\n").expect("write");
        let err = file.load().expect_err("out of range");
        assert!(err.contains("0 to 255"), "{err}");
        fs::write(file.path(), "").expect("write");
        assert!(file.load().is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
