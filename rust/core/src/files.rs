//! Reading the files that options name (CAFILE, CERTFILE, KEYFILE) with a
//! size limit, so a path that points at a device, a pipe or a huge file is
//! refused at once instead of filling the memory or blocking the caller.

use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::path::Path;

use zeroize::Zeroize as _;

use crate::error::ConnectError;

/// The largest certificate, CA bundle or key file accepted: 1 MiB holds
/// hundreds of PEM certificates.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads the file `path` named by option `option`, which must be a regular
/// file of at most [`MAX_FILE_BYTES`].
///
/// The file is opened without blocking (a FIFO with no writer would block a
/// plain open), then checked by its metadata before anything is read:
/// devices such as `/dev/zero`, FIFOs, sockets and directories are refused,
/// and so is a file over the limit. At most the limit plus one byte is ever
/// read, so a file that grows after the check is refused too. The buffer is
/// sized from the metadata, so reading does not reallocate (leaving copies
/// of a key's bytes in freed memory) unless the file grows meanwhile; a
/// refused buffer is wiped, and callers wrap key bytes in a `Secret`.
///
/// # Errors
///
/// [`ConnectError::File`] when the file cannot be opened or read,
/// [`ConnectError::NotARegularFile`] and [`ConnectError::FileTooLarge`]
/// naming the option, the path and the limit.
pub fn read_limited(option: &'static str, path: &Path) -> Result<Vec<u8>, ConnectError> {
    let io_error = |e: std::io::Error| ConnectError::File {
        option,
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = open_without_blocking(path).map_err(io_error)?;
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(ConnectError::NotARegularFile {
            option,
            path: path.display().to_string(),
            kind: file_kind(&metadata),
        });
    }
    let too_large = |size: u64| ConnectError::FileTooLarge {
        option,
        path: path.display().to_string(),
        size,
        limit: MAX_FILE_BYTES,
    };
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large(metadata.len()));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize + 1);
    let read = file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes);
    let refused = match read {
        Err(e) => Some(io_error(e)),
        Ok(_) if bytes.len() as u64 > MAX_FILE_BYTES => Some(too_large(bytes.len() as u64)),
        Ok(_) => None,
    };
    match refused {
        Some(error) => {
            // It may hold part of a key.
            bytes.zeroize();
            Err(error)
        }
        None => Ok(bytes),
    }
}

fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

fn file_kind(metadata: &std::fs::Metadata) -> &'static str {
    if metadata.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let kind = metadata.file_type();
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("etkmqtt-files-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_regular_file_up_to_the_limit_is_read_whole() {
        let dir = TempDir::new("regular");
        let path = dir.0.join("ca.pem");
        let content: Vec<u8> = (0..MAX_FILE_BYTES).map(|i| i as u8).collect();
        std::fs::write(&path, &content).expect("write");
        assert_eq!(read_limited("CAFILE", &path).expect("read"), content);
    }

    #[test]
    fn a_file_over_the_limit_is_refused_naming_option_path_size_and_limit() {
        let dir = TempDir::new("large");
        let path = dir.0.join("big.pem");
        std::fs::write(&path, vec![b'x'; 2 * 1024 * 1024]).expect("write");
        let err = read_limited("CERTFILE", &path).expect_err("too large");
        assert_eq!(
            err,
            ConnectError::FileTooLarge {
                option: "CERTFILE",
                path: path.display().to_string(),
                size: 2 * 1024 * 1024,
                limit: MAX_FILE_BYTES,
            }
        );
        let text = err.to_string();
        assert!(text.contains("CERTFILE"), "{text}");
        assert!(text.contains("big.pem"), "{text}");
        assert!(text.contains("2097152 bytes"), "{text}");
        assert!(text.contains("1048576"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_is_refused_without_reading_it() {
        let started = Instant::now();
        let err = read_limited("CAFILE", Path::new("/dev/zero")).expect_err("device");
        assert!(
            matches!(
                err,
                ConnectError::NotARegularFile {
                    option: "CAFILE",
                    kind: "a character device",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("/dev/zero"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_without_a_writer_is_refused_without_blocking() {
        let dir = TempDir::new("fifo");
        let path = dir.0.join("key.pem");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let started = Instant::now();
        let err = read_limited("KEYFILE", &path).expect_err("fifo");
        assert!(
            matches!(
                err,
                ConnectError::NotARegularFile {
                    kind: "a FIFO (named pipe)",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_directory_or_a_missing_file_is_refused_with_the_reason() {
        let dir = TempDir::new("dir");
        let err = read_limited("CAFILE", &dir.0).expect_err("directory");
        assert!(err.to_string().contains("a directory"), "{err}");
        let missing = dir.0.join("missing.pem");
        let err = read_limited("CAFILE", &missing).expect_err("missing");
        assert!(
            matches!(
                err,
                ConnectError::File {
                    option: "CAFILE",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
