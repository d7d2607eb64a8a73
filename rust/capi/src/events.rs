//! The event callback: a C function and its `user_data`, handed to the
//! engine as its event sink. The engine's client decides when it may be set
//! (before connect) and guarantees that once close or free returns (on any
//! thread but the event thread) it is not running and never runs again, so
//! the application may release `user_data`.

use std::ffi::{c_int, c_void};

use etkmqtt_core::boundary::{EVENT_MESSAGE, EVENT_STATUS};
use etkmqtt_core::{Event, EventSink};

/// Event code: a message arrived; take it with `etkmqtt_client_read_message`.
pub const ETKMQTT_EVENT_MESSAGE: c_int = 0;
/// Event code: the status changed, or a failure was recorded (read
/// `etkmqtt_client_status` and `etkmqtt_client_last_error`).
pub const ETKMQTT_EVENT_STATUS: c_int = 1;

// cbindgen needs the literals above; they are the core's codes.
const _: () =
    assert!(ETKMQTT_EVENT_MESSAGE == EVENT_MESSAGE && ETKMQTT_EVENT_STATUS == EVENT_STATUS);

/// Called on the client's event thread with the `user_data` given to
/// `etkmqtt_client_set_event_callback` and an event code
/// (`ETKMQTT_EVENT_MESSAGE` or `ETKMQTT_EVENT_STATUS`). Calls never overlap.
/// A status event follows every status change and every failure that sets
/// `etkmqtt_client_last_error` (which then already returns it). The
/// callback may call any function on the client, including
/// `etkmqtt_client_close`, but not `etkmqtt_client_free`. A publish from the
/// callback does not wait for queue space: it fails with ETKMQTT_QUEUE_FULL
/// at once.
#[allow(non_camel_case_types)]
pub type etkmqtt_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: c_int)>;

/// The engine's sink for a C callback.
pub(crate) struct CallbackSink {
    function: unsafe extern "C" fn(*mut c_void, c_int),
    user_data: *mut c_void,
}

impl CallbackSink {
    pub fn new(
        function: unsafe extern "C" fn(*mut c_void, c_int),
        user_data: *mut c_void,
    ) -> CallbackSink {
        CallbackSink {
            function,
            user_data,
        }
    }
}

// SAFETY: `user_data` is only ever handed back to `function`, on the event
// thread; etkmqtt_client_set_event_callback documents that both must be
// usable from that thread.
unsafe impl Send for CallbackSink {}

impl EventSink for CallbackSink {
    fn deliver(&mut self, event: Event) {
        // SAFETY: `function` and `user_data` were given together to
        // etkmqtt_client_set_event_callback, whose contract is that the
        // function may be called with that user_data on the event thread
        // until close or free returns; the engine's close waits for this
        // call to end before returning (on any other thread).
        unsafe { (self.function)(self.user_data, event.code()) };
    }
}
