//! What the session tells the engine: events, protocol violations, how a
//! connection ended, and a dead link.

use std::fmt;
use std::time::Duration;

use super::InboundAck;
use crate::message::Message;

/// What the session reports to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A message for the application. Give `ack` to
    /// [`Session::message_taken`](super::Session::message_taken) when the
    /// application takes it.
    Deliver {
        message: Message,
        ack: Option<InboundAck>,
    },
    /// A published message is done (QoS 0 written, QoS 1 acknowledged,
    /// QoS 2 completed): its store record, if any, may go.
    Completed { record: Option<u64> },
    /// The broker refused a subscription (SUBACK failure).
    SubscriptionRefused { filter: String },
    /// A message was given up: counted as dropped, its store record may go.
    SetAside {
        topic: String,
        record: Option<u64>,
        reason: SetAsideReason,
    },
    /// An acknowledgement for nothing we know (late, or from a session the
    /// broker resumed); ignored, reported for the log.
    Unsolicited { packet: &'static str, pkid: u16 },
}

/// Why a message was set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetAsideReason {
    /// The broker refused it
    /// [`REFUSALS_BEFORE_SET_ASIDE`](super::REFUSALS_BEFORE_SET_ASIDE) times
    /// in a row; the text is the latest refusal.
    Refused { times: u8, last: String },
    /// It cannot be put into a PUBLISH packet.
    Unencodable(String),
}

impl fmt::Display for SetAsideReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetAsideReason::Refused { times, last } => {
                write!(f, "the broker refused it {times} times in a row ({last})")
            }
            SetAsideReason::Unencodable(reason) => write!(f, "it cannot be sent: {reason}"),
        }
    }
}

/// A packet from the broker that breaks MQTT 3.1.1. The connection must be
/// closed; nothing it concerns is counted as delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    #[error("the broker answered a QoS 2 PUBLISH with PUBACK (packet id {pkid}); QoS 2 needs PUBREC, so the message is not counted as delivered (does this broker support QoS 2? publish with QoS 1 instead)")]
    PubAckForQos2 { pkid: u16 },

    #[error("the broker answered a QoS 1 PUBLISH with PUBREC (packet id {pkid}); QoS 1 needs PUBACK, so the message is not counted as delivered")]
    PubRecForQos1 { pkid: u16 },

    #[error("the broker sent {packet} for a QoS {qos} PUBLISH (packet id {pkid}) before PUBREC")]
    OutOfOrder {
        packet: &'static str,
        qos: u8,
        pkid: u16,
    },

    #[error("the broker sent PUBREL for message {pkid} before we acknowledged it with PUBREC")]
    PubRelBeforePubRec { pkid: u16 },

    #[error("the broker sent a {packet} packet, which a broker never sends on an open connection")]
    UnexpectedPacket { packet: &'static str },
}

impl ProtocolViolation {
    /// The outgoing message the violation answered, if it concerns one.
    pub(super) fn outgoing_pkid(&self) -> Option<u16> {
        match self {
            ProtocolViolation::PubAckForQos2 { pkid }
            | ProtocolViolation::PubRecForQos1 { pkid }
            | ProtocolViolation::OutOfOrder { pkid, .. } => Some(*pkid),
            _ => None,
        }
    }
}

/// How a connection ended, as far as the session cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// The broker closed or reset the connection; `reason` in plain words.
    BrokerClosed { reason: String },
    /// [`Session::handle_packet`](super::Session::handle_packet) returned this
    /// violation.
    Violation(ProtocolViolation),
    /// Anything else: keep-alive timeout, close(), a local error.
    Other,
}

/// The link is dead: no PINGRESP came in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkDead {
    /// How long the session waited for the PINGRESP.
    pub waited: Duration,
}
