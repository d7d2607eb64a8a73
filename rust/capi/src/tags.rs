//! `etkmqtt_client_publish_tags`: tag readings as Flexy tag JSON, encoded by
//! the engine exactly as the Java API's `publishTags` does.

use std::ffi::{c_char, c_int};

use etkmqtt_core::tagjson::TagValue;

use crate::boundary::{client_call, str_arg, CallError, Outcome};
use crate::client::etkmqtt_client;
use crate::result::etkmqtt_result::{self, *};

/// `etkmqtt_tag.kind`: the tag has no value (JSON null).
pub const ETKMQTT_TAG_NULL: u32 = 0;
/// `etkmqtt_tag.kind`: an integer, written exactly (`integer`).
pub const ETKMQTT_TAG_INTEGER: u32 = 1;
/// `etkmqtt_tag.kind`: a number (`number`; NaN and infinities become null).
pub const ETKMQTT_TAG_NUMBER: u32 = 2;
/// `etkmqtt_tag.kind`: true or false (`boolean`).
pub const ETKMQTT_TAG_BOOL: u32 = 3;
/// `etkmqtt_tag.kind`: text (`text`, NUL-terminated UTF-8).
pub const ETKMQTT_TAG_TEXT: u32 = 4;

/// One tag reading: its name and a value of the type `kind` says (one of
/// the ETKMQTT_TAG_* constants); the other value fields are ignored.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct etkmqtt_tag {
    /// The tag name, NUL-terminated UTF-8.
    pub name: *const c_char,
    pub kind: u32,
    pub integer: i64,
    pub number: f64,
    pub boolean: bool,
    pub text: *const c_char,
}

/// Publishes `count` tag readings from `tags` to `topic` as Flexy tag JSON
/// (`[{"tag":"Temperature","value":21.5,"time":"2024-01-01T12:00:00.000Z"}, ...]`),
/// all stamped with `epoch_millis` (ms since 1970-01-01 UTC) shifted by
/// TAGTIMEOFFSET, with QoS 0, 1 or 2; queued like `etkmqtt_client_publish`.
///
/// Fails with ETKMQTT_NULL_ARGUMENT (`topic`, `tags` with a non-zero
/// `count`, a name, or a text value is NULL), ETKMQTT_INVALID_UTF8,
/// ETKMQTT_INVALID_ARGUMENT (an unknown `kind`, a time outside the years
/// 0000-9999, and what `etkmqtt_client_publish` refuses), ETKMQTT_QUEUE_FULL,
/// ETKMQTT_CLOSED, ETKMQTT_STORE_ERROR.
///
/// # Safety
/// `client` is NULL or a live client; `topic` is NULL or a NUL-terminated
/// string; `tags` is NULL or readable for `count` elements whose `name`
/// and (for ETKMQTT_TAG_TEXT) `text` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn etkmqtt_client_publish_tags(
    client: *mut etkmqtt_client,
    topic: *const c_char,
    tags: *const etkmqtt_tag,
    count: usize,
    epoch_millis: i64,
    qos: c_int,
    retain: bool,
) -> etkmqtt_result {
    let call = |client: &etkmqtt_client| -> Outcome {
        // SAFETY: the caller guarantees NULL or a NUL-terminated string.
        let topic = unsafe { str_arg(topic, "topic")? };
        let tags: &[etkmqtt_tag] = match (tags.is_null(), count) {
            (true, 0) => &[],
            (true, _) => return Err(CallError::null("tags (with a non-zero count)")),
            // SAFETY: not NULL, and the caller guarantees `count` readable
            // elements that stay unchanged during the call.
            (false, _) => unsafe { std::slice::from_raw_parts(tags, count) },
        };
        let mut names = Vec::with_capacity(tags.len());
        let mut values = Vec::with_capacity(tags.len());
        for (index, tag) in tags.iter().enumerate() {
            // SAFETY: the caller guarantees NULL or NUL-terminated strings.
            names.push(unsafe { str_arg(tag.name, &format!("tags[{index}].name"))? });
            values.push(match tag.kind {
                ETKMQTT_TAG_NULL => TagValue::Null,
                ETKMQTT_TAG_INTEGER => TagValue::Integer(tag.integer),
                ETKMQTT_TAG_NUMBER => TagValue::Number(tag.number),
                ETKMQTT_TAG_BOOL => TagValue::Bool(tag.boolean),
                // SAFETY: as above.
                ETKMQTT_TAG_TEXT => TagValue::Text(
                    unsafe { str_arg(tag.text, &format!("tags[{index}].text"))? }.to_owned(),
                ),
                other => {
                    return Err(CallError::new(
                        ETKMQTT_INVALID_ARGUMENT,
                        format!("tags[{index}].kind is {other}; use one of the ETKMQTT_TAG_* constants (0-4)"),
                    ))
                }
            });
        }
        client.engine().publish_tags(
            topic,
            names.iter().copied().zip(&values),
            epoch_millis,
            qos,
            retain,
        )?;
        Ok(ETKMQTT_OK)
    };
    // SAFETY: the caller guarantees NULL or a live client.
    unsafe { client_call(client, call) }
}
