//! Java strings in and out, exactly. A Java `String` is UTF-16 and may hold
//! a lone surrogate, which no UTF-8 string can; jni-rs' conversion (through
//! modified UTF-8) would turn it into U+FFFD. Here the UTF-16 units are read
//! as they are and decoded strictly, so text arrives unchanged or the call
//! is refused with an error that says where.

use etkmqtt_core::Error;
use jni::objects::JString;
use jni::JNIEnv;

use crate::{BridgeError, BridgeResult};

/// Strings up to this many UTF-16 units are read without a heap buffer.
const STACK_UNITS: usize = 256;

/// Reads a `String` parameter or element; `what` names it in errors.
pub(crate) fn java_string(
    env: &mut JNIEnv<'_>,
    value: &JString<'_>,
    what: &str,
) -> BridgeResult<String> {
    if value.is_null() {
        return Err(BridgeError::Engine(format!("{what} must not be null")));
    }
    let raw = env.get_native_interface();
    // SAFETY: `raw` is this thread's JNIEnv, valid during the native call
    // that gave us `env`; the function table of a live JVM is populated.
    let table = unsafe { &**raw };
    let (Some(length_of), Some(region_of)) = (table.GetStringLength, table.GetStringRegion) else {
        return Err(BridgeError::Jni(jni::errors::Error::JNIEnvMethodNotFound(
            "GetStringRegion",
        )));
    };
    // SAFETY: `value` is a live, non-null reference to a java.lang.String
    // (a parameter or array element declared String).
    let length = unsafe { length_of(raw, value.as_raw()) };
    let units = usize::try_from(length).unwrap_or(0);
    let mut stack = [0u16; STACK_UNITS];
    let mut heap = Vec::new();
    let buffer: &mut [u16] = if units <= STACK_UNITS {
        &mut stack[..units]
    } else {
        heap.resize(units, 0);
        &mut heap
    };
    // SAFETY: `buffer` has room for `length` units, and the region
    // 0..length lies within the string, so the JVM writes only inside it.
    unsafe { region_of(raw, value.as_raw(), 0, length, buffer.as_mut_ptr()) };
    if env.exception_check()? {
        return Err(BridgeError::Jni(jni::errors::Error::JavaException));
    }
    decode(buffer, what)
}

/// UTF-16 to a Rust string, refusing lone surrogates.
fn decode(units: &[u16], what: &str) -> BridgeResult<String> {
    let mut text = String::with_capacity(units.len());
    let mut position = 0;
    for decoded in char::decode_utf16(units.iter().copied()) {
        match decoded {
            Ok(c) => {
                text.push(c);
                position += c.len_utf16();
            }
            Err(e) => {
                return Err(BridgeError::from(Error::InvalidString(format!(
                    "{what} has a lone surrogate \\u{:04X} at index {position}, which is not text; it was not changed or sent",
                    e.unpaired_surrogate()
                ))))
            }
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn valid_utf16_decodes_exactly_including_pairs_and_nul() {
        let units: Vec<u16> = "a\u{0}é😀".encode_utf16().collect();
        assert_eq!(decode(&units, "topic").ok(), Some("a\u{0}é😀".to_owned()));
    }

    #[test]
    fn a_lone_surrogate_is_refused_with_its_position() {
        let units = [0x61, 0xD800, 0x62];
        let Err(crate::BridgeError::Engine(text)) = decode(&units, "topic") else {
            panic!("refused");
        };
        assert_eq!(
            text,
            "invalid string: topic has a lone surrogate \\uD800 at index 1, which is not text; it was not changed or sent"
        );
        let trailing = [0x61, 0x0, 0xDC00];
        assert!(decode(&trailing, "topic").is_err());
    }
}
