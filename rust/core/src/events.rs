//! Events for the application, delivered on the client's event thread one
//! at a time, so that a callback may call back into the client (even
//! `close`) without ever running beside another callback of that client.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use crate::boundary::{panic_message, EVENT_MESSAGE, EVENT_STATUS};
use crate::shared::Shared;
use crate::status::ConnectionStatus;

/// What the event thread reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The status changed, or a failure was recorded: read the status and
    /// `last_error()`.
    StatusChanged(ConnectionStatus),
    /// One message arrived; take it with `read_message`.
    MessageArrived,
}

impl Event {
    /// The Flexy API's event code: `MQTT_MESSAGE_EVENT` (0) or
    /// `MQTT_STATUS_EVENT` (1).
    pub fn code(self) -> i32 {
        match self {
            Event::MessageArrived => EVENT_MESSAGE,
            Event::StatusChanged(_) => EVENT_STATUS,
        }
    }
}

/// Receives a client's events on its event thread. Calls never overlap.
pub trait EventSink: Send + 'static {
    fn deliver(&mut self, event: Event);
}

/// Starts the thread that hands `events` to `sink` until the channel closes
/// (at close) or the client is closing.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    mut sink: Box<dyn EventSink>,
    events: Receiver<Event>,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("etkmqtt-events-{}", shared.client_id))
        .spawn(move || {
            let _ = shared.event_thread.set(thread::current().id());
            while let Ok(event) = events.recv() {
                if shared.closing() {
                    break;
                }
                // A sink that panics loses that event, not the thread.
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| sink.deliver(event))) {
                    eprintln!(
                        "etkmqtt[{}]: event callback failed: {}",
                        shared.client_id,
                        panic_message(panic.as_ref())
                    );
                }
            }
        })
}
