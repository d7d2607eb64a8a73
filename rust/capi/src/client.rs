//! `etkmqtt_client_*`: the client, in the shape of the Java `MqttClient`.
//!
//! Threads: every function may be called from any thread, concurrently with
//! the others on the same client, except `etkmqtt_client_free`, which must
//! not race any other call on that client (and must not be called from the
//! event callback). Calls never block on the network: they validate, queue
//! and return; connecting happens in the background and is reported through
//! `etkmqtt_client_status` and the event callback.

use std::ffi::{c_char, c_int, c_void};
use std::sync::{Mutex, PoisonError};

use etkmqtt_core::Client;

use crate::boundary::{client_call, copy_text, guard, str_arg, CallError, Outcome};
use crate::events::{etkmqtt_event_callback, CallbackSink};
use crate::message::etkmqtt_message;
use crate::result::etkmqtt_result::{self, *};

/// Status: not known (never returned for a live client; returned for NULL).
pub const ETKMQTT_STATUS_UNKNOWN: c_int = -1;
/// Status: connect was called and the client's I/O thread is starting.
pub const ETKMQTT_STATUS_STARTING: c_int = 2;
/// Status: trying to connect, or waiting before the next try after a failure
/// (`etkmqtt_client_last_error` says why the last try failed).
pub const ETKMQTT_STATUS_TRYING_TO_CONNECT: c_int = 3;
/// Status: not connected and not trying: before connect and after close.
pub const ETKMQTT_STATUS_DISCONNECTED: c_int = 4;
/// Status: connected; the broker accepted the CONNECT.
pub const ETKMQTT_STATUS_CONNECTED: c_int = 5;

/// An MQTT 3.1.1 client (opaque). Create with `etkmqtt_client_new`, destroy
/// with `etkmqtt_client_free`.
#[allow(non_camel_case_types)]
pub struct etkmqtt_client {
    engine: Client,
    last_call_error: Mutex<Option<String>>,
}

impl etkmqtt_client {
    pub(crate) fn engine(&self) -> &Client {
        &self.engine
    }

    pub(crate) fn record_call_error(&self, text: String) {
        *self
            .last_call_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(text);
    }
}

// The C API promises that any thread may call (see the module doc).
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<etkmqtt_client>();
    assert_send_sync::<etkmqtt_message>();
};

/// Creates a client with MQTT client id `id` for the broker `host` (a host
/// name or IP address; the port is the PORT option, 1883 by default).
/// Nothing happens on the network until `etkmqtt_client_connect`.
///
/// On success `*out` holds the new client; on failure `*out` is set to NULL
/// (when `out` is not NULL). Fails with ETKMQTT_NULL_ARGUMENT,
/// ETKMQTT_INVALID_UTF8, or ETKMQTT_INVALID_ARGUMENT (client id longer than
/// 65535 bytes, host empty or not a host name or IP address).
///
/// # Safety
/// `id` and `host` are NULL or NUL-terminated strings; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_new(
    id: *const c_char,
    host: *const c_char,
    out: *mut *mut etkmqtt_client,
) -> etkmqtt_result {
    guard(|| {
        if out.is_null() {
            return ETKMQTT_NULL_ARGUMENT;
        }
        // SAFETY: not NULL, and the caller guarantees it is writable.
        unsafe { out.write(std::ptr::null_mut()) };
        let created = (|| -> Result<etkmqtt_client, CallError> {
            // SAFETY: the caller guarantees NULL or NUL-terminated strings.
            let (id, host) = unsafe { (str_arg(id, "client id")?, str_arg(host, "host")?) };
            Ok(etkmqtt_client {
                engine: Client::new(id, host)?,
                last_call_error: Mutex::new(None),
            })
        })();
        match created {
            Ok(client) => {
                // SAFETY: checked not NULL and writable above.
                unsafe { out.write(Box::into_raw(Box::new(client))) };
                ETKMQTT_OK
            }
            Err(error) => error.code,
        }
    })
}

/// Sets an option by name (case-insensitive), with the names and values of
/// the Java API's `setOption` (PORT, KEEPALIVE, CAFILE, USERNAME,
/// PASSWORD, STOREDIR, ... see docs/options.md). Only before connect.
///
/// Fails with ETKMQTT_INVALID_ARGUMENT for an unknown name or invalid value
/// (`etkmqtt_client_last_call_error` names it and the accepted values),
/// ETKMQTT_ALREADY_CONNECTED after connect, ETKMQTT_CLOSED after close.
///
/// # Safety
/// `client` is NULL or a live client; `name` and `value` are NULL or
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_set_option(
    client: *mut etkmqtt_client,
    name: *const c_char,
    value: *const c_char,
) -> etkmqtt_result {
    let call = |client: &etkmqtt_client| -> Outcome {
        // SAFETY: the caller guarantees NULL or NUL-terminated strings.
        let (name, value) = unsafe {
            (
                str_arg(name, "option name")?,
                str_arg(value, "option value")?,
            )
        };
        client.engine.set_option(name, value)?;
        Ok(ETKMQTT_OK)
    };
    // SAFETY: the caller guarantees NULL or a live client.
    unsafe { client_call(client, call) }
}

/// Sets the function called on each event, with `user_data` (may be NULL);
/// a NULL `callback` removes it. Only before connect: fails with
/// ETKMQTT_ALREADY_CONNECTED after connect and ETKMQTT_CLOSED after close.
///
/// The callback runs on the client's event thread, one call at a time (see
/// `etkmqtt_event_callback`). It is called until close or free returns;
/// `user_data` must stay valid, and usable from that thread, until then.
/// Once close or free has returned on a thread other than the event thread,
/// the callback is not running and never runs again.
///
/// # Safety
/// `client` is NULL or a live client; `callback` is NULL or a function that
/// may be called with `user_data` from another thread until close or free
/// returns.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_set_event_callback(
    client: *mut etkmqtt_client,
    callback: etkmqtt_event_callback,
    user_data: *mut c_void,
) -> etkmqtt_result {
    let call = |client: &etkmqtt_client| -> Outcome {
        let sink = callback.map(|function| {
            Box::new(CallbackSink::new(function, user_data)) as Box<dyn etkmqtt_core::EventSink>
        });
        client.engine.set_event_sink(sink)?;
        Ok(ETKMQTT_OK)
    };
    // SAFETY: the caller guarantees NULL or a live client.
    unsafe { client_call(client, call) }
}

/// Starts connecting in the background and returns at once; the status
/// becomes ETKMQTT_STATUS_CONNECTED when the broker accepts. A failed try is
/// retried with backoff (RECONNECTMIN, RECONNECTMAX) and its cause is in
/// `etkmqtt_client_last_error`. Subscriptions are restored on every
/// reconnect.
///
/// Fails with ETKMQTT_INVALID_ARGUMENT when the options do not fit together,
/// ETKMQTT_ALREADY_CONNECTED when called twice, ETKMQTT_CLOSED after close,
/// ETKMQTT_STORE_ERROR when the message store cannot be opened,
/// ETKMQTT_SYSTEM_ERROR when the threads cannot be started.
///
/// # Safety
/// `client` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_connect(client: *mut etkmqtt_client) -> etkmqtt_result {
    let call = |client: &etkmqtt_client| -> Outcome {
        client.engine.connect()?;
        Ok(ETKMQTT_OK)
    };
    // SAFETY: the caller guarantees NULL or a live client.
    unsafe { client_call(client, call) }
}

/// Publishes `len` bytes from `payload` (NULL is fine when `len` is 0) to
/// `topic` with QoS 0, 1 or 2. The payload is copied; while not connected
/// the message waits in the offline queue (or the message store with
/// STOREDIR). When the queue is full and the client is connected, waits up
/// to CONNECTTIMEOUT for the broker's acknowledgements (never on the event
/// thread).
///
/// Fails with ETKMQTT_INVALID_ARGUMENT (empty topic or one with wildcards,
/// QoS not 0, 1 or 2), ETKMQTT_QUEUE_FULL, ETKMQTT_CLOSED,
/// ETKMQTT_STORE_ERROR.
///
/// # Safety
/// `client` is NULL or a live client; `topic` is NULL or a NUL-terminated
/// string; `payload` is NULL or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_publish(
    client: *mut etkmqtt_client,
    topic: *const c_char,
    payload: *const u8,
    len: usize,
    qos: c_int,
    retain: bool,
) -> etkmqtt_result {
    let call = |client: &etkmqtt_client| -> Outcome {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let topic = unsafe { str_arg(topic, "topic")? };
        let payload: &[u8] = match (payload.is_null(), len) {
            (true, 0) => &[],
            (true, _) => return Err(CallError::null("payload (with a non-zero length)")),
            // SAFETY: not NULL, and the caller guarantees `len` readable
            // bytes that stay unchanged during the call.
            (false, _) => unsafe { std::slice::from_raw_parts(payload, len) },
        };
        client.engine.publish(topic, payload, qos, retain)?;
        Ok(ETKMQTT_OK)
    };
    // SAFETY: the caller guarantees NULL or a live client.
    unsafe { client_call(client, call) }
}

/// Subscribes to `filter` (wildcards + and # allowed) with QoS 0, 1 or 2:
/// now if connected, and again on every reconnect. Subscribing to a filter
/// again changes its QoS.
///
/// Fails with ETKMQTT_INVALID_ARGUMENT (invalid filter, QoS not 0, 1 or 2)
/// or ETKMQTT_CLOSED.
///
/// # Safety
/// `client` is NULL or a live client; `filter` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_subscribe(
    client: *mut etkmqtt_client,
    filter: *const c_char,
    qos: c_int,
) -> etkmqtt_result {
    let call = |client: &etkmqtt_client| -> Outcome {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let filter = unsafe { str_arg(filter, "topic filter")? };
        client.engine.subscribe(filter, qos)?;
        Ok(ETKMQTT_OK)
    };
    // SAFETY: the caller guarantees NULL or a live client.
    unsafe { client_call(client, call) }
}

/// Unsubscribes from `filter` (now if connected); it is no longer restored
/// on reconnect. Fails with ETKMQTT_INVALID_ARGUMENT or ETKMQTT_CLOSED.
///
/// # Safety
/// `client` is NULL or a live client; `filter` is NULL or a NUL-terminated
/// string.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_unsubscribe(
    client: *mut etkmqtt_client,
    filter: *const c_char,
) -> etkmqtt_result {
    let call = |client: &etkmqtt_client| -> Outcome {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let filter = unsafe { str_arg(filter, "topic filter")? };
        client.engine.unsubscribe(filter)?;
        Ok(ETKMQTT_OK)
    };
    // SAFETY: the caller guarantees NULL or a live client.
    unsafe { client_call(client, call) }
}

/// Takes the oldest received message: `*out` holds it (free it with
/// `etkmqtt_message_free`) and the result is ETKMQTT_OK; with none waiting,
/// `*out` is NULL and the result is ETKMQTT_NO_MESSAGE. A QoS 1/2 message
/// is acknowledged to the broker when taken here, not when it arrived.
/// After close it fails with ETKMQTT_CLOSED: a broker that keeps the
/// session (CLEANSESSION 0) delivers unread messages again to the next
/// client with this id.
///
/// # Safety
/// `client` is NULL or a live client; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_read_message(
    client: *mut etkmqtt_client,
    out: *mut *mut etkmqtt_message,
) -> etkmqtt_result {
    let call = |client: &etkmqtt_client| -> Outcome {
        // Checked before taking a message, so that none is lost.
        if out.is_null() {
            return Err(CallError::null("out (the message pointer)"));
        }
        let message = client
            .engine
            .read_message()?
            .map(|message| Box::into_raw(Box::new(etkmqtt_message::new(message))));
        // SAFETY: not NULL, and the caller guarantees it is writable.
        unsafe { out.write(message.unwrap_or(std::ptr::null_mut())) };
        Ok(if message.is_some() {
            ETKMQTT_OK
        } else {
            ETKMQTT_NO_MESSAGE
        })
    };
    // SAFETY: the caller guarantees NULL or a live client.
    unsafe { client_call(client, call) }
}

/// The connection status: one of the ETKMQTT_STATUS_* codes (the numbers of
/// the Java API's `getStatus()`); ETKMQTT_STATUS_UNKNOWN (-1) if `client`
/// is NULL.
///
/// # Safety
/// `client` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_status(client: *const etkmqtt_client) -> c_int {
    guard(|| {
        // SAFETY: the caller guarantees NULL or a live client.
        unsafe { client.as_ref() }.map_or(ETKMQTT_STATUS_UNKNOWN, |client| {
            client.engine.status().code()
        })
    })
}

/// Messages accepted by publish and not yet done with (QoS 0 written, QoS 1
/// acknowledged, QoS 2 completed); 0 if `client` is NULL.
///
/// # Safety
/// `client` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_queued_count(client: *const etkmqtt_client) -> usize {
    guard(|| {
        // SAFETY: the caller guarantees NULL or a live client.
        unsafe { client.as_ref() }.map_or(0, |client| client.engine.queued_count())
    })
}

/// Messages dropped to make room in the message store (only with STOREFULL
/// dropoldest); 0 otherwise and if `client` is NULL.
///
/// # Safety
/// `client` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_dropped_count(client: *const etkmqtt_client) -> u64 {
    guard(|| {
        // SAFETY: the caller guarantees NULL or a live client.
        unsafe { client.as_ref() }.map_or(0, |client| client.engine.dropped_count())
    })
}

/// The cause of the latest connection failure (the Java API's
/// `getLastError()`), e.g. "connection refused by 127.0.0.1:1883: no broker
/// is listening on that port", copied NUL-terminated into `buf`.
///
/// - ETKMQTT_OK: the text is in `buf`.
/// - ETKMQTT_NO_MESSAGE: nothing has failed yet; `buf` holds "" (when
///   `buf_len` > 0).
/// - ETKMQTT_BUFFER_TOO_SMALL: `buf` holds the start of the text,
///   NUL-terminated (when `buf_len` > 0); call again with `*needed` bytes.
///   `buf` NULL with `buf_len` 0 asks for the size only.
/// - ETKMQTT_NULL_ARGUMENT: `client` is NULL, or `buf` is NULL with
///   `buf_len` > 0.
///
/// `*needed` (when `needed` is not NULL) is set to the size of the text with
/// its NUL: 1 when there is none. This call does not change
/// `etkmqtt_client_last_call_error`.
///
/// # Safety
/// `client` is NULL or a live client; `buf` is NULL or writable for
/// `buf_len` bytes; `needed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_last_error(
    client: *const etkmqtt_client,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> etkmqtt_result {
    guard(|| {
        // SAFETY: the caller guarantees NULL or a live client.
        let Some(client) = (unsafe { client.as_ref() }) else {
            return ETKMQTT_NULL_ARGUMENT;
        };
        let text = client.engine.last_error();
        // SAFETY: the caller guarantees `buf` and `needed` as copy_text needs.
        unsafe { copy_text(text.as_deref(), buf, buf_len, needed) }
    })
}

/// The text of the latest call on this client that returned an error
/// other than ETKMQTT_NO_MESSAGE, e.g. "unknown option 'PROT'; accepted
/// options: PORT, ...". Kept until the next rejected call: successful calls
/// do not clear it. With several threads calling, it is whichever failed
/// last. Buffer, `needed` and results as for `etkmqtt_client_last_error`;
/// ETKMQTT_NO_MESSAGE when no call has failed. Calls that fail with a NULL
/// `client` cannot record anything.
///
/// # Safety
/// `client` is NULL or a live client; `buf` is NULL or writable for
/// `buf_len` bytes; `needed` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_last_call_error(
    client: *const etkmqtt_client,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> etkmqtt_result {
    guard(|| {
        // SAFETY: the caller guarantees NULL or a live client.
        let Some(client) = (unsafe { client.as_ref() }) else {
            return ETKMQTT_NULL_ARGUMENT;
        };
        let text = client
            .last_call_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // SAFETY: the caller guarantees `buf` and `needed` as copy_text needs.
        unsafe { copy_text(text.as_deref(), buf, buf_len, needed) }
    })
}

/// Sends DISCONNECT, stops the client's threads and wipes secrets. Calls
/// after it fail with ETKMQTT_CLOSED, except the read-only ones and
/// read_message. Idempotent; NULL is fine. May be called from the event
/// callback; on any other thread it returns only once no callback is running
/// (and none will run again).
///
/// # Safety
/// `client` is NULL or a live client.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_close(client: *mut etkmqtt_client) {
    guard(|| {
        // SAFETY: the caller guarantees NULL or a live client.
        if let Some(client) = unsafe { client.as_ref() } {
            client.engine.close();
        }
    })
}

/// Closes the client (see `etkmqtt_client_close`) and frees it, with any
/// messages not read. NULL is fine.
///
/// # Safety
/// `client` is NULL or a client from `etkmqtt_client_new` not freed yet; no
/// other call on it may be running or start (on any thread), and this is
/// not called from its event callback. Messages already read stay valid.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_free(client: *mut etkmqtt_client) {
    guard(|| {
        if client.is_null() {
            return;
        }
        // SAFETY: non-NULL clients come from Box::into_raw in
        // etkmqtt_client_new; the caller frees each once, with no other call
        // on it running.
        let client = unsafe { Box::from_raw(client) };
        client.engine.close();
        drop(client);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etkmqtt_core::ConnectionStatus;

    #[test]
    fn status_constants_are_the_engine_codes() {
        for (constant, status) in [
            (ETKMQTT_STATUS_UNKNOWN, ConnectionStatus::Unknown),
            (ETKMQTT_STATUS_STARTING, ConnectionStatus::Starting),
            (
                ETKMQTT_STATUS_TRYING_TO_CONNECT,
                ConnectionStatus::TryingToConnect,
            ),
            (ETKMQTT_STATUS_DISCONNECTED, ConnectionStatus::Disconnected),
            (ETKMQTT_STATUS_CONNECTED, ConnectionStatus::Connected),
        ] {
            assert_eq!(constant, status.code());
        }
    }

    fn new_client() -> *mut etkmqtt_client {
        let mut client = std::ptr::null_mut();
        // SAFETY: static strings and a local out pointer.
        let result =
            unsafe { etkmqtt_client_new(c"unit".as_ptr(), c"127.0.0.1".as_ptr(), &mut client) };
        assert_eq!(result, ETKMQTT_OK);
        client
    }

    fn last_call_error(client: *const etkmqtt_client) -> String {
        let mut buf = [0 as c_char; 512];
        // SAFETY: `client` is live; `buf` is a local of that length.
        let result = unsafe {
            etkmqtt_client_last_call_error(
                client,
                buf.as_mut_ptr(),
                buf.len(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(result, ETKMQTT_OK);
        // SAFETY: copy_text NUL-terminated it.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn rejected_calls_leave_their_text_and_successful_ones_keep_it() {
        let client = new_client();
        // SAFETY: `client` is live until the free at the end.
        unsafe {
            assert_eq!(
                etkmqtt_client_set_option(client, c"PROT".as_ptr(), c"1".as_ptr()),
                ETKMQTT_INVALID_ARGUMENT
            );
            assert!(last_call_error(client).contains("'PROT'"));
            assert_eq!(
                etkmqtt_client_set_option(client, c"PORT".as_ptr(), c"1".as_ptr()),
                ETKMQTT_OK
            );
            assert!(last_call_error(client).contains("'PROT'"));
            assert_eq!(
                etkmqtt_client_publish(client, c"t".as_ptr(), std::ptr::null(), 3, 0, false),
                ETKMQTT_NULL_ARGUMENT
            );
            assert_eq!(
                last_call_error(client),
                "payload (with a non-zero length) is NULL"
            );
            etkmqtt_client_free(client);
        }
    }

    #[test]
    fn read_message_with_null_out_takes_nothing() {
        let client = new_client();
        // SAFETY: `client` is live until the free at the end.
        unsafe {
            let mut message = std::ptr::dangling_mut::<etkmqtt_message>();
            assert_eq!(
                etkmqtt_client_read_message(client, &mut message),
                ETKMQTT_NO_MESSAGE
            );
            assert!(message.is_null());
            assert_eq!(
                etkmqtt_client_read_message(client, std::ptr::null_mut()),
                ETKMQTT_NULL_ARGUMENT
            );
            etkmqtt_client_free(client);
        }
    }

    #[test]
    fn callback_is_refused_after_close() {
        let client = new_client();
        unsafe extern "C" fn ignore(_: *mut c_void, _: c_int) {}
        // SAFETY: `client` is live until the free at the end; `ignore`
        // ignores its user_data.
        unsafe {
            etkmqtt_client_close(client);
            etkmqtt_client_close(client);
            assert_eq!(
                etkmqtt_client_set_event_callback(client, Some(ignore), std::ptr::null_mut()),
                ETKMQTT_CLOSED
            );
            assert_eq!(etkmqtt_client_connect(client), ETKMQTT_CLOSED);
            assert_eq!(etkmqtt_client_status(client), ETKMQTT_STATUS_DISCONNECTED);
            etkmqtt_client_free(client);
        }
    }
}
