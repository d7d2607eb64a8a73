//! The boundary every exported function goes through: panics are caught
//! ([`guard`]), C arguments are checked and converted ([`str_arg`]), and
//! rejected calls leave their text on the client ([`client_call`]).

use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use etkmqtt_core::boundary::panic_message;
use etkmqtt_core::Error;

use crate::client::etkmqtt_client;
use crate::result::etkmqtt_result::{self, *};

/// What an exported function returns when its body panicked.
pub(crate) trait PanicValue {
    fn panic_value() -> Self;
}

impl PanicValue for etkmqtt_result {
    fn panic_value() -> Self {
        ETKMQTT_PANIC
    }
}

impl PanicValue for c_int {
    /// -1: the "unknown" status, and no QoS.
    fn panic_value() -> Self {
        -1
    }
}

impl PanicValue for usize {
    fn panic_value() -> Self {
        0
    }
}

impl PanicValue for u64 {
    fn panic_value() -> Self {
        0
    }
}

impl PanicValue for bool {
    fn panic_value() -> Self {
        false
    }
}

impl PanicValue for () {
    fn panic_value() -> Self {}
}

impl<T> PanicValue for *const T {
    fn panic_value() -> Self {
        std::ptr::null()
    }
}

/// Runs an exported function's body; a panic becomes `T::panic_value()`
/// instead of unwinding into C (which would abort the process). The panic
/// hook has already printed the panic's message to stderr.
pub(crate) fn guard<T: PanicValue>(body: impl FnOnce() -> T) -> T {
    // AssertUnwindSafe: after a panic the body's state is dropped, and the
    // only state that outlives it (the engine's, behind mutexes that recover
    // from poisoning) stays consistent between statements.
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| T::panic_value())
}

/// A rejected call: its code and the text `last_call_error` shows.
#[derive(Debug)]
pub(crate) struct CallError {
    pub code: etkmqtt_result,
    pub text: String,
}

impl CallError {
    pub fn new(code: etkmqtt_result, text: impl Into<String>) -> CallError {
        CallError {
            code,
            text: text.into(),
        }
    }

    pub fn null(what: &str) -> CallError {
        CallError::new(ETKMQTT_NULL_ARGUMENT, format!("{what} is NULL"))
    }
}

impl From<Error> for CallError {
    fn from(error: Error) -> CallError {
        CallError::new(etkmqtt_result::from(&error), error.to_string())
    }
}

/// What a client call's body returns: `Ok` for an outcome that is not a
/// rejection, `Err` for one that `last_call_error` records.
pub(crate) type Outcome = Result<etkmqtt_result, CallError>;

/// Runs a call on `client`: NULL gives `ETKMQTT_NULL_ARGUMENT`; a rejection
/// or a panic is recorded for `etkmqtt_client_last_call_error`. `Ok` carries
/// the code of an outcome that is not a rejection (`ETKMQTT_OK`, or
/// `ETKMQTT_NO_MESSAGE` from `read_message`).
///
/// # Safety
/// `client` is NULL or a live pointer from `etkmqtt_client_new` that no
/// other thread is freeing.
pub(crate) unsafe fn client_call(
    client: *const etkmqtt_client,
    body: impl FnOnce(&etkmqtt_client) -> Outcome,
) -> etkmqtt_result {
    guard(|| {
        // SAFETY: the caller guarantees `client` is NULL or live and not
        // being freed; `as_ref` handles NULL.
        let Some(client) = (unsafe { client.as_ref() }) else {
            return ETKMQTT_NULL_ARGUMENT;
        };
        let error = match catch_unwind(AssertUnwindSafe(|| body(client))) {
            Ok(Ok(code)) => return code,
            Ok(Err(error)) => error,
            Err(panic) => CallError::new(ETKMQTT_PANIC, panic_message(panic.as_ref())),
        };
        client.record_call_error(error.text);
        error.code
    })
}

/// A C string argument as `&str`: NULL gives `ETKMQTT_NULL_ARGUMENT`, bytes
/// that are not UTF-8 give `ETKMQTT_INVALID_UTF8`; `what` names the argument
/// in the error text.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged for `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, CallError> {
    if ptr.is_null() {
        return Err(CallError::null(what));
    }
    // SAFETY: not NULL, and the caller guarantees a NUL-terminated string
    // valid for 'a.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|e| {
        CallError::new(
            ETKMQTT_INVALID_UTF8,
            format!(
                "{what} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Copies `text` NUL-terminated into the caller's buffer, snprintf-style.
///
/// - `*needed` (when `needed` is not NULL) is set to the bytes `text` takes
///   with its NUL (1 when there is no text).
/// - No text: the buffer gets "" (when `buf_len` > 0); `ETKMQTT_NO_MESSAGE`.
/// - Too small: the buffer gets the longest prefix that fits, cut at a
///   character boundary and NUL-terminated; `ETKMQTT_BUFFER_TOO_SMALL`.
/// - `buf` NULL with `buf_len` 0 asks only for the size.
///
/// # Safety
/// `buf` is NULL or writable for `buf_len` bytes; `needed` is NULL or
/// writable.
pub(crate) unsafe fn copy_text(
    text: Option<&str>,
    buf: *mut c_char,
    buf_len: usize,
    needed: *mut usize,
) -> etkmqtt_result {
    if buf.is_null() && buf_len > 0 {
        return ETKMQTT_NULL_ARGUMENT;
    }
    let bytes = text.unwrap_or("").as_bytes();
    if !needed.is_null() {
        // SAFETY: not NULL, and the caller guarantees it is writable.
        unsafe { needed.write(bytes.len() + 1) };
    }
    if buf_len == 0 {
        return match text {
            None => ETKMQTT_NO_MESSAGE,
            Some(_) => ETKMQTT_BUFFER_TOO_SMALL,
        };
    }
    let fits = bytes.len() < buf_len;
    let copied = if fits {
        bytes.len()
    } else {
        // The longest prefix of at most buf_len - 1 bytes that ends on a
        // character boundary (index 0 always is one).
        let text = text.unwrap_or("");
        (0..buf_len)
            .rev()
            .find(|&index| text.is_char_boundary(index))
            .unwrap_or(0)
    };
    // SAFETY: `buf` is not NULL (checked above, buf_len > 0) and writable for
    // buf_len bytes; copied + 1 <= buf_len; `bytes` is Rust memory, so the
    // two cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), copied);
        buf.add(copied).write(0);
    }
    match (text, fits) {
        (None, _) => ETKMQTT_NO_MESSAGE,
        (Some(_), true) => ETKMQTT_OK,
        (Some(_), false) => ETKMQTT_BUFFER_TOO_SMALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(text: Option<&str>, len: usize) -> (etkmqtt_result, Vec<u8>, usize) {
        let mut buf = vec![0x55 as c_char; len];
        let mut needed = 0;
        let ptr = if len == 0 {
            std::ptr::null_mut()
        } else {
            buf.as_mut_ptr()
        };
        // SAFETY: `buf` is writable for `len` bytes, `needed` is a local.
        let result = unsafe { copy_text(text, ptr, len, &mut needed) };
        (result, buf.iter().map(|&b| b as u8).collect(), needed)
    }

    #[test]
    fn guard_turns_a_panic_into_the_panic_value() {
        assert_eq!(
            guard(|| -> etkmqtt_result { panic!("boom") }),
            ETKMQTT_PANIC
        );
        assert_eq!(guard(|| -> c_int { panic!("boom") }), -1);
        assert!(guard(|| -> *const u8 { panic!("boom") }).is_null());
        assert_eq!(guard(|| ETKMQTT_OK), ETKMQTT_OK);
    }

    #[test]
    fn text_that_fits_is_copied_with_its_nul() {
        let (result, buf, needed) = copy(Some("refused"), 8);
        assert_eq!(result, ETKMQTT_OK);
        assert_eq!(&buf, b"refused\0");
        assert_eq!(needed, 8);
    }

    #[test]
    fn too_small_buffer_gets_a_terminated_prefix_and_the_needed_size() {
        let (result, buf, needed) = copy(Some("refused"), 4);
        assert_eq!(result, ETKMQTT_BUFFER_TOO_SMALL);
        assert_eq!(&buf, b"ref\0");
        assert_eq!(needed, 8);

        let (result, _, needed) = copy(Some("refused"), 0);
        assert_eq!(result, ETKMQTT_BUFFER_TOO_SMALL);
        assert_eq!(needed, 8);
    }

    #[test]
    fn truncation_never_splits_a_character() {
        // "é" is two bytes: a 3-byte buffer holds "a" and the NUL, not half of it.
        let (result, buf, needed) = copy(Some("aé"), 3);
        assert_eq!(result, ETKMQTT_BUFFER_TOO_SMALL);
        assert_eq!(&buf[..2], b"a\0");
        assert_eq!(needed, 4);
    }

    #[test]
    fn no_text_gives_an_empty_string_and_no_message() {
        let (result, buf, needed) = copy(None, 4);
        assert_eq!(result, ETKMQTT_NO_MESSAGE);
        assert_eq!(buf[0], 0);
        assert_eq!(needed, 1);
    }

    #[test]
    fn null_buffer_with_a_length_is_a_null_argument() {
        // SAFETY: the NULL buffer is rejected before anything is written.
        let result = unsafe { copy_text(Some("x"), std::ptr::null_mut(), 4, std::ptr::null_mut()) };
        assert_eq!(result, ETKMQTT_NULL_ARGUMENT);
    }

    #[test]
    fn strings_are_checked_for_null_and_utf8() {
        // SAFETY: NULL is allowed.
        let null = unsafe { str_arg(std::ptr::null(), "topic") };
        assert_eq!(null.map_err(|e| e.code).err(), Some(ETKMQTT_NULL_ARGUMENT));
        // SAFETY: a static NUL-terminated string.
        let bad = unsafe { str_arg(c"a\xff".as_ptr(), "topic") };
        let bad = bad.err().map(|e| (e.code, e.text));
        assert_eq!(
            bad,
            Some((
                ETKMQTT_INVALID_UTF8,
                "topic is not valid UTF-8 (invalid byte at offset 1)".to_owned()
            ))
        );
        // SAFETY: a static NUL-terminated string.
        let good = unsafe { str_arg(c"a/b".as_ptr(), "topic") };
        assert_eq!(good.ok(), Some("a/b"));
    }
}
