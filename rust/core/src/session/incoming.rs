//! Inbound QoS 1/2 messages the broker waits for us to acknowledge. An
//! entry lives from the PUBLISH until our PUBACK (QoS 1), or until the
//! broker's PUBREL (QoS 2), so a re-sent PUBLISH is recognised and not
//! delivered twice.

use std::collections::HashMap;

use rumqttc::{Packet, PubAck, PubRec, QoS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Delivered to the application, not taken yet.
    Waiting,
    /// Taken while offline: acknowledge at the next connect.
    AckDue,
    /// QoS 2, PUBREC sent: waiting for PUBREL.
    Received,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    qos: QoS,
    stage: Stage,
    /// Arrival order: acknowledgements go out in the order the PUBLISHes
    /// came (MQTT 3.1.1 §4.6).
    arrival: u64,
}

/// What an arriving PUBLISH is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InboundState {
    /// Not seen before: deliver it.
    New,
    /// A re-send of one the application has not taken: do not deliver again.
    Waiting,
    /// A re-send of a QoS 2 message we acknowledged: send PUBREC again.
    Received,
}

#[derive(Default)]
pub(super) struct Incoming {
    entries: HashMap<u16, Entry>,
    arrivals: u64,
}

impl Incoming {
    pub fn arrived(&mut self, pkid: u16, qos: QoS) -> InboundState {
        match self.entries.get(&pkid) {
            Some(entry) if entry.qos == qos => match entry.stage {
                Stage::Waiting | Stage::AckDue => InboundState::Waiting,
                Stage::Received => InboundState::Received,
            },
            _ => {
                // New, or an id reused with another QoS (the old one is
                // then finished as far as the broker is concerned).
                self.arrivals += 1;
                self.entries.insert(
                    pkid,
                    Entry {
                        qos,
                        stage: Stage::Waiting,
                        arrival: self.arrivals,
                    },
                );
                InboundState::New
            }
        }
    }

    /// The application took message `pkid`: the acknowledgement to send now
    /// when online; offline it is remembered for the next connect.
    pub fn taken(&mut self, pkid: u16, online: bool) -> Option<Packet> {
        let entry = self.entries.get_mut(&pkid)?;
        if entry.stage != Stage::Waiting {
            return None;
        }
        if !online {
            entry.stage = Stage::AckDue;
            return None;
        }
        Some(self.acknowledge(pkid))
    }

    fn acknowledge(&mut self, pkid: u16) -> Packet {
        match self.entries.get_mut(&pkid) {
            Some(entry) if entry.qos == QoS::ExactlyOnce => {
                entry.stage = Stage::Received;
                Packet::PubRec(PubRec::new(pkid))
            }
            _ => {
                self.entries.remove(&pkid);
                Packet::PubAck(PubAck::new(pkid))
            }
        }
    }

    /// Acknowledgements owed from while offline, in arrival order.
    pub fn acks_due(&mut self) -> Vec<Packet> {
        let mut due: Vec<(u64, u16)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.stage == Stage::AckDue)
            .map(|(pkid, e)| (e.arrival, *pkid))
            .collect();
        due.sort_unstable();
        due.into_iter()
            .map(|(_, pkid)| self.acknowledge(pkid))
            .collect()
    }

    /// PUBREL for `pkid`: `Err` if we never sent PUBREC for it.
    pub fn released(&mut self, pkid: u16) -> Result<(), ()> {
        match self.entries.get(&pkid).map(|e| (e.qos, e.stage)) {
            Some((QoS::ExactlyOnce, Stage::Received)) => {
                self.entries.remove(&pkid);
                Ok(())
            }
            Some((QoS::ExactlyOnce, _)) => Err(()),
            _ => Ok(()),
        }
    }

    /// The broker started a new session: nothing here is owed any more.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
