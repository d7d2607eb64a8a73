//! Session cases that a live broker cannot be made to produce on demand:
//! each is a script of steps (what the application and the broker do) and
//! what the session must say and write in answer.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::{Packet, Publish, QoS};

use super::*;
use crate::message::Outgoing;

mod cases;
mod ids;
mod inbound;
mod keep_alive;

/// A session with its clock and output buffer.
pub(super) struct Harness {
    pub session: Session,
    pub now: Instant,
}

impl Harness {
    pub fn new(max_inflight: u16, keep_alive_secs: u64) -> Harness {
        Harness {
            session: Session::new(SessionConfig {
                keep_alive: Duration::from_secs(keep_alive_secs),
                max_inflight,
            }),
            now: Instant::now(),
        }
    }

    pub fn connect(&mut self, session_present: bool) {
        self.session.connected(self.now, session_present);
    }

    pub fn publish(&mut self, qos: QoS, topic: &str, record: u64) {
        let publish = Publish::new(topic, qos, record.to_be_bytes().to_vec());
        self.session.publish(Outgoing::new(publish, Some(record)));
    }

    /// Everything the session writes now, decoded.
    pub fn transmit(&mut self) -> Vec<Packet> {
        let mut out = BytesMut::new();
        self.session
            .poll_transmit(self.now, &mut out, usize::MAX, &mut || None);
        let mut packets = Vec::new();
        while !out.is_empty() {
            packets.push(
                Packet::read(&mut out, usize::MAX).expect("the session writes valid packets"),
            );
        }
        packets
    }

    pub fn receive(&mut self, packet: Packet) -> Result<(), ProtocolViolation> {
        self.session.handle_packet(packet, self.now)
    }

    pub fn events(&mut self) -> Vec<SessionEvent> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    /// Records completed by the events so far (other events kept out).
    pub fn completed(&mut self) -> Vec<u64> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                SessionEvent::Completed { record } => record,
                _ => None,
            })
            .collect()
    }

    pub fn advance(&mut self, millis: u64) {
        self.now += Duration::from_millis(millis);
    }
}

fn pkids(packets: &[Packet]) -> Vec<u16> {
    packets
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p.pkid),
            _ => None,
        })
        .collect()
}

fn publish_in(pkid: u16, qos: QoS, dup: bool, payload: &str) -> Packet {
    let mut publish = Publish::new("in/t", qos, payload.as_bytes().to_vec());
    publish.pkid = pkid;
    publish.dup = dup;
    Packet::Publish(publish)
}

fn delivered(events: &[SessionEvent]) -> Vec<(String, Option<InboundAck>)> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Deliver { message, ack } => {
                Some((String::from_utf8_lossy(&message.payload).into_owned(), *ack))
            }
            _ => None,
        })
        .collect()
}
