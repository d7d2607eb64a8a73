//! What a store call reports: the errors that failed it, and the notices
//! that did not.

use std::path::PathBuf;

/// Why a store operation failed. No variant carries a payload.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("message store: {path}: {reason}")]
    Io { path: PathBuf, reason: String },

    /// The file system has no room (or the quota is used up). Not the same
    /// as [`StoreError::Full`], which is the STOREMAXBYTES limit.
    #[error("message store: {path}: {action}: the disk is full; new messages are refused until there is room on it again")]
    DiskFull { path: PathBuf, action: &'static str },

    /// Messages were delivered but the marks saying so could not be written
    /// yet. They are not sent again by this process; they would be after a
    /// restart.
    #[error("message store {path}: cannot record that {pending} delivered message(s) were delivered ({reason}); this client will not send them again and keeps trying to record it, but if it stops first they are sent again after the restart")]
    DeliveryNotRecorded {
        path: PathBuf,
        pending: usize,
        reason: String,
    },

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

impl StoreError {
    /// True for [`StoreError::DiskFull`].
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull { .. })
    }
}

/// Something worth telling the user that did not make the call fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreNotice {
    /// The disk is full: delivery marks are being written into the space
    /// reserved for them. Returned once, when that starts.
    #[error("message store {path}: the disk is full; deliveries are recorded in the space the store reserved for that ({left} bytes of it left), and new messages are refused until there is room on the disk again")]
    DiskFullUsingReserve { path: PathBuf, left: u64 },
}
