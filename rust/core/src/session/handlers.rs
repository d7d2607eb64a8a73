//! The broker's packets that concern messages, one handler each:
//! [`Session::handle_packet`] dispatches to them.

use rumqttc::{Packet, PubComp, PubRec, PubRel, Publish, QoS};

use super::incoming::InboundState;
use super::outgoing::Stage;
use super::{InboundAck, ProtocolViolation, Session, SessionEvent};
use crate::message::Message;

impl Session {
    pub(super) fn handle_publish(&mut self, publish: Publish) -> Result<(), ProtocolViolation> {
        if publish.qos == QoS::AtMostOnce {
            self.deliver(&publish, None);
            return Ok(());
        }
        match self.incoming.arrived(publish.pkid, publish.qos) {
            InboundState::New => {
                let ack = InboundAck {
                    session: self.epoch,
                    pkid: publish.pkid,
                    qos: publish.qos,
                };
                self.deliver(&publish, Some(ack));
            }
            // A re-send of a message the application has not taken yet.
            InboundState::Waiting => {}
            // A re-send of a QoS 2 message we acknowledged: the PUBREC was lost.
            InboundState::Received => self
                .control
                .push_back(Packet::PubRec(PubRec::new(publish.pkid))),
        }
        Ok(())
    }

    fn deliver(&mut self, publish: &Publish, ack: Option<InboundAck>) {
        self.events.push_back(SessionEvent::Deliver {
            message: Message::from_publish(publish),
            ack,
        });
    }

    pub(super) fn handle_puback(&mut self, pkid: u16) -> Result<(), ProtocolViolation> {
        match self.window.get(pkid).map(|e| e.stage) {
            Some(Stage::Ack) => {
                self.complete(pkid);
                Ok(())
            }
            Some(Stage::Rec | Stage::Comp) => Err(ProtocolViolation::PubAckForQos2 { pkid }),
            None => {
                self.unsolicited("PUBACK", pkid);
                Ok(())
            }
        }
    }

    pub(super) fn handle_pubrec(&mut self, pkid: u16) -> Result<(), ProtocolViolation> {
        match self.window.get_mut(pkid) {
            Some(entry) if entry.stage == Stage::Ack => {
                Err(ProtocolViolation::PubRecForQos1 { pkid })
            }
            Some(entry) => {
                // Also for a repeated PUBREC: our PUBREL may have been lost.
                entry.stage = Stage::Comp;
                entry.refusals = 0;
                self.control.push_back(Packet::PubRel(PubRel::new(pkid)));
                Ok(())
            }
            None => {
                // The broker waits for PUBREL to finish a message we no
                // longer know (set aside, or a resumed session): let it.
                self.unsolicited("PUBREC", pkid);
                self.control.push_back(Packet::PubRel(PubRel::new(pkid)));
                Ok(())
            }
        }
    }

    pub(super) fn handle_pubcomp(&mut self, pkid: u16) -> Result<(), ProtocolViolation> {
        match self.window.get(pkid).map(|e| e.stage) {
            Some(Stage::Comp) => {
                self.complete(pkid);
                Ok(())
            }
            Some(stage) => Err(ProtocolViolation::OutOfOrder {
                packet: "PUBCOMP",
                qos: if stage == Stage::Ack { 1 } else { 2 },
                pkid,
            }),
            None => {
                self.unsolicited("PUBCOMP", pkid);
                Ok(())
            }
        }
    }

    pub(super) fn handle_pubrel(&mut self, pkid: u16) -> Result<(), ProtocolViolation> {
        match self.incoming.released(pkid) {
            Ok(()) => {
                // Known or not (a session resumed after a restart), the
                // broker needs PUBCOMP to finish.
                self.control.push_back(Packet::PubComp(PubComp::new(pkid)));
                Ok(())
            }
            Err(()) => Err(ProtocolViolation::PubRelBeforePubRec { pkid }),
        }
    }

    fn complete(&mut self, pkid: u16) {
        if let Some(entry) = self.window.remove(pkid) {
            self.ids.release(pkid);
            if entry.counted {
                self.events.push_back(SessionEvent::Completed {
                    record: entry.record,
                });
            }
        }
    }

    pub(super) fn unsolicited(&mut self, packet: &'static str, pkid: u16) {
        self.events
            .push_back(SessionEvent::Unsolicited { packet, pkid });
    }
}
