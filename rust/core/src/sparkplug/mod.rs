//! A Sparkplug B 3.0 edge node that rides on a client's MQTT session.
//!
//! - [`payload`]: the protobuf message types, written from the specification.
//! - [`value`]: metric values and datatypes as the application gives them.
//! - [`topic`]: the `spBv1.0/…` topic namespace.
//! - [`node`]: the node state machine, without I/O ([`node::NodeState`]),
//!   and [`SparkplugNode`], the API the bindings wrap, which attaches it to a
//!   [`crate::Client`] as a [`crate::plugin::SessionPlugin`].
//!
//! What the node does at the session's boundaries (births at every
//! CONNACK, NDEATH with the bdSeq in the will of every CONNECT, Rebirth,
//! history after a reconnect) is described in docs/sparkplug.md.

mod bdseq;
mod history;
mod metrics;
pub mod node;
pub mod payload;
pub mod topic;
pub mod value;

pub use history::MEMORY_LIMIT_BYTES;
pub use node::{CommandValue, SparkplugNode};
pub use value::{DataType, Value};

/// What a `SparkplugNode` call rejected: a Sparkplug rule, or the client or
/// store under the node. Nothing was recorded or sent when a call returns one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    #[error(transparent)]
    Sparkplug(#[from] SparkplugError),
    #[error(transparent)]
    Client(#[from] crate::error::Error),
}

impl From<crate::store::StoreError> for NodeError {
    fn from(error: crate::store::StoreError) -> NodeError {
        NodeError::Client(crate::error::Error::Store(error))
    }
}

impl NodeError {
    /// The kind of this rejection, as the bindings map it.
    pub fn kind(&self) -> crate::boundary::ErrorKind {
        use crate::boundary::ErrorKind;
        match self {
            NodeError::Client(error) => error.kind(),
            NodeError::Sparkplug(SparkplugError::QueueFull { .. }) => ErrorKind::QueueFull,
            NodeError::Sparkplug(SparkplugError::Closed) => ErrorKind::Closed,
            NodeError::Sparkplug(_) => ErrorKind::InvalidArgument,
        }
    }
}

/// A Sparkplug rule a call broke. Nothing was recorded or sent when a call
/// returns one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SparkplugError {
    #[error("invalid Sparkplug {what} '{id}': {reason}")]
    InvalidId {
        what: &'static str,
        id: String,
        reason: &'static str,
    },

    #[error("unknown metric '{name}': it is not a birth metric of {owner} ({known}); declare it with {declare} first")]
    UnknownMetric {
        name: String,
        owner: String,
        known: String,
        declare: &'static str,
    },

    #[error(
        "unknown device '{device}': declare it with setDeviceMetrics before publishing its data"
    )]
    UnknownDevice { device: String },

    #[error("metric '{name}' of {owner} was born as {born} (a Java {}); this value is a Java {} ({given})", born.java_class(), given.java_class())]
    TypeMismatch {
        name: String,
        owner: String,
        born: crate::sparkplug::DataType,
        given: crate::sparkplug::DataType,
    },

    #[error("metric '{name}' of {owner} has no value: a birth needs a value of each metric to know its type (Integer, Long, Float, Double, Boolean or String)")]
    NullInBirth { name: String, owner: String },

    #[error("metric '{name}' is given twice")]
    DuplicateMetric { name: String },

    #[error("metric name '{name}' is reserved: the node sends it in every NBIRTH itself")]
    ReservedName { name: String },

    #[error("metric name {index} is null")]
    NullName { index: usize },

    #[error("{names} metric names but {values} values")]
    LengthMismatch { names: usize, values: usize },

    #[error("invalid reading time {epoch_millis}: give milliseconds since 1970-01-01 UTC, as System.currentTimeMillis() returns")]
    InvalidTime { epoch_millis: i64 },

    #[error("no metrics given: a DATA message needs at least one")]
    NoMetrics,

    #[error("metric '{name}': a {class} cannot be a Sparkplug metric value; use Integer, Long, Float, Double, Boolean or String")]
    UnsupportedValue { name: String, class: String },

    #[error("Sparkplug offline queue full: {queued} readings ({bytes} bytes) wait to be sent (limit {limit} bytes); the reading was not recorded (set STOREDIR for a larger, durable queue)")]
    QueueFull {
        queued: usize,
        bytes: usize,
        limit: usize,
    },

    #[error("a Sparkplug edge node needs a clean session (tck-id-principles-persistence-clean-session-311): leave CLEANSESSION at 1 (the default)")]
    NeedsCleanSession,

    #[error("invalid Sparkplug payload on '{topic}': {reason}")]
    InvalidPayload { topic: String, reason: String },

    #[error("{topic}: metric with alias {alias} is not a birth metric of {owner}")]
    UnknownCommandAlias {
        topic: String,
        alias: u64,
        owner: String,
    },

    #[error("{topic}: metric {what} has neither a name nor an alias")]
    UnnamedCommandMetric { topic: String, what: String },

    #[error("{topic}: metric '{name}' has datatype {datatype}, which SparkplugNode does not decode (it decodes the integer types, Float, Double, Boolean, String, Text, UUID and DateTime)")]
    UnsupportedCommandType {
        topic: String,
        name: String,
        datatype: u32,
    },

    #[error("the Sparkplug node is closed")]
    Closed,
}
