//! The event callback. The engine takes its [`EventSink`] when the client is
//! created, but C sets the callback afterwards, so the sink reads a shared
//! slot that `etkmqtt_client_set_event_callback` fills.
//!
//! The slot also knows whether a callback is running, so that close and free
//! can wait for it: once they return (on any thread but the event thread),
//! the callback is not running and never runs again, and the application
//! may release `user_data`.

use std::ffi::{c_int, c_void};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

use etkmqtt_core::{Event, EventSink};

use crate::result::etkmqtt_result::{self, *};

/// Event code: a message arrived; take it with `etkmqtt_client_read_message`.
pub const ETKMQTT_EVENT_MESSAGE: c_int = 0;
/// Event code: the status changed; read it with `etkmqtt_client_status`.
pub const ETKMQTT_EVENT_STATUS: c_int = 1;

/// Called on the client's event thread with the `user_data` given to
/// `etkmqtt_client_set_event_callback` and an event code
/// (`ETKMQTT_EVENT_MESSAGE` or `ETKMQTT_EVENT_STATUS`). Calls never overlap.
/// The callback may call any function on the client, including
/// `etkmqtt_client_close`, but not `etkmqtt_client_free`. A publish from the
/// callback does not wait for queue space: it fails with ETKMQTT_QUEUE_FULL
/// at once.
#[allow(non_camel_case_types)]
pub type etkmqtt_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: c_int)>;

#[derive(Clone, Copy)]
struct Callback {
    function: unsafe extern "C" fn(*mut c_void, c_int),
    user_data: *mut c_void,
}

// SAFETY: `user_data` is only ever handed back to `function`, on the event
// thread; etkmqtt_client_set_event_callback documents that both must be
// usable from that thread.
unsafe impl Send for Callback {}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before connect: the callback may be set.
    Configuring,
    Connected,
    /// Closed: no callback runs any more.
    Closed,
}

struct State {
    callback: Option<Callback>,
    phase: Phase,
    /// The event thread, while it is inside the callback.
    running_on: Option<ThreadId>,
}

/// The slot shared by the client (which sets and clears the callback) and
/// the sink on the event thread (which calls it).
pub(crate) struct EventSlot {
    state: Mutex<State>,
    /// Signalled when a callback returns.
    idle: Condvar,
}

impl EventSlot {
    pub fn new() -> EventSlot {
        EventSlot {
            state: Mutex::new(State {
                callback: None,
                phase: Phase::Configuring,
                running_on: None,
            }),
            idle: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Only plain assignments happen under this lock: a panic elsewhere
        // leaves the state consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets (or with `None` clears) the callback; only before connect.
    pub fn set(
        &self,
        function: etkmqtt_event_callback,
        user_data: *mut c_void,
    ) -> Result<(), etkmqtt_result> {
        let mut state = self.lock();
        match state.phase {
            Phase::Configuring => {
                state.callback = function.map(|function| Callback {
                    function,
                    user_data,
                });
                Ok(())
            }
            Phase::Connected => Err(ETKMQTT_ALREADY_CONNECTED),
            Phase::Closed => Err(ETKMQTT_CLOSED),
        }
    }

    /// Runs the engine's connect; from its success on, the callback is fixed.
    /// The slot stays locked meanwhile, so a concurrent `set` either lands
    /// before connect or is refused. (Events the new threads emit wait for
    /// the lock; connect itself never waits for them.)
    pub fn connect<E>(&self, connect: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        let mut state = self.lock();
        connect()?;
        if state.phase == Phase::Configuring {
            state.phase = Phase::Connected;
        }
        Ok(())
    }

    /// Stops callbacks for good, and waits for one that is running unless
    /// that is this thread's own (close called from the callback).
    pub fn shut(&self) {
        let me = thread::current().id();
        let mut state = self.lock();
        state.phase = Phase::Closed;
        state.callback = None;
        while state.running_on.is_some_and(|thread| thread != me) {
            state = self
                .idle
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn deliver(&self, event: Event) {
        let callback = {
            let mut state = self.lock();
            let Some(callback) = state.callback else {
                return;
            };
            state.running_on = Some(thread::current().id());
            callback
        };
        let code = match event {
            Event::MessageArrived => ETKMQTT_EVENT_MESSAGE,
            Event::StatusChanged(_) => ETKMQTT_EVENT_STATUS,
        };
        // SAFETY: `function` and `user_data` were given together to
        // etkmqtt_client_set_event_callback, whose contract is that the
        // function may be called with that user_data on the event thread
        // until close or free returns; both wait (in `shut`) for this call
        // to end before returning.
        unsafe { (callback.function)(callback.user_data, code) };
        self.lock().running_on = None;
        self.idle.notify_all();
    }
}

/// The engine's sink: forwards each event to the slot's callback, if any.
pub(crate) struct SlotSink(pub std::sync::Arc<EventSlot>);

impl EventSink for SlotSink {
    fn deliver(&mut self, event: Event) {
        self.0.deliver(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[derive(Default)]
    struct Seen {
        started: AtomicBool,
        finished: AtomicBool,
        last_event: AtomicI32,
    }

    /// Records the event, taking long enough for `shut` to have to wait.
    unsafe extern "C" fn slow(user_data: *mut c_void, event: c_int) {
        // SAFETY: the tests pass a pointer to a `Seen` that outlives the slot.
        let seen = unsafe { &*(user_data as *const Seen) };
        seen.started.store(true, Ordering::SeqCst);
        thread::sleep(Duration::from_millis(100));
        seen.last_event.store(event, Ordering::SeqCst);
        seen.finished.store(true, Ordering::SeqCst);
    }

    fn user_data(seen: &Seen) -> *mut c_void {
        seen as *const Seen as *mut c_void
    }

    #[test]
    fn shut_waits_for_a_running_callback_and_stops_later_ones() {
        let seen = Arc::new(Seen::default());
        let slot = Arc::new(EventSlot::new());
        assert!(slot.set(Some(slow), user_data(&seen)).is_ok());
        let delivering = {
            let slot = slot.clone();
            thread::spawn(move || slot.deliver(Event::MessageArrived))
        };
        while !seen.started.load(Ordering::SeqCst) {
            thread::yield_now();
        }
        slot.shut();
        assert!(seen.finished.load(Ordering::SeqCst));
        assert_eq!(
            seen.last_event.load(Ordering::SeqCst),
            ETKMQTT_EVENT_MESSAGE
        );
        let _ = delivering.join();

        seen.finished.store(false, Ordering::SeqCst);
        slot.deliver(Event::MessageArrived);
        assert!(!seen.finished.load(Ordering::SeqCst));
    }

    #[test]
    fn callback_is_fixed_once_connected_and_refused_once_closed() {
        let seen = Seen::default();
        let slot = EventSlot::new();
        assert!(slot.connect(|| Err::<(), _>("options rejected")).is_err());
        assert!(slot.set(Some(slow), user_data(&seen)).is_ok());
        assert!(slot.connect(|| Ok::<(), ()>(())).is_ok());
        assert_eq!(
            slot.set(None, std::ptr::null_mut()),
            Err(ETKMQTT_ALREADY_CONNECTED)
        );
        slot.deliver(Event::StatusChanged(
            etkmqtt_core::ConnectionStatus::Connected,
        ));
        assert_eq!(seen.last_event.load(Ordering::SeqCst), ETKMQTT_EVENT_STATUS);
        slot.shut();
        assert_eq!(slot.set(None, std::ptr::null_mut()), Err(ETKMQTT_CLOSED));
    }
}
