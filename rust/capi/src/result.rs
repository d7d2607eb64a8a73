//! `etkmqtt_result`: what every fallible call returns, and the one mapping
//! from the engine's [`Error`] to it.

use std::ffi::{c_char, CStr};

use etkmqtt_core::boundary::ErrorKind;
#[cfg(test)]
use etkmqtt_core::store::StoreError;
use etkmqtt_core::Error;

use crate::boundary::guard;

/// What a call did. `ETKMQTT_OK` is 0; every other value is a reason the call
/// did nothing. The values are stable: new codes are only ever added at the
/// end. `etkmqtt_client_last_call_error` gives the text of the latest
/// rejected call on a client (which option, which topic, why).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum etkmqtt_result {
    /// The call succeeded.
    ETKMQTT_OK = 0,
    /// A pointer argument that must not be NULL was NULL.
    ETKMQTT_NULL_ARGUMENT = 1,
    /// A string argument is not valid UTF-8.
    ETKMQTT_INVALID_UTF8 = 2,
    /// An argument was rejected: unknown option or invalid option value,
    /// options that do not fit together (found by connect), invalid topic or
    /// topic filter, QoS other than 0, 1 or 2, invalid client id or host.
    ETKMQTT_INVALID_ARGUMENT = 3,
    /// The message was not accepted: the offline queue (MAXINFLIGHT plus
    /// 1000 messages) or the message store (STOREMAXBYTES) is full.
    ETKMQTT_QUEUE_FULL = 4,
    /// The client was closed; only `etkmqtt_client_free` is left to call.
    ETKMQTT_CLOSED = 5,
    /// `etkmqtt_client_connect` was already called: connect, set_option and
    /// set_event_callback are refused from then on.
    ETKMQTT_ALREADY_CONNECTED = 6,
    /// Nothing to return: no message is waiting (`read_message`), or no
    /// error text exists (`last_error`, `last_call_error`).
    ETKMQTT_NO_MESSAGE = 7,
    /// The caller's buffer is too small; the size needed (with the NUL) was
    /// stored in `*needed`, and the buffer holds as much as fitted.
    ETKMQTT_BUFFER_TOO_SMALL = 8,
    /// An internal error of etkmqtt (a bug: please report it). It was
    /// contained; the client may still be used and must still be freed.
    ETKMQTT_PANIC = 9,
    /// The message store (STOREDIR) failed: a file could not be read or
    /// written, it is locked by another client, or the message is too large
    /// for it.
    ETKMQTT_STORE_ERROR = 10,
    /// The system refused a resource: the client's threads could not be
    /// started.
    ETKMQTT_SYSTEM_ERROR = 11,
    /// A rejection that this version of the C API does not classify; see
    /// `etkmqtt_client_last_call_error`.
    ETKMQTT_OTHER_ERROR = 12,
    /// The client stopped after an internal error of etkmqtt (a bug: please
    /// report it; `etkmqtt_client_last_error` says what): close and free it,
    /// and create a new one.
    ETKMQTT_STOPPED = 13,
}

use etkmqtt_result::*;

/// Every code, in value order (for `from_code` and the tests).
const ALL: [etkmqtt_result; 14] = [
    ETKMQTT_OK,
    ETKMQTT_NULL_ARGUMENT,
    ETKMQTT_INVALID_UTF8,
    ETKMQTT_INVALID_ARGUMENT,
    ETKMQTT_QUEUE_FULL,
    ETKMQTT_CLOSED,
    ETKMQTT_ALREADY_CONNECTED,
    ETKMQTT_NO_MESSAGE,
    ETKMQTT_BUFFER_TOO_SMALL,
    ETKMQTT_PANIC,
    ETKMQTT_STORE_ERROR,
    ETKMQTT_SYSTEM_ERROR,
    ETKMQTT_OTHER_ERROR,
    ETKMQTT_STOPPED,
];

impl etkmqtt_result {
    /// The code with value `code`, if there is one. C may pass any integer,
    /// so a raw value is never transmuted into the enum.
    pub fn from_code(code: u32) -> Option<etkmqtt_result> {
        ALL.into_iter().find(|result| *result as u32 == code)
    }

    /// One sentence saying what the code means.
    pub fn description(self) -> &'static CStr {
        match self {
            ETKMQTT_OK => c"success",
            ETKMQTT_NULL_ARGUMENT => c"a required pointer argument is NULL",
            ETKMQTT_INVALID_UTF8 => c"a string argument is not valid UTF-8",
            ETKMQTT_INVALID_ARGUMENT => {
                c"an argument was rejected (option, topic, topic filter, QoS, client id or host)"
            }
            ETKMQTT_QUEUE_FULL => c"the offline queue or message store is full",
            ETKMQTT_CLOSED => c"the client is closed",
            ETKMQTT_ALREADY_CONNECTED => c"connect was already called on this client",
            ETKMQTT_NO_MESSAGE => c"nothing to return (no message waiting, or no error text)",
            ETKMQTT_BUFFER_TOO_SMALL => c"the buffer is too small",
            ETKMQTT_PANIC => c"internal error in etkmqtt (please report it)",
            ETKMQTT_STORE_ERROR => c"the message store failed",
            ETKMQTT_SYSTEM_ERROR => c"the system refused a resource (thread)",
            ETKMQTT_OTHER_ERROR => c"the call was rejected (see last_call_error)",
            ETKMQTT_STOPPED => c"the client stopped after an internal error (please report it)",
        }
    }
}

impl From<&Error> for etkmqtt_result {
    /// The engine's kind of rejection as a result code (the core defines
    /// the kinds once for both bindings).
    fn from(error: &Error) -> etkmqtt_result {
        match error.kind() {
            ErrorKind::InvalidArgument => ETKMQTT_INVALID_ARGUMENT,
            ErrorKind::QueueFull => ETKMQTT_QUEUE_FULL,
            ErrorKind::Closed => ETKMQTT_CLOSED,
            ErrorKind::AlreadyConnected => ETKMQTT_ALREADY_CONNECTED,
            ErrorKind::Store => ETKMQTT_STORE_ERROR,
            ErrorKind::System => ETKMQTT_SYSTEM_ERROR,
            ErrorKind::Stopped => ETKMQTT_STOPPED,
            _ => ETKMQTT_OTHER_ERROR,
        }
    }
}

/// A static NUL-terminated sentence describing `result` (a value returned by
/// another call), or "unknown result code" for a value that is no code.
/// Never NULL; never to be freed. For the specific cause of a rejected call
/// use `etkmqtt_client_last_call_error`.
#[no_mangle]
pub extern "C" fn etkmqtt_result_describe(result: u32) -> *const c_char {
    guard(|| {
        etkmqtt_result::from_code(result)
            .map_or(c"unknown result code", etkmqtt_result::description)
            .as_ptr()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_numbered_in_declaration_order_and_round_trip() {
        for (index, result) in ALL.into_iter().enumerate() {
            assert_eq!(result as u32, index as u32);
            assert_eq!(etkmqtt_result::from_code(index as u32), Some(result));
        }
        assert_eq!(etkmqtt_result::from_code(ALL.len() as u32), None);
    }

    #[test]
    fn engine_errors_map_to_the_documented_codes() {
        assert_eq!(
            etkmqtt_result::from(&Error::InvalidQos(3)),
            ETKMQTT_INVALID_ARGUMENT
        );
        assert_eq!(
            etkmqtt_result::from(&Error::Store(StoreError::Full { used: 1, max: 1 })),
            ETKMQTT_QUEUE_FULL
        );
        assert_eq!(
            etkmqtt_result::from(&Error::OptionAfterConnect {
                name: "PORT".to_owned()
            }),
            ETKMQTT_ALREADY_CONNECTED
        );
        assert_eq!(etkmqtt_result::from(&Error::Closed), ETKMQTT_CLOSED);
    }

    #[test]
    fn describe_never_returns_null_even_for_unknown_codes() {
        for code in [0, 5, 12, 13, 14, u32::MAX] {
            let text = etkmqtt_result_describe(code);
            assert!(!text.is_null());
        }
        // SAFETY: etkmqtt_result_describe returns a static C string.
        let unknown = unsafe { CStr::from_ptr(etkmqtt_result_describe(99)) };
        assert_eq!(unknown, c"unknown result code");
    }
}
