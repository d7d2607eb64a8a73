//! The in-flight window: outgoing QoS 1/2 messages sent and not complete,
//! in the order they were first sent. Each entry carries its own packet id
//! and store record, so nothing else maps one to the other.

use std::collections::VecDeque;

use rumqttc::{Packet, PubRel, Publish};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What an in-flight message waits for.
pub(super) enum Stage {
    /// QoS 1: waiting for PUBACK.
    Ack,
    /// QoS 2: waiting for PUBREC.
    Rec,
    /// QoS 2: PUBREC came, PUBREL sent, waiting for PUBCOMP.
    Comp,
}

#[derive(Debug, Clone)]
pub(super) struct InFlight {
    /// As last written (packet id set; DUP once re-sent).
    pub publish: Publish,
    pub record: Option<u64>,
    pub stage: Stage,
    /// Written on the current connection. False after a lost connection
    /// until it is sent again.
    pub sent: bool,
    /// Connections in a row that the broker ended over this message.
    pub refusals: u8,
    /// The application's message (counted in its queue), not a plugin's.
    pub counted: bool,
    /// Belongs to one connection (a plugin's birth message): forgotten,
    /// not re-sent, when that connection ends.
    pub scoped: bool,
}

#[derive(Default)]
pub(super) struct Window {
    entries: VecDeque<InFlight>,
    /// Entries before this index were sent on the current connection.
    resend_from: usize,
}

impl Window {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn push(&mut self, entry: InFlight) {
        self.entries.push_back(entry);
    }

    /// Acknowledgements usually come in order, so the search starts at the
    /// oldest entry.
    fn position(&self, pkid: u16) -> Option<usize> {
        self.entries.iter().position(|e| e.publish.pkid == pkid)
    }

    pub fn get(&self, pkid: u16) -> Option<&InFlight> {
        self.position(pkid).map(|i| &self.entries[i])
    }

    pub fn get_mut(&mut self, pkid: u16) -> Option<&mut InFlight> {
        self.position(pkid).map(|i| &mut self.entries[i])
    }

    fn remove_at(&mut self, index: usize) -> Option<InFlight> {
        if index < self.resend_from {
            self.resend_from -= 1;
        }
        self.entries.remove(index)
    }

    pub fn remove(&mut self, pkid: u16) -> Option<InFlight> {
        self.position(pkid).and_then(|i| self.remove_at(i))
    }

    pub fn remove_records(&mut self, records: &[u64]) -> Vec<InFlight> {
        let mut removed = Vec::new();
        let mut index = 0;
        while index < self.entries.len() {
            if self.entries[index]
                .record
                .is_some_and(|r| records.contains(&r))
            {
                removed.extend(self.remove_at(index));
            } else {
                index += 1;
            }
        }
        removed
    }

    /// The next packet to re-send after a reconnect, oldest first: PUBLISH
    /// with DUP, or PUBREL where the broker already sent PUBREC.
    pub fn next_resend(&mut self) -> Option<Packet> {
        while self.resend_from < self.entries.len() {
            let entry = &mut self.entries[self.resend_from];
            self.resend_from += 1;
            if entry.sent {
                continue;
            }
            entry.sent = true;
            return Some(match entry.stage {
                Stage::Comp => Packet::PubRel(PubRel::new(entry.publish.pkid)),
                Stage::Ack | Stage::Rec => {
                    entry.publish.dup = true;
                    Packet::Publish(entry.publish.clone())
                }
            });
        }
        None
    }

    /// The oldest message sent on this connection that the broker has not
    /// accepted yet: the one a broker that hangs up most likely refused.
    pub fn oldest_refusable(&self) -> Option<u16> {
        self.entries
            .iter()
            .find(|e| e.sent && e.stage != Stage::Comp)
            .map(|e| e.publish.pkid)
    }

    /// Counts one refusal of `pkid`; at `limit`, removes and returns it.
    pub fn strike(&mut self, pkid: u16, limit: u8) -> Option<InFlight> {
        let index = self.position(pkid)?;
        let entry = &mut self.entries[index];
        entry.refusals = entry.refusals.saturating_add(1);
        if entry.refusals >= limit {
            self.remove_at(index)
        } else {
            None
        }
    }

    /// The connection ended: everything is to be sent again, except the
    /// connection-scoped entries, which are removed and returned.
    pub fn connection_lost(&mut self) -> Vec<InFlight> {
        let mut scoped = Vec::new();
        let mut index = 0;
        while index < self.entries.len() {
            if self.entries[index].scoped {
                scoped.extend(self.remove_at(index));
            } else {
                self.entries[index].sent = false;
                index += 1;
            }
        }
        self.resend_from = 0;
        scoped
    }

    /// The broker lost the session: QoS 2 messages it had acknowledged with
    /// PUBREC start over with PUBLISH.
    pub fn restart_all(&mut self) {
        for entry in &mut self.entries {
            if entry.stage == Stage::Comp {
                entry.stage = Stage::Rec;
            }
        }
    }
}
