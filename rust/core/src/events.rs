//! Events for the application. The client delivers them on its event thread
//! one at a time, so that a callback may call back into the client (even
//! `close`) without ever running beside another callback of that client.

use crate::boundary::{EVENT_MESSAGE, EVENT_STATUS};
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
