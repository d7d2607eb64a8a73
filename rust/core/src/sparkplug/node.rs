//! The edge node: [`NodeState`], the Sparkplug state machine without I/O or
//! clock (the caller passes the time), and [`SparkplugNode`], which puts it
//! on a [`Client`](crate::Client)'s session as a
//! [`SessionPlugin`](crate::plugin::SessionPlugin).
//!
//! The rules it follows, from the Sparkplug 3.0 specification:
//! - every CONNECT carries NDEATH as its will (QoS 1, not retained) with a
//!   bdSeq one higher than the CONNECT before, 255 wrapping to 0, kept
//!   across restarts with STOREDIR (tck-id-topics-nbirth-bdseq-increment,
//!   tck-id-payloads-ndeath-will-message-qos/-retain);
//! - once the session is up (and the primary host, if one is set, is
//!   online), NBIRTH with `seq` 0, that bdSeq, `Node Control/Rebirth` =
//!   false and every node metric with name, alias, datatype, value and
//!   timestamp; then one DBIRTH per device; then DATA, `seq` one higher each
//!   message, 255 wrapping to 0 (tck-id-topics-nbirth-seq-num,
//!   tck-id-payloads-dbirth-order, tck-id-payloads-ndata-seq-inc);
//! - `seq` is stamped when a message is handed to the session, so births
//!   always come first and `seq` has no gap;
//! - DATA carries aliases, not names (tck-id-payloads-alias-data-cmd-requirement);
//!   data recorded under another birth (offline, before a Rebirth, in an
//!   earlier run) goes out after the births marked `is_historical`;
//! - a Rebirth NCMD is answered at once with NBIRTH and DBIRTHs carrying the
//!   current values and the same bdSeq (tck-id-operational-behavior-data-commands-rebirth-action-*);
//! - with a primary host, births wait for `spBv1.0/STATE/<host>` to say
//!   online, and an offline STATE (not older than the last online one) is
//!   answered with NDEATH and a pause until the host is back
//!   (tck-id-message-flow-edge-node-birth-publish-phid-wait-*).

use std::time::{SystemTime, UNIX_EPOCH};

use super::value::Value;

mod on_client;
mod state;

pub use on_client::SparkplugNode;
pub use state::NodeState;

/// The metric that carries the bdSeq in NBIRTH and NDEATH.
pub const BD_SEQ_METRIC: &str = "bdSeq";
/// The metric a host writes `true` to for a new birth sequence.
pub const REBIRTH_METRIC: &str = "Node Control/Rebirth";
const RESERVED_NODE_METRICS: &[&str] = &[BD_SEQ_METRIC, REBIRTH_METRIC];

/// A metric written by an NCMD or DCMD, for the application.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandValue {
    /// The metric name; `device/metric` for a DCMD.
    pub name: String,
    /// `None` when the command writes a null.
    pub value: Option<Value>,
    /// The metric's timestamp, else the payload's (epoch ms).
    pub timestamp: Option<u64>,
}

/// The current time in epoch milliseconds.
pub fn epoch_millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
