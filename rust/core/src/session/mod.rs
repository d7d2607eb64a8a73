//! The MQTT 3.1.1 session as a value without I/O: it never touches a socket
//! or a clock. The engine feeds it commands (publish, subscribe, the
//! application took a message), the broker's packets, "connected",
//! "connection lost" and the time; it answers with bytes to write
//! ([`Session::poll_transmit`]), events ([`Session::poll_event`]: messages
//! to deliver, messages complete, subscriptions refused, messages set
//! aside) and when it next wants to be woken ([`Session::poll_timeout`]).
//!
//! It is the one owner of every session fact: packet ids, the in-flight
//! window, QoS 1 and 2 state in both directions, resend order, keep-alive,
//! and which store record each message belongs to (kept with the message
//! itself, so an acknowledgement can only ever remove its own record).
//!
//! Rules worth knowing:
//! - Outgoing QoS 1/2 messages are complete at PUBACK / PUBCOMP. After a
//!   lost connection every unacknowledged message is sent again, DUP set, in
//!   its original order, before any new message. A QoS 2 message whose
//!   PUBREC came is resumed with PUBREL when the broker kept the session,
//!   and sent again from the start when it did not (the broker forgot it;
//!   a possible duplicate is better than a loss).
//! - Inbound QoS 1/2 messages are acknowledged (PUBACK / PUBREC) when the
//!   application takes them ([`Session::message_taken`]), not on arrival:
//!   a message never read is redelivered by a broker that keeps the session
//!   (CLEANSESSION 0). A re-sent PUBLISH with a packet id still waiting for
//!   the application is not delivered twice.
//! - A broker that answers a QoS 2 PUBLISH with PUBACK (or a QoS 1 one with
//!   PUBREC) breaks the protocol: [`Session::handle_packet`] returns the
//!   violation and the message stays unacknowledged.
//! - A message the broker refuses (it ends the connection while the message
//!   is the oldest one unacknowledged, or answers it in breach of the
//!   protocol) three connections in a row is set aside, so that one poison
//!   message cannot block the queue forever.

mod events;
mod handlers;
mod incoming;
mod keep_alive;
mod outgoing;
mod packet_ids;

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::{
    Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS, Subscribe, SubscribeFilter,
    SubscribeReasonCode, Unsubscribe,
};

use crate::message::Outgoing;
pub use events::{ConnectionEnd, LinkDead, ProtocolViolation, SessionEvent, SetAsideReason};
use incoming::Incoming;
use keep_alive::KeepAlive;
use outgoing::{InFlight, Stage, Window};
use packet_ids::PacketIds;

/// How often the broker may refuse one message (by ending the connection
/// or answering it against the protocol) before it is set aside.
pub const REFUSALS_BEFORE_SET_ASIDE: u8 = 3;

/// What a session needs to know of the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// KEEPALIVE; zero turns keep-alive off.
    pub keep_alive: Duration,
    /// MAXINFLIGHT: QoS 1/2 messages sent and not yet complete.
    pub max_inflight: u16,
}

/// Hands back an inbound QoS 1/2 message's acknowledgement once the
/// application has taken the message (see [`Session::message_taken`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundAck {
    session: u64,
    pkid: u16,
    qos: QoS,
}

/// One MQTT session of one client. See the module documentation.
pub struct Session {
    config: SessionConfig,
    online: bool,
    /// The broker's session number: a new one starts whenever the broker
    /// says it has no session for us (CONNACK session present = 0).
    epoch: u64,
    ids: PacketIds,
    window: Window,
    /// Accepted, not yet sent: waits for a connection or window room.
    pending: VecDeque<Outgoing>,
    /// Session-scoped messages (a Sparkplug birth): sent first on this
    /// connection, forgotten when it ends.
    first: VecDeque<Publish>,
    incoming: Incoming,
    /// SUBSCRIBE / UNSUBSCRIBE to send, in the order asked.
    requests: VecDeque<Request>,
    /// Sent SUBSCRIBEs and UNSUBSCRIBEs by packet id (a SUBACK failure
    /// names its filter).
    awaiting_ack: HashMap<u16, Request>,
    subscriptions: Vec<SubscribeFilter>,
    /// Filters unsubscribed whose UNSUBACK has not come: a broker that kept
    /// the session still has them, so the next connection unsubscribes
    /// again.
    unsubscribed: Vec<String>,
    /// Acknowledgements and other short packets to write before anything
    /// else.
    control: VecDeque<Packet>,
    keep_alive: KeepAlive,
    events: VecDeque<SessionEvent>,
}

/// Whose message is being sent: the application's count it in the queue
/// and hear of their completion; a plugin's do not.
#[derive(Debug, Clone, Copy)]
struct Owner {
    counted: bool,
    scoped: bool,
}

impl Owner {
    const APPLICATION: Owner = Owner {
        counted: true,
        scoped: false,
    };
    const PLUGIN: Owner = Owner {
        counted: false,
        scoped: false,
    };
    const SCOPED_PLUGIN: Owner = Owner {
        counted: false,
        scoped: true,
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Subscribe(Vec<SubscribeFilter>),
    Unsubscribe(String),
}

impl Session {
    pub fn new(config: SessionConfig) -> Session {
        Session {
            config,
            online: false,
            epoch: 0,
            ids: PacketIds::new(),
            window: Window::default(),
            pending: VecDeque::new(),
            first: VecDeque::new(),
            incoming: Incoming::default(),
            requests: VecDeque::new(),
            awaiting_ack: HashMap::new(),
            unsubscribed: Vec::new(),
            subscriptions: Vec::new(),
            control: VecDeque::new(),
            keep_alive: KeepAlive::new(config.keep_alive),
            events: VecDeque::new(),
        }
    }

    // ----- commands -----

    /// Queues a message; it goes out when connected and the window has room.
    pub fn publish(&mut self, message: Outgoing) {
        self.pending.push_back(message);
    }

    /// Queues a session-scoped message to go out before anything else on
    /// this connection; it is forgotten if the connection ends first. Only
    /// while connected (otherwise dropped: the next connection makes its own).
    pub fn publish_first(&mut self, publish: Publish) {
        if self.online {
            self.first.push_back(publish);
        }
    }

    /// Adds `filter` to the subscriptions restored on every connect, and
    /// subscribes now when connected. Subscribing again changes the QoS.
    pub fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.unsubscribed.retain(|f| f != filter);
        match self.subscriptions.iter_mut().find(|s| s.path == filter) {
            Some(existing) => existing.qos = qos,
            None => self
                .subscriptions
                .push(SubscribeFilter::new(filter.to_owned(), qos)),
        }
        if self.online {
            self.requests
                .push_back(Request::Subscribe(vec![SubscribeFilter::new(
                    filter.to_owned(),
                    qos,
                )]));
        }
    }

    /// Removes `filter` from the subscriptions; unsubscribes now when
    /// connected, else on the next connection if the broker kept the
    /// session (and with it the subscription).
    pub fn unsubscribe(&mut self, filter: &str) {
        self.subscriptions.retain(|s| s.path != filter);
        if !self.unsubscribed.iter().any(|f| f == filter) {
            self.unsubscribed.push(filter.to_owned());
        }
        if self.online {
            self.requests
                .push_back(Request::Unsubscribe(filter.to_owned()));
        }
    }

    /// The application took the message `ack` came with: acknowledge it
    /// now, or at the next connect if the broker keeps the session. An ack
    /// from a session the broker has since forgotten is ignored.
    pub fn message_taken(&mut self, ack: InboundAck) {
        if ack.session != self.epoch {
            return;
        }
        if let Some(packet) = self.incoming.taken(ack.pkid, self.online) {
            self.control.push_back(packet);
        }
    }

    /// Forgets messages whose store records were dropped (STOREFULL
    /// dropoldest), sent or not; returns how many it held. A late
    /// acknowledgement for one of them is then unsolicited.
    pub fn forget(&mut self, records: &[u64]) -> usize {
        let before = self.pending.len();
        self.pending
            .retain(|m| !m.record.is_some_and(|r| records.contains(&r)));
        let mut forgotten = before - self.pending.len();
        for entry in self.window.remove_records(records) {
            self.ids.release(entry.publish.pkid);
            forgotten += 1;
        }
        forgotten
    }

    // ----- connection lifecycle -----

    /// The broker accepted CONNECT. `session_present` is its CONNACK flag.
    pub fn connected(&mut self, now: Instant, session_present: bool) {
        self.online = true;
        self.keep_alive.reset(now);
        if !session_present {
            // The broker has no state for us: inbound acknowledgements of
            // the old session mean nothing now, and a QoS 2 message it had
            // acknowledged with PUBREC was forgotten with that session.
            self.epoch += 1;
            self.incoming.clear();
            self.window.restart_all();
            self.unsubscribed.clear();
        }
        for packet in self.incoming.acks_due() {
            self.control.push_back(packet);
        }
        if !self.subscriptions.is_empty() {
            self.requests
                .push_front(Request::Subscribe(self.subscriptions.clone()));
        }
        for filter in &self.unsubscribed {
            self.requests
                .push_back(Request::Unsubscribe(filter.clone()));
        }
    }

    /// The connection ended. Everything unacknowledged is sent again on the
    /// next connection; see [`ConnectionEnd`] for what counts as a refusal.
    pub fn connection_lost(&mut self, end: &ConnectionEnd) {
        if !self.online {
            return;
        }
        self.online = false;
        self.control.clear();
        self.first.clear();
        self.requests.clear();
        for pkid in self.awaiting_ack.drain().map(|(pkid, _)| pkid) {
            self.ids.release(pkid);
        }
        let refused = match end {
            ConnectionEnd::BrokerClosed { reason } => self
                .window
                .oldest_refusable()
                .map(|pkid| (pkid, format!("it closed the connection: {reason}"))),
            ConnectionEnd::Violation(violation) => violation
                .outgoing_pkid()
                .map(|pkid| (pkid, violation.to_string())),
            ConnectionEnd::Other => None,
        };
        if let Some((pkid, reason)) = refused {
            if let Some(entry) = self.window.strike(pkid, REFUSALS_BEFORE_SET_ASIDE) {
                self.ids.release(pkid);
                if entry.counted {
                    self.events.push_back(SessionEvent::SetAside {
                        topic: entry.publish.topic,
                        record: entry.record,
                        reason: SetAsideReason::Refused {
                            times: REFUSALS_BEFORE_SET_ASIDE,
                            last: reason,
                        },
                    });
                }
            }
        }
        // Session-scoped messages belong to the connection that ended.
        for entry in self.window.connection_lost() {
            self.ids.release(entry.publish.pkid);
        }
    }

    pub fn is_online(&self) -> bool {
        self.online
    }

    /// The engine stopped reading because the application has too many
    /// unread messages (or resumed): a PINGRESP may then wait unread, so the
    /// dead-link check waits too.
    pub fn set_receiving(&mut self, receiving: bool, now: Instant) {
        self.keep_alive.set_receiving(receiving, now);
    }

    // ----- packets from the broker -----

    /// Handles one packet from the broker. A violation means the connection
    /// must be closed (pass it to [`Session::connection_lost`]).
    pub fn handle_packet(&mut self, packet: Packet, now: Instant) -> Result<(), ProtocolViolation> {
        self.keep_alive.received(now);
        match packet {
            Packet::Publish(publish) => self.handle_publish(publish),
            Packet::PubAck(PubAck { pkid }) => self.handle_puback(pkid),
            Packet::PubRec(PubRec { pkid }) => self.handle_pubrec(pkid),
            Packet::PubRel(PubRel { pkid }) => self.handle_pubrel(pkid),
            Packet::PubComp(PubComp { pkid }) => self.handle_pubcomp(pkid),
            Packet::SubAck(suback) => {
                match self.awaiting_ack.remove(&suback.pkid) {
                    Some(Request::Subscribe(filters)) => {
                        self.ids.release(suback.pkid);
                        for (filter, code) in filters.into_iter().zip(&suback.return_codes) {
                            if let SubscribeReasonCode::Failure = code {
                                self.events.push_back(SessionEvent::SubscriptionRefused {
                                    filter: filter.path,
                                });
                            }
                        }
                    }
                    Some(other) => {
                        self.awaiting_ack.insert(suback.pkid, other);
                        self.unsolicited("SUBACK", suback.pkid);
                    }
                    None => self.unsolicited("SUBACK", suback.pkid),
                }
                Ok(())
            }
            Packet::UnsubAck(unsuback) => {
                match self.awaiting_ack.remove(&unsuback.pkid) {
                    Some(Request::Unsubscribe(filter)) => {
                        self.ids.release(unsuback.pkid);
                        self.unsubscribed.retain(|f| *f != filter);
                    }
                    Some(other) => {
                        self.awaiting_ack.insert(unsuback.pkid, other);
                        self.unsolicited("UNSUBACK", unsuback.pkid);
                    }
                    None => self.unsolicited("UNSUBACK", unsuback.pkid),
                }
                Ok(())
            }
            Packet::PingResp => {
                self.keep_alive.pong();
                Ok(())
            }
            other => Err(ProtocolViolation::UnexpectedPacket {
                packet: packet_name(&other),
            }),
        }
    }

    // ----- output -----

    /// Writes packets into `out` until it holds `limit` bytes or nothing
    /// more may go now: acknowledgements and pings first, then
    /// (un)subscriptions (the restore of all subscriptions first after a
    /// connect), then session-scoped messages, then messages to re-send (in
    /// their original order), then new messages while the window has room;
    /// `more` is asked for further messages once `pending` is empty (a
    /// plugin's queue). Nothing is written while offline.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        out: &mut BytesMut,
        limit: usize,
        more: &mut dyn FnMut() -> Option<Publish>,
    ) {
        if !self.online {
            return;
        }
        let start = out.len();
        while out.len() < limit {
            if let Some(packet) = self.control.pop_front() {
                write(&packet, out);
                continue;
            }
            if let Some(request) = self.requests.front() {
                if let Some(pkid) = self.ids.allocate() {
                    let packet = match request {
                        Request::Subscribe(filters) => Packet::Subscribe(Subscribe {
                            pkid,
                            filters: filters.clone(),
                        }),
                        Request::Unsubscribe(filter) => Packet::Unsubscribe(Unsubscribe {
                            pkid,
                            topics: vec![filter.clone()],
                        }),
                    };
                    if let Some(request) = self.requests.pop_front() {
                        self.awaiting_ack.insert(pkid, request);
                    }
                    write(&packet, out);
                    continue;
                }
            }
            if let Some(publish) = self.first.pop_front() {
                self.send_new(Outgoing::new(publish, None), Owner::SCOPED_PLUGIN, out);
                continue;
            }
            if let Some(packet) = self.window.next_resend() {
                write(&packet, out);
                continue;
            }
            if !self.window_has_room() {
                break;
            }
            match self.pending.pop_front() {
                Some(message) => self.send_new(message, Owner::APPLICATION, out),
                None => match more() {
                    Some(publish) => {
                        self.send_new(Outgoing::new(publish, None), Owner::PLUGIN, out)
                    }
                    None => break,
                },
            }
        }
        if out.len() > start {
            self.keep_alive.sent(now);
        }
    }

    fn window_has_room(&self) -> bool {
        self.window.len() < usize::from(self.config.max_inflight)
            && self.ids.in_use() < usize::from(u16::MAX)
    }

    /// Writes a message that was never sent: QoS 0 is complete once
    /// written; QoS 1/2 takes a packet id and a place in the window.
    fn send_new(&mut self, message: Outgoing, owner: Owner, out: &mut BytesMut) {
        let Outgoing {
            mut publish,
            record,
        } = message;
        publish.dup = false;
        if publish.qos == QoS::AtMostOnce {
            publish.pkid = 0;
            match try_write(&Packet::Publish(publish.clone()), out) {
                Ok(()) if owner.counted => {
                    self.events.push_back(SessionEvent::Completed { record })
                }
                Ok(()) => {}
                Err(reason) => self.set_aside_unencodable(owner, publish.topic, record, reason),
            }
            return;
        }
        let Some(pkid) = self.ids.allocate() else {
            // Cannot happen: callers check window_has_room first.
            self.pending.push_front(Outgoing::new(publish, record));
            return;
        };
        publish.pkid = pkid;
        if let Err(reason) = try_write(&Packet::Publish(publish.clone()), out) {
            self.ids.release(pkid);
            self.set_aside_unencodable(owner, publish.topic, record, reason);
            return;
        }
        let stage = match publish.qos {
            QoS::AtLeastOnce => Stage::Ack,
            _ => Stage::Rec,
        };
        self.window.push(InFlight {
            publish,
            record,
            stage,
            sent: true,
            refusals: 0,
            counted: owner.counted,
            scoped: owner.scoped,
        });
    }

    fn set_aside_unencodable(
        &mut self,
        owner: Owner,
        topic: String,
        record: Option<u64>,
        reason: String,
    ) {
        if !owner.counted {
            return;
        }
        self.events.push_back(SessionEvent::SetAside {
            topic,
            record,
            reason: SetAsideReason::Unencodable(reason),
        });
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    // ----- time -----

    /// When [`Session::handle_timeout`] must be called next (keep-alive).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.online {
            return None;
        }
        self.keep_alive.deadline()
    }

    /// Sends PINGREQ when the link was quiet for KEEPALIVE, and reports the
    /// link dead when a PINGREQ went unanswered for half of KEEPALIVE (so a
    /// dead link is found within 1.5 × KEEPALIVE).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), LinkDead> {
        if !self.online {
            return Ok(());
        }
        if self.keep_alive.ping_due(now)? {
            self.control.push_back(Packet::PingReq);
        }
        Ok(())
    }

    // ----- state -----

    /// Nothing accepted is left undone: no message waits, none is in
    /// flight, nothing is left to write.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
            && self.window.is_empty()
            && self.first.is_empty()
            && self.control.is_empty()
    }

    /// Messages accepted and not complete (waiting or in flight).
    pub fn unfinished(&self) -> usize {
        self.pending.len() + self.window.len()
    }
}

fn write(packet: &Packet, out: &mut BytesMut) {
    // Only PUBLISH can fail to encode (a payload over the protocol limit);
    // every other packet here is built by the session itself.
    let _ = packet.write(out, usize::MAX);
}

fn try_write(packet: &Packet, out: &mut BytesMut) -> Result<(), String> {
    let start = out.len();
    packet.write(out, usize::MAX).map(|_| ()).map_err(|e| {
        out.truncate(start);
        e.to_string()
    })
}

fn packet_name(packet: &Packet) -> &'static str {
    match packet {
        Packet::Connect(_) => "CONNECT",
        Packet::ConnAck(_) => "CONNACK",
        Packet::Publish(_) => "PUBLISH",
        Packet::PubAck(_) => "PUBACK",
        Packet::PubRec(_) => "PUBREC",
        Packet::PubRel(_) => "PUBREL",
        Packet::PubComp(_) => "PUBCOMP",
        Packet::Subscribe(_) => "SUBSCRIBE",
        Packet::SubAck(_) => "SUBACK",
        Packet::Unsubscribe(_) => "UNSUBSCRIBE",
        Packet::UnsubAck(_) => "UNSUBACK",
        Packet::PingReq => "PINGREQ",
        Packet::PingResp => "PINGRESP",
        Packet::Disconnect => "DISCONNECT",
    }
}
