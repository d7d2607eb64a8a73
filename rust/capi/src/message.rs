//! `etkmqtt_message`: a received message, owned by the caller of
//! `etkmqtt_client_read_message` until `etkmqtt_message_free`.

use std::ffi::{c_char, c_int, CString};

use etkmqtt_core::Message;

use crate::boundary::guard;

/// A received message (opaque). Its accessors return pointers into it that
/// stay valid until `etkmqtt_message_free`. It is independent of the client:
/// it may outlive it and be used on any thread.
#[allow(non_camel_case_types)]
pub struct etkmqtt_message {
    message: Message,
    topic: CString,
}

impl etkmqtt_message {
    pub(crate) fn new(message: Message) -> etkmqtt_message {
        // MQTT forbids U+0000 in topics, so brokers never send one; if one
        // did, C would see the topic up to it.
        let mut topic = message.topic.clone().into_bytes();
        if let Some(nul) = topic.iter().position(|&byte| byte == 0) {
            topic.truncate(nul);
        }
        etkmqtt_message {
            topic: CString::new(topic).unwrap_or_default(),
            message,
        }
    }
}

/// Returned for an empty payload, so that the pointer is never dangling.
static EMPTY_PAYLOAD: [u8; 1] = [0];

/// The topic, NUL-terminated UTF-8; NULL if `message` is NULL.
///
/// # Safety
/// `message` is NULL or a live message from `etkmqtt_client_read_message`.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_message_topic(message: *const etkmqtt_message) -> *const c_char {
    guard(|| {
        // SAFETY: the caller guarantees NULL or a live message.
        match unsafe { message.as_ref() } {
            Some(message) => message.topic.as_ptr(),
            None => std::ptr::null(),
        }
    })
}

/// The payload: its length is stored in `*len`. Binary; not NUL-terminated.
/// Never NULL for a live message, even when the payload is empty (`*len` 0).
/// Returns NULL (and stores 0 when `len` is not NULL) if `message` or `len`
/// is NULL.
///
/// # Safety
/// `message` is NULL or a live message from `etkmqtt_client_read_message`;
/// `len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_message_payload(
    message: *const etkmqtt_message,
    len: *mut usize,
) -> *const u8 {
    guard(|| {
        // SAFETY: the caller guarantees NULL or a live message.
        let message = unsafe { message.as_ref() };
        let (payload, length) = match (message, len.is_null()) {
            (Some(message), false) if message.message.payload.is_empty() => {
                (EMPTY_PAYLOAD.as_ptr(), 0)
            }
            (Some(message), false) => (
                message.message.payload.as_ptr(),
                message.message.payload.len(),
            ),
            _ => (std::ptr::null(), 0),
        };
        if !len.is_null() {
            // SAFETY: not NULL, and the caller guarantees it is writable.
            unsafe { len.write(length) };
        }
        payload
    })
}

/// The QoS the message was delivered with (0, 1 or 2); -1 if `message` is
/// NULL.
///
/// # Safety
/// `message` is NULL or a live message from `etkmqtt_client_read_message`.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_message_qos(message: *const etkmqtt_message) -> c_int {
    guard(|| {
        // SAFETY: the caller guarantees NULL or a live message.
        unsafe { message.as_ref() }.map_or(-1, |message| c_int::from(message.message.qos))
    })
}

/// Whether the broker sent the message as a retained one (it was stored
/// before this client subscribed); false if `message` is NULL.
///
/// # Safety
/// `message` is NULL or a live message from `etkmqtt_client_read_message`.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_message_retained(message: *const etkmqtt_message) -> bool {
    guard(|| {
        // SAFETY: the caller guarantees NULL or a live message.
        unsafe { message.as_ref() }.is_some_and(|message| message.message.retain)
    })
}

/// Frees a message. NULL is fine.
///
/// # Safety
/// `message` is NULL or a message from `etkmqtt_client_read_message` not
/// freed yet; the pointers its accessors returned die with it.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_message_free(message: *mut etkmqtt_message) {
    guard(|| {
        if !message.is_null() {
            // SAFETY: non-NULL messages come from Box::into_raw in
            // etkmqtt_client_read_message, and the caller frees each once.
            drop(unsafe { Box::from_raw(message) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn boxed(topic: &str, payload: &'static [u8]) -> *mut etkmqtt_message {
        Box::into_raw(Box::new(etkmqtt_message::new(Message {
            topic: topic.to_owned(),
            payload: payload.into(),
            qos: 1,
            retain: true,
        })))
    }

    #[test]
    fn accessors_return_what_arrived() {
        let message = boxed("a/b", b"x\0y");
        let mut len = 99;
        // SAFETY: `message` is live until the free below.
        unsafe {
            assert_eq!(CStr::from_ptr(etkmqtt_message_topic(message)), c"a/b");
            let payload = etkmqtt_message_payload(message, &mut len);
            assert_eq!(std::slice::from_raw_parts(payload, len), b"x\0y");
            assert_eq!(etkmqtt_message_qos(message), 1);
            assert!(etkmqtt_message_retained(message));
            etkmqtt_message_free(message);
        }
    }

    #[test]
    fn empty_payload_has_a_real_pointer_and_null_message_has_none() {
        let message = boxed("t", b"");
        let mut len = 99;
        // SAFETY: `message` is live until the free below; NULL is allowed.
        unsafe {
            assert!(!etkmqtt_message_payload(message, &mut len).is_null());
            assert_eq!(len, 0);
            etkmqtt_message_free(message);
            len = 99;
            assert!(etkmqtt_message_payload(std::ptr::null(), &mut len).is_null());
            assert_eq!(len, 0);
            assert!(etkmqtt_message_topic(std::ptr::null()).is_null());
            assert_eq!(etkmqtt_message_qos(std::ptr::null()), -1);
            etkmqtt_message_free(std::ptr::null_mut());
        }
    }

    #[test]
    fn a_nul_in_a_topic_ends_the_c_string_there() {
        let message = etkmqtt_message::new(Message {
            topic: "a\0b".to_owned(),
            payload: Default::default(),
            qos: 0,
            retain: false,
        });
        assert_eq!(message.topic.as_c_str(), c"a");
    }
}
