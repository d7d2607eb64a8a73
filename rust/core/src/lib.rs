//! etkmqtt's engine: an MQTT 3.1.1 client built on rumqttc's packet types and
//! state machine, with one I/O thread per client and no async runtime.
//!
//! - [`client::Client`] is the API the JNI and C bindings wrap.
//! - [`options::Options`] parses the Flexy-style `setOption` names.
//! - [`transport`] holds plain TCP, certificate TLS (rustls) and TLS-PSK
//!   (OpenSSL, which rustls cannot do) behind one trait.
//! - [`error::Error`] and [`error::ConnectError`] carry the facts a user needs
//!   to fix a failure; their `Display` is what `getLastError()` shows.
//! - [`tagjson`] encodes and decodes the Flexy tag-JSON format.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]

mod atomic64;
pub mod client;
mod engine;
pub mod error;
pub mod log;
pub mod options;
mod secret;
pub mod status;
pub mod store;
pub mod tagjson;
pub mod topic;
pub mod transport;

/// The Mosquitto launcher the integration tests use too.
#[cfg(test)]
#[path = "../tests/support/mosquitto.rs"]
mod test_broker;

pub use client::{Client, Event, EventSink, Message};
pub use error::{ConnectError, Error};
pub use options::Options;
pub use status::ConnectionStatus;
