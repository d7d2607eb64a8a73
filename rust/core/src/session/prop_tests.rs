//! Random interleavings of publishes, acknowledgements (on time, late,
//! repeated), inbound QoS 2 messages (re-sent with DUP), the application
//! taking messages, and lost connections (the broker keeping or losing the
//! session). Whatever the order: no QoS 1/2 message is lost, none completes
//! twice, every completed one really reached the broker's subscribers, no
//! inbound QoS 2 message reaches the application twice, and once
//! everything is acknowledged no store record is left.
//!
//! The broker here is the test's model of a correct MQTT 3.1.1 peer: it
//! answers only with what the protocol allows, at random moments.

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;
use rumqttc::{Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS};

use super::tests::Harness;
use super::*;

#[derive(Debug, Clone)]
enum Op {
    Publish(u8),
    Transmit,
    /// The broker answers the in-flight message at this index (mod count).
    Answer(usize),
    /// The broker repeats an acknowledgement it sent before.
    RepeatAnswer(usize),
    /// The broker sends a new QoS 2 message.
    Inbound,
    /// The broker re-sends an inbound message it has no PUBREC for.
    ResendInbound(usize),
    /// The application takes the oldest message waiting for it.
    Take,
    /// The connection ends; the broker keeps the session or not.
    Lose {
        broker_closed: bool,
    },
    Connect {
        session_present: bool,
    },
    Tick(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3).prop_map(Op::Publish),
        4 => Just(Op::Transmit),
        4 => any::<usize>().prop_map(Op::Answer),
        1 => any::<usize>().prop_map(Op::RepeatAnswer),
        2 => Just(Op::Inbound),
        1 => any::<usize>().prop_map(Op::ResendInbound),
        2 => Just(Op::Take),
        1 => any::<bool>().prop_map(|broker_closed| Op::Lose { broker_closed }),
        1 => any::<bool>().prop_map(|session_present| Op::Connect { session_present }),
        1 => any::<u16>().prop_map(Op::Tick),
    ]
}

/// Where the broker is with one of our QoS 1/2 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Qos1,
    /// QoS 2, the PUBLISH came: it holds the message (its record) and
    /// passes it on at PUBREL, as Mosquitto does.
    Qos2Published(u64),
    Qos2Released,
}

#[derive(Default)]
struct Broker {
    /// Our messages it holds, by packet id.
    held: BTreeMap<u16, Held>,
    answers_sent: Vec<Packet>,
    /// Its QoS 2 messages to us: packet id -> content, until PUBCOMP.
    outgoing: BTreeMap<u16, u64>,
    /// Of those, the ones we acknowledged with PUBREC.
    released: HashSet<u16>,
    next_inbound: u64,
    next_pkid: u16,
    /// Records of our messages it passed on to subscribers.
    passed_on: HashSet<u64>,
}

struct World {
    h: Harness,
    broker: Broker,
    connected: bool,
    /// The store: records not yet complete.
    live: HashSet<u64>,
    next_record: u64,
    completed: HashSet<u64>,
    set_aside: HashSet<u64>,
    /// Inbound messages waiting for the application, with their acks.
    unread: Vec<(u64, Option<InboundAck>)>,
    delivered: HashMap<u64, u32>,
}

impl World {
    fn new() -> World {
        World {
            h: Harness::new(4, 60),
            broker: Broker::default(),
            connected: false,
            live: HashSet::new(),
            next_record: 1,
            completed: HashSet::new(),
            set_aside: HashSet::new(),
            unread: Vec::new(),
            delivered: HashMap::new(),
        }
    }

    fn drain_events(&mut self) -> Result<(), TestCaseError> {
        for event in self.h.events() {
            match event {
                SessionEvent::Completed { record: Some(r) } => {
                    prop_assert!(
                        self.live.remove(&r),
                        "record {} completed twice or unknown",
                        r
                    );
                    prop_assert!(self.completed.insert(r));
                }
                SessionEvent::SetAside {
                    record: Some(r), ..
                } => {
                    prop_assert!(self.live.remove(&r), "record {} set aside twice", r);
                    self.set_aside.insert(r);
                }
                SessionEvent::Deliver { message, ack } => {
                    let content = u64::from_be_bytes(
                        message.payload.as_ref().try_into().expect("8-byte payload"),
                    );
                    *self.delivered.entry(content).or_default() += 1;
                    prop_assert!(
                        self.delivered[&content] == 1,
                        "inbound QoS 2 message {} delivered twice",
                        content
                    );
                    self.unread.push((content, ack));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn receive(&mut self, packet: Packet) -> Result<(), TestCaseError> {
        let result = self.h.receive(packet);
        prop_assert!(
            result.is_ok(),
            "violation from a correct broker: {:?}",
            result
        );
        self.drain_events()
    }

    fn transmit(&mut self) -> Result<(), TestCaseError> {
        for packet in self.h.transmit() {
            match packet {
                Packet::Publish(p) if p.qos == QoS::ExactlyOnce => {
                    // A re-sent PUBLISH of one already released stays released.
                    self.broker
                        .held
                        .entry(p.pkid)
                        .or_insert(Held::Qos2Published(record_of(&p)));
                }
                Packet::Publish(p) => {
                    self.broker.passed_on.insert(record_of(&p));
                    if p.qos == QoS::AtLeastOnce {
                        self.broker.held.insert(p.pkid, Held::Qos1);
                    }
                }
                Packet::PubRel(r) => {
                    // Only a message it holds can be passed on; a PUBREL
                    // for one it forgot is answered, but nothing arrives.
                    if let Some(Held::Qos2Published(record)) = self.broker.held.get(&r.pkid) {
                        self.broker.passed_on.insert(*record);
                    }
                    self.broker.held.insert(r.pkid, Held::Qos2Released);
                }
                Packet::PubRec(r) => {
                    prop_assert!(self.broker.outgoing.contains_key(&r.pkid));
                    self.broker.released.insert(r.pkid);
                }
                Packet::PubComp(c) => {
                    self.broker.outgoing.remove(&c.pkid);
                    self.broker.released.remove(&c.pkid);
                }
                _ => {}
            }
        }
        self.drain_events()
    }

    fn answer(&mut self, index: usize) -> Result<(), TestCaseError> {
        if !self.connected || self.broker.held.is_empty() {
            // A released inbound message can be finished too.
            return self.release_inbound(index);
        }
        let pkid = *self
            .broker
            .held
            .keys()
            .nth(index % self.broker.held.len())
            .expect("index in range");
        let packet = match self.broker.held[&pkid] {
            Held::Qos1 => {
                self.broker.held.remove(&pkid);
                Packet::PubAck(PubAck::new(pkid))
            }
            Held::Qos2Published(_) => Packet::PubRec(PubRec::new(pkid)),
            Held::Qos2Released => {
                self.broker.held.remove(&pkid);
                Packet::PubComp(PubComp::new(pkid))
            }
        };
        self.broker.answers_sent.push(packet.clone());
        self.receive(packet)
    }

    fn release_inbound(&mut self, index: usize) -> Result<(), TestCaseError> {
        if !self.connected || self.broker.released.is_empty() {
            return Ok(());
        }
        let mut released: Vec<u16> = self.broker.released.iter().copied().collect();
        released.sort_unstable();
        let pkid = released[index % released.len()];
        self.receive(Packet::PubRel(PubRel::new(pkid)))
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Publish(qos) => {
                let record = self.next_record;
                self.next_record += 1;
                self.live.insert(record);
                let qos = match qos {
                    0 => QoS::AtMostOnce,
                    1 => QoS::AtLeastOnce,
                    _ => QoS::ExactlyOnce,
                };
                self.h.publish(qos, "t", record);
            }
            Op::Transmit => self.transmit()?,
            Op::Answer(i) => self.answer(i)?,
            Op::RepeatAnswer(i) => {
                if self.connected && !self.broker.answers_sent.is_empty() {
                    let packet =
                        self.broker.answers_sent[i % self.broker.answers_sent.len()].clone();
                    // A repeated PUBREC is only legal while the broker still
                    // holds the message unreleased.
                    let legal = match &packet {
                        Packet::PubRec(r) => {
                            matches!(self.broker.held.get(&r.pkid), Some(Held::Qos2Published(_)))
                        }
                        _ => {
                            !matches!(&packet, Packet::PubAck(a) if self.broker.held.contains_key(&a.pkid))
                                && !matches!(&packet, Packet::PubComp(c) if self.broker.held.contains_key(&c.pkid))
                        }
                    };
                    if legal {
                        self.receive(packet)?;
                    }
                }
            }
            Op::Inbound => {
                if self.connected {
                    self.broker.next_inbound += 1;
                    let mut pkid = self.broker.next_pkid;
                    loop {
                        pkid = pkid.wrapping_add(1).max(1);
                        if !self.broker.outgoing.contains_key(&pkid) {
                            break;
                        }
                    }
                    self.broker.next_pkid = pkid;
                    let content = self.broker.next_inbound;
                    self.broker.outgoing.insert(pkid, content);
                    self.receive(inbound(pkid, content, false))?;
                }
            }
            Op::ResendInbound(i) => {
                let unreleased: Vec<(u16, u64)> = self
                    .broker
                    .outgoing
                    .iter()
                    .filter(|(pkid, _)| !self.broker.released.contains(pkid))
                    .map(|(p, c)| (*p, *c))
                    .collect();
                if self.connected && !unreleased.is_empty() {
                    let (pkid, content) = unreleased[i % unreleased.len()];
                    self.receive(inbound(pkid, content, true))?;
                }
            }
            Op::Take => {
                if !self.unread.is_empty() {
                    let (_, ack) = self.unread.remove(0);
                    if let Some(ack) = ack {
                        self.h.session.message_taken(ack);
                    }
                }
            }
            Op::Lose { broker_closed } => {
                if self.connected {
                    self.connected = false;
                    let end = if broker_closed {
                        ConnectionEnd::BrokerClosed {
                            reason: "closed".to_owned(),
                        }
                    } else {
                        ConnectionEnd::Other
                    };
                    self.h.session.connection_lost(&end);
                    self.drain_events()?;
                }
            }
            Op::Connect { session_present } => {
                if !self.connected {
                    self.connected = true;
                    if !session_present {
                        // A broker without our session holds nothing of ours,
                        // and forgets what it was sending us.
                        self.broker.held.clear();
                        self.broker.answers_sent.clear();
                        self.broker.outgoing.clear();
                        self.broker.released.clear();
                    }
                    self.h.connect(session_present);
                    // A broker that kept the session re-sends what it was
                    // sending us, DUP set, and PUBREL for released ones.
                    if session_present {
                        let resend: Vec<(u16, u64)> =
                            self.broker.outgoing.iter().map(|(p, c)| (*p, *c)).collect();
                        for (pkid, content) in resend {
                            if self.broker.released.contains(&pkid) {
                                self.receive(Packet::PubRel(PubRel::new(pkid)))?;
                            } else {
                                self.receive(inbound(pkid, content, true))?;
                            }
                        }
                    }
                }
            }
            Op::Tick(ms) => self.h.advance(u64::from(ms)),
        }
        Ok(())
    }

    /// A calm ending: connected, the broker keeps the session and answers
    /// everything, the application reads everything.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        if !self.connected {
            self.step(Op::Connect {
                session_present: true,
            })?;
        }
        for _ in 0..10_000 {
            self.transmit()?;
            while !self.unread.is_empty() {
                self.step(Op::Take)?;
            }
            self.transmit()?;
            if !self.broker.held.is_empty() {
                self.answer(0)?;
            } else if !self.broker.released.is_empty() {
                self.release_inbound(0)?;
            } else if self.h.session.is_idle() && self.broker.outgoing.is_empty() {
                return Ok(());
            }
        }
        prop_assert!(false, "the session did not settle");
        Ok(())
    }
}

fn record_of(publish: &Publish) -> u64 {
    u64::from_be_bytes(publish.payload.as_ref().try_into().expect("8-byte payload"))
}

fn inbound(pkid: u16, content: u64, dup: bool) -> Packet {
    let mut publish = Publish::new("in", QoS::ExactlyOnce, content.to_be_bytes().to_vec());
    publish.pkid = pkid;
    publish.dup = dup;
    Packet::Publish(publish)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_loss_no_double_completion_no_record_left(ops in prop::collection::vec(op(), 1..300)) {
        let mut world = World::new();
        for op in ops {
            world.step(op)?;
        }
        world.settle()?;
        let published: HashSet<u64> = (1..world.next_record).collect();
        let done: HashSet<u64> = world.completed.union(&world.set_aside).copied().collect();
        prop_assert_eq!(&done, &published, "every message completes or is set aside");
        prop_assert!(world.completed.is_disjoint(&world.set_aside));
        prop_assert!(world.live.is_empty(), "store records left: {:?}", world.live);
        let lost: Vec<&u64> = world.completed.iter().filter(|r| !world.broker.passed_on.contains(r)).collect();
        prop_assert!(lost.is_empty(), "completed but never passed on by the broker: {:?}", lost);
        for content in 1..=world.broker.next_inbound {
            prop_assert_eq!(world.delivered.get(&content).copied(), Some(1),
                "inbound message {} delivered exactly once", content);
        }
    }
}
