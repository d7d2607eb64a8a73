//! Helpers shared by the integration tests in `tests/`.

pub mod client;
pub mod mosquitto;
pub mod servers;
