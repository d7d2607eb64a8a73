//! The C ABI of etkmqtt: the engine's [`etkmqtt_core::Client`] behind an
//! opaque `etkmqtt_client *`, in the shape of the Java `MqttClient`. The
//! header `include/etkmqtt.h` is generated from this crate by cbindgen
//! (`cbindgen.toml`); the doc comments here are its documentation.
//!
//! Every exported function is thin: convert the arguments ([`boundary`]),
//! call the engine, map its error once ([`result`]). A panic never crosses
//! into C: each function runs inside `catch_unwind` and returns
//! `ETKMQTT_PANIC` (or a documented neutral value) instead.
//!
//! - [`client`]: `etkmqtt_client_*`, the client and its calls.
//! - [`events`]: the event callback, called on the client's event thread.
//! - [`message`]: `etkmqtt_message_*`, a received message.
//! - [`result`]: `etkmqtt_result`, the codes every fallible call returns.
//! - [`tags`]: `etkmqtt_client_publish_tags`, tag readings as tag JSON.
#![deny(clippy::unwrap_used)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod boundary;
pub mod client;
pub mod events;
pub mod message;
pub mod result;
pub mod tags;

pub use client::etkmqtt_client;
pub use events::etkmqtt_event_callback;
pub use message::etkmqtt_message;
pub use result::etkmqtt_result;
pub use tags::etkmqtt_tag;

use std::ffi::c_char;

/// The version of this library, e.g. "0.1.0": a static NUL-terminated
/// string, never NULL and never to be freed.
#[no_mangle]
pub extern "C" fn etkmqtt_version() -> *const c_char {
    // concat! adds the NUL, so the string lives in static memory as is.
    boundary::guard(|| concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast())
}
