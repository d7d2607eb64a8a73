//! What the two bindings (JNI and C) share, defined once: event codes, the
//! kinds of rejected calls, the text of a caught panic, and the table that
//! hands out handles for clients living on the other side of a boundary.
//! Each binding only converts these into its own types.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::Error;
use crate::store::StoreError;

/// Event code: a message arrived (the Flexy API's `MQTT_MESSAGE_EVENT`).
pub const EVENT_MESSAGE: i32 = 0;
/// Event code: the status changed (the Flexy API's `MQTT_STATUS_EVENT`).
pub const EVENT_STATUS: i32 = 1;

/// The kind of a rejected call: what a binding maps to its own error code
/// or exception. New kinds are added at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument or option was refused.
    InvalidArgument,
    /// The offline queue or the message store is full.
    QueueFull,
    /// The client was closed.
    Closed,
    /// connect() was called before: options and callbacks are fixed.
    AlreadyConnected,
    /// The message store failed.
    Store,
    /// The system refused a resource (a thread).
    System,
    /// The client stopped after an internal error.
    Stopped,
}

impl Error {
    /// The kind of this rejection.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::UnknownOption { .. }
            | Error::InvalidOption { .. }
            | Error::ConflictingOptions(_)
            | Error::InvalidTopic(_)
            | Error::PayloadTooLarge { .. }
            | Error::InvalidTopicFilter(_)
            | Error::InvalidQos(_)
            | Error::InvalidClientId(_)
            | Error::InvalidHost(_)
            | Error::InvalidString(_)
            | Error::TagJson(_)
            | Error::Configuration(_)
            | Error::PluginAlreadyAttached
            | Error::OptionAfterPlugin { .. } => ErrorKind::InvalidArgument,
            Error::QueueFull { .. } | Error::Store(StoreError::Full { .. }) => ErrorKind::QueueFull,
            Error::Store(_) => ErrorKind::Store,
            Error::OptionAfterConnect { .. }
            | Error::AlreadyConnected
            | Error::PluginAfterConnect => ErrorKind::AlreadyConnected,
            Error::Closed => ErrorKind::Closed,
            Error::Thread { .. } => ErrorKind::System,
            Error::Stopped(_) => ErrorKind::Stopped,
        }
    }
}

/// The text of a caught panic, as every boundary reports it.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    let detail = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic");
    format!("etkmqtt internal error (please report it): {detail}")
}

/// Objects handed across a boundary as numbers. A number is never reused,
/// so a stale one finds nothing instead of another object, and a call that
/// holds an object keeps it alive while [`Handles::remove`] runs elsewhere:
/// no binding has to count active calls or cast integers to pointers.
pub struct Handles<T> {
    inner: Mutex<Table<T>>,
}

struct Table<T> {
    objects: BTreeMap<i64, Arc<T>>,
    next: i64,
}

impl<T> Default for Handles<T> {
    fn default() -> Self {
        Handles::new()
    }
}

impl<T> Handles<T> {
    pub const fn new() -> Handles<T> {
        Handles {
            inner: Mutex::new(Table {
                objects: BTreeMap::new(),
                next: 1,
            }),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table<T>> {
        // Only inserts and removals happen under the lock.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `object` and returns its handle (never 0).
    pub fn insert(&self, object: T) -> i64 {
        let mut table = self.table();
        let handle = table.next;
        table.next += 1;
        table.objects.insert(handle, Arc::new(object));
        handle
    }

    /// The object behind `handle`, if it was not removed.
    pub fn get(&self, handle: i64) -> Option<Arc<T>> {
        self.table().objects.get(&handle).cloned()
    }

    /// Forgets `handle`; the object is dropped once no call holds it.
    pub fn remove(&self, handle: i64) -> Option<Arc<T>> {
        self.table().objects.remove(&handle)
    }

    pub fn len(&self) -> usize {
        self.table().objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_never_reused_and_a_held_object_outlives_its_removal() {
        let handles = Handles::new();
        let a = handles.insert(String::from("a"));
        let held = handles.get(a).expect("live");
        assert!(handles.remove(a).is_some());
        assert!(handles.get(a).is_none(), "stale handle finds nothing");
        assert_eq!(*held, "a", "the call in progress still has it");
        let b = handles.insert(String::from("b"));
        assert_ne!(a, b);
        assert_ne!(b, 0);
        assert!(handles.get(0).is_none());
    }

    #[test]
    fn panic_text_names_the_cause_for_str_and_string_payloads() {
        let from_str = std::panic::catch_unwind(|| panic!("boom")).expect_err("panics");
        assert_eq!(
            panic_message(from_str.as_ref()),
            "etkmqtt internal error (please report it): boom"
        );
        let from_string =
            std::panic::catch_unwind(|| panic!("{} {}", "formatted", 1)).expect_err("panics");
        assert!(panic_message(from_string.as_ref()).ends_with("formatted 1"));
    }

    #[test]
    fn rejections_have_the_documented_kinds() {
        assert_eq!(Error::InvalidQos(3).kind(), ErrorKind::InvalidArgument);
        assert_eq!(
            Error::Store(StoreError::Full { used: 1, max: 1 }).kind(),
            ErrorKind::QueueFull
        );
        assert_eq!(Error::Closed.kind(), ErrorKind::Closed);
        assert_eq!(Error::AlreadyConnected.kind(), ErrorKind::AlreadyConnected);
    }
}
