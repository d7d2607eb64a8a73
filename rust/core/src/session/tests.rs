//! Session cases that a live broker cannot be made to produce on demand:
//! each is a script of steps (what the application and the broker do) and
//! what the session must say and write in answer.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use rumqttc::{
    ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS, SubAck,
    SubscribeReasonCode,
};

use super::*;
use crate::message::Outgoing;

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

/// One step of a case.
enum Step {
    Connect {
        session_present: bool,
    },
    Queue {
        qos: QoS,
        record: u64,
    },
    /// The session writes exactly these packets (compared by kind, packet id
    /// and DUP flag).
    Writes(Vec<Expect>),
    Broker(Packet),
    BrokerViolates(Packet, &'static str),
    Lost(ConnectionEnd),
    /// These records are complete now (and no others since the last check).
    Completes(Vec<u64>),
    SetsAside {
        record: u64,
        phrase: &'static str,
    },
}

#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Sent { pkid: u16, dup: bool },
    Rel(u16),
    Ack(u16),
    Subscribe,
}

fn expect_of(packet: &Packet) -> Expect {
    match packet {
        Packet::Publish(p) => Expect::Sent {
            pkid: p.pkid,
            dup: p.dup,
        },
        Packet::PubRel(r) => Expect::Rel(r.pkid),
        Packet::PubAck(a) => Expect::Ack(a.pkid),
        Packet::Subscribe(_) => Expect::Subscribe,
        other => panic!("unexpected packet {other:?}"),
    }
}

fn run_case(name: &str, max_inflight: u16, steps: Vec<Step>) {
    let mut h = Harness::new(max_inflight, 60);
    let mut events = Vec::new();
    for (i, step) in steps.into_iter().enumerate() {
        let at = format!("{name}, step {i}");
        match step {
            Step::Connect { session_present } => h.connect(session_present),
            Step::Queue { qos, record } => h.publish(qos, "out/t", record),
            Step::Writes(expected) => {
                let written: Vec<Expect> = h.transmit().iter().map(expect_of).collect();
                assert_eq!(written, expected, "{at}: packets written");
            }
            Step::Broker(packet) => {
                if let Err(v) = h.receive(packet) {
                    panic!("{at}: unexpected violation {v}");
                }
            }
            Step::BrokerViolates(packet, phrase) => {
                let violation = h.receive(packet).expect_err(&at);
                assert!(violation.to_string().contains(phrase), "{at}: {violation}");
                h.session
                    .connection_lost(&ConnectionEnd::Violation(violation));
            }
            Step::Lost(end) => h.session.connection_lost(&end),
            Step::Completes(records) => {
                events.extend(h.events());
                let completed: Vec<u64> = events
                    .drain(..)
                    .filter_map(|e| match e {
                        SessionEvent::Completed { record } => record,
                        _ => None,
                    })
                    .collect();
                assert_eq!(completed, records, "{at}: completed records");
            }
            Step::SetsAside { record, phrase } => {
                let all = h.events();
                let found = all.iter().any(|e| {
                    matches!(e, SessionEvent::SetAside { record: Some(r), reason, .. }
                        if *r == record && reason.to_string().contains(phrase))
                });
                assert!(
                    found,
                    "{at}: record {record} set aside ({phrase}) in {all:?}"
                );
            }
        }
    }
}

fn closed() -> ConnectionEnd {
    ConnectionEnd::BrokerClosed {
        reason: "the broker closed the connection".to_owned(),
    }
}

#[test]
fn session_cases() {
    use Expect::*;
    use Step::*;
    let cases: Vec<(&str, u16, Vec<Step>)> = vec![
        (
            "resend after reconnect: DUP set, original order, before new messages",
            10,
            vec![
                Connect {
                    session_present: false,
                },
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 1,
                },
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 2,
                },
                Queue {
                    qos: QoS::ExactlyOnce,
                    record: 3,
                },
                Writes(vec![
                    Sent {
                        pkid: 1,
                        dup: false,
                    },
                    Sent {
                        pkid: 2,
                        dup: false,
                    },
                    Sent {
                        pkid: 3,
                        dup: false,
                    },
                ]),
                Broker(Packet::PubAck(PubAck::new(2))),
                Lost(closed()),
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 4,
                },
                Connect {
                    session_present: true,
                },
                Writes(vec![
                    Sent { pkid: 1, dup: true },
                    Sent { pkid: 3, dup: true },
                    Sent {
                        pkid: 4,
                        dup: false,
                    },
                ]),
                Completes(vec![2]),
            ],
        ),
        (
            "QoS 2 after PUBREC: resumed session continues with PUBREL",
            10,
            vec![
                Connect {
                    session_present: false,
                },
                Queue {
                    qos: QoS::ExactlyOnce,
                    record: 7,
                },
                Writes(vec![Sent {
                    pkid: 1,
                    dup: false,
                }]),
                Broker(Packet::PubRec(PubRec::new(1))),
                Writes(vec![Rel(1)]),
                Lost(ConnectionEnd::Other),
                Connect {
                    session_present: true,
                },
                Writes(vec![Rel(1)]),
                Broker(Packet::PubComp(PubComp::new(1))),
                Completes(vec![7]),
            ],
        ),
        (
            "QoS 2 after PUBREC: a broker that lost the session gets the PUBLISH again",
            10,
            vec![
                Connect {
                    session_present: false,
                },
                Queue {
                    qos: QoS::ExactlyOnce,
                    record: 7,
                },
                Writes(vec![Sent {
                    pkid: 1,
                    dup: false,
                }]),
                Broker(Packet::PubRec(PubRec::new(1))),
                Writes(vec![Rel(1)]),
                Lost(ConnectionEnd::Other),
                Connect {
                    session_present: false,
                },
                Writes(vec![Sent { pkid: 1, dup: true }]),
                Completes(vec![]),
            ],
        ),
        (
            "PUBACK to a QoS 2 PUBLISH is a violation and does not complete it",
            10,
            vec![
                Connect {
                    session_present: false,
                },
                Queue {
                    qos: QoS::ExactlyOnce,
                    record: 5,
                },
                Writes(vec![Sent {
                    pkid: 1,
                    dup: false,
                }]),
                BrokerViolates(
                    Packet::PubAck(PubAck::new(1)),
                    "broker answered a QoS 2 PUBLISH with PUBACK (packet id 1)",
                ),
                Completes(vec![]),
                Connect {
                    session_present: false,
                },
                Writes(vec![Sent { pkid: 1, dup: true }]),
            ],
        ),
        (
            "PUBREC to a QoS 1 PUBLISH is a violation and does not complete it",
            10,
            vec![
                Connect {
                    session_present: false,
                },
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 5,
                },
                Writes(vec![Sent {
                    pkid: 1,
                    dup: false,
                }]),
                BrokerViolates(
                    Packet::PubRec(PubRec::new(1)),
                    "broker answered a QoS 1 PUBLISH with PUBREC (packet id 1)",
                ),
                Completes(vec![]),
            ],
        ),
        (
            "PUBCOMP before PUBREC is a violation",
            10,
            vec![
                Connect {
                    session_present: false,
                },
                Queue {
                    qos: QoS::ExactlyOnce,
                    record: 5,
                },
                Writes(vec![Sent {
                    pkid: 1,
                    dup: false,
                }]),
                BrokerViolates(
                    Packet::PubComp(PubComp::new(1)),
                    "PUBCOMP for a QoS 2 PUBLISH",
                ),
                Completes(vec![]),
            ],
        ),
        (
            "unsolicited PUBACK and PUBCOMP are ignored; unsolicited PUBREC gets PUBREL",
            10,
            vec![
                Connect {
                    session_present: false,
                },
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 1,
                },
                Writes(vec![Sent {
                    pkid: 1,
                    dup: false,
                }]),
                Broker(Packet::PubAck(PubAck::new(9))),
                Broker(Packet::PubComp(PubComp::new(9))),
                Broker(Packet::PubRec(PubRec::new(9))),
                Writes(vec![Rel(9)]),
                Completes(vec![]),
                Broker(Packet::PubAck(PubAck::new(1))),
                Broker(Packet::PubAck(PubAck::new(1))),
                Completes(vec![1]),
            ],
        ),
        (
            "a message the broker hangs up on three connections in a row is set aside",
            10,
            vec![
                Connect {
                    session_present: false,
                },
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 1,
                },
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 2,
                },
                Writes(vec![
                    Sent {
                        pkid: 1,
                        dup: false,
                    },
                    Sent {
                        pkid: 2,
                        dup: false,
                    },
                ]),
                Lost(closed()),
                Connect {
                    session_present: false,
                },
                Writes(vec![
                    Sent { pkid: 1, dup: true },
                    Sent { pkid: 2, dup: true },
                ]),
                Lost(closed()),
                Connect {
                    session_present: false,
                },
                Writes(vec![
                    Sent { pkid: 1, dup: true },
                    Sent { pkid: 2, dup: true },
                ]),
                Lost(closed()),
                SetsAside {
                    record: 1,
                    phrase: "refused it 3 times in a row",
                },
                Connect {
                    session_present: false,
                },
                Writes(vec![Sent { pkid: 2, dup: true }]),
                Broker(Packet::PubAck(PubAck::new(2))),
                Completes(vec![2]),
            ],
        ),
        (
            "keep-alive timeouts and close() are not refusals",
            10,
            vec![
                Connect {
                    session_present: false,
                },
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 1,
                },
                Writes(vec![Sent {
                    pkid: 1,
                    dup: false,
                }]),
                Lost(ConnectionEnd::Other),
                Connect {
                    session_present: false,
                },
                Writes(vec![Sent { pkid: 1, dup: true }]),
                Lost(ConnectionEnd::Other),
                Connect {
                    session_present: false,
                },
                Writes(vec![Sent { pkid: 1, dup: true }]),
                Lost(ConnectionEnd::Other),
                Connect {
                    session_present: false,
                },
                Writes(vec![Sent { pkid: 1, dup: true }]),
                Broker(Packet::PubAck(PubAck::new(1))),
                Completes(vec![1]),
            ],
        ),
        (
            "window full: new messages wait for an acknowledgement",
            2,
            vec![
                Connect {
                    session_present: false,
                },
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 1,
                },
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 2,
                },
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 3,
                },
                Writes(vec![
                    Sent {
                        pkid: 1,
                        dup: false,
                    },
                    Sent {
                        pkid: 2,
                        dup: false,
                    },
                ]),
                Writes(vec![]),
                Broker(Packet::PubAck(PubAck::new(1))),
                Writes(vec![Sent {
                    pkid: 3,
                    dup: false,
                }]),
                Completes(vec![1]),
            ],
        ),
        (
            "nothing is written offline; subscriptions are restored first on connect",
            10,
            vec![
                Queue {
                    qos: QoS::AtLeastOnce,
                    record: 1,
                },
                Writes(vec![]),
                Connect {
                    session_present: false,
                },
                Writes(vec![Sent {
                    pkid: 1,
                    dup: false,
                }]),
            ],
        ),
    ];
    for (name, max_inflight, steps) in cases {
        run_case(name, max_inflight, steps);
    }
}

/// The loss found with a fault-injecting proxy: a message waiting on a
/// packet id still used by an unacknowledged one must never be filed under
/// that id, or the old message's PUBACK removes the new one's store record.
#[test]
fn packet_id_wrap_never_reuses_an_id_held_by_an_unacknowledged_stored_message() {
    let mut h = Harness::new(20, 60);
    h.connect(false);
    h.publish(QoS::AtLeastOnce, "t", 1_000_000);
    assert_eq!(pkids(&h.transmit()), vec![1]);
    // 65 534 more messages, each acknowledged at once: the ids go round to 1.
    let mut next_record = 0;
    for _ in 0..65_534 {
        next_record += 1;
        h.publish(QoS::AtLeastOnce, "t", next_record);
        let sent = pkids(&h.transmit());
        assert_eq!(sent.len(), 1);
        assert_ne!(sent[0], 1, "id 1 is still held by the first message");
        h.receive(Packet::PubAck(PubAck::new(sent[0])))
            .expect("ack");
    }
    let completed = h.completed();
    assert_eq!(completed.len(), 65_534);
    // The next message would take id 1 if ids were handed out blindly.
    h.publish(QoS::AtLeastOnce, "t", 2_000_000);
    let sent = pkids(&h.transmit());
    assert_eq!(sent.len(), 1);
    assert_ne!(sent[0], 1);
    h.receive(Packet::PubAck(PubAck::new(1)))
        .expect("ack of the first");
    assert_eq!(
        h.completed(),
        vec![1_000_000],
        "the first message's own record"
    );
    h.receive(Packet::PubAck(PubAck::new(sent[0])))
        .expect("ack");
    assert_eq!(h.completed(), vec![2_000_000]);
    assert!(h.session.is_idle());
}

#[test]
fn qos2_received_exactly_once_when_the_broker_resends_with_dup_after_a_reconnect() {
    let mut h = Harness::new(10, 60);
    h.connect(false);
    h.receive(publish_in(5, QoS::ExactlyOnce, false, "a"))
        .expect("publish");
    let first = delivered(&h.events());
    assert_eq!(first.len(), 1);
    // Not acknowledged on arrival: only when the application takes it.
    assert!(h.transmit().is_empty());
    h.session.connection_lost(&ConnectionEnd::Other);
    h.connect(true);
    h.receive(publish_in(5, QoS::ExactlyOnce, true, "a"))
        .expect("re-sent publish");
    assert!(delivered(&h.events()).is_empty(), "not delivered twice");
    h.session
        .message_taken(first[0].1.expect("QoS 2 has an ack"));
    let written = h.transmit();
    assert_eq!(written, vec![Packet::PubRec(PubRec::new(5))]);
    // The PUBREC was lost: the broker sends the PUBLISH once more.
    h.session.connection_lost(&ConnectionEnd::Other);
    h.connect(true);
    h.receive(publish_in(5, QoS::ExactlyOnce, true, "a"))
        .expect("again");
    assert!(
        delivered(&h.events()).is_empty(),
        "still not delivered twice"
    );
    assert_eq!(h.transmit(), vec![Packet::PubRec(PubRec::new(5))]);
    h.receive(Packet::PubRel(PubRel::new(5))).expect("pubrel");
    assert_eq!(h.transmit(), vec![Packet::PubComp(PubComp::new(5))]);
    // After PUBCOMP the id is free: a new message with it is delivered.
    h.receive(publish_in(5, QoS::ExactlyOnce, false, "b"))
        .expect("new");
    assert_eq!(delivered(&h.events()).len(), 1);
}

#[test]
fn inbound_qos1_is_acknowledged_when_taken_not_when_it_arrives() {
    let mut h = Harness::new(10, 60);
    h.connect(false);
    for pkid in 1..=3 {
        h.receive(publish_in(pkid, QoS::AtLeastOnce, false, "m"))
            .expect("publish");
    }
    let messages = delivered(&h.events());
    assert_eq!(messages.len(), 3);
    assert!(
        h.transmit().is_empty(),
        "no PUBACK before the application takes one"
    );
    h.session.message_taken(messages[0].1.expect("ack"));
    assert_eq!(h.transmit(), vec![Packet::PubAck(PubAck::new(1))]);
    // Taken while offline: acknowledged at the reconnect if the broker
    // kept the session, in arrival order.
    h.session.connection_lost(&ConnectionEnd::Other);
    h.session.message_taken(messages[2].1.expect("ack"));
    h.session.message_taken(messages[1].1.expect("ack"));
    h.connect(true);
    assert_eq!(
        h.transmit(),
        vec![
            Packet::PubAck(PubAck::new(2)),
            Packet::PubAck(PubAck::new(3))
        ]
    );
}

#[test]
fn acknowledgements_of_a_session_the_broker_forgot_are_never_sent() {
    let mut h = Harness::new(10, 60);
    h.connect(false);
    h.receive(publish_in(1, QoS::AtLeastOnce, false, "m"))
        .expect("publish");
    let ack = delivered(&h.events())[0].1.expect("ack");
    h.session.connection_lost(&ConnectionEnd::Other);
    h.connect(false);
    h.session.message_taken(ack);
    assert!(h.transmit().is_empty());
    // The new session's id 1 is a new message.
    h.receive(publish_in(1, QoS::AtLeastOnce, false, "n"))
        .expect("publish");
    assert_eq!(delivered(&h.events()).len(), 1);
}

#[test]
fn unsolicited_pubrel_gets_pubcomp_and_pubrel_before_pubrec_is_a_violation() {
    let mut h = Harness::new(10, 60);
    h.connect(true);
    h.receive(Packet::PubRel(PubRel::new(42)))
        .expect("unknown pubrel");
    assert_eq!(h.transmit(), vec![Packet::PubComp(PubComp::new(42))]);
    h.receive(publish_in(8, QoS::ExactlyOnce, false, "m"))
        .expect("publish");
    let violation = h
        .receive(Packet::PubRel(PubRel::new(8)))
        .expect_err("PUBREL before our PUBREC");
    assert!(violation
        .to_string()
        .contains("before we acknowledged it with PUBREC"));
}

#[test]
fn a_packet_only_clients_send_is_a_violation() {
    let mut h = Harness::new(10, 60);
    h.connect(false);
    let v = h
        .receive(Packet::ConnAck(ConnAck::new(
            ConnectReturnCode::Success,
            false,
        )))
        .expect_err("second CONNACK");
    assert_eq!(
        v.to_string(),
        "the broker sent a CONNACK packet, which a broker never sends on an open connection"
    );
}

#[test]
fn keep_alive_pings_after_keepalive_and_declares_the_link_dead_at_one_and_a_half() {
    let mut h = Harness::new(10, 10);
    h.connect(false);
    let start = h.now;
    assert_eq!(
        h.session.poll_timeout(),
        Some(start + Duration::from_secs(10))
    );
    h.advance(9_999);
    h.session.handle_timeout(h.now).expect("alive");
    assert!(h.transmit().is_empty(), "no ping before KEEPALIVE");
    h.advance(1);
    h.session.handle_timeout(h.now).expect("alive");
    assert_eq!(h.transmit(), vec![Packet::PingReq]);
    assert_eq!(
        h.session.poll_timeout(),
        Some(start + Duration::from_secs(15))
    );
    h.advance(4_999);
    h.session
        .handle_timeout(h.now)
        .expect("still waiting for PINGRESP");
    h.advance(1);
    let dead = h.session.handle_timeout(h.now).expect_err("dead at 1.5 x");
    assert_eq!(dead.waited, Duration::from_secs(5));
    assert_eq!(h.now - start, Duration::from_secs(15));
}

#[test]
fn keep_alive_answered_pings_keep_the_link_and_traffic_postpones_the_ping() {
    let mut h = Harness::new(10, 10);
    h.connect(false);
    h.advance(6_000);
    h.publish(QoS::AtMostOnce, "t", 1);
    assert_eq!(h.transmit().len(), 1);
    // Sent something at 6 s, but nothing received since 0 s: a client that
    // only talks still pings at KEEPALIVE so a dead broker is noticed.
    h.advance(4_000);
    h.session.handle_timeout(h.now).expect("alive");
    assert_eq!(h.transmit(), vec![Packet::PingReq]);
    h.advance(100);
    h.receive(Packet::PingResp).expect("pong");
    h.advance(9_000);
    h.session.handle_timeout(h.now).expect("alive");
    assert!(h.transmit().is_empty());
}

#[test]
fn keep_alive_waits_while_reading_is_paused() {
    let mut h = Harness::new(10, 10);
    h.connect(false);
    h.advance(10_000);
    h.session.handle_timeout(h.now).expect("ping");
    assert_eq!(h.transmit(), vec![Packet::PingReq]);
    h.session.set_receiving(false, h.now);
    h.advance(60_000);
    h.session
        .handle_timeout(h.now)
        .expect("the PINGRESP may wait unread");
    h.session.set_receiving(true, h.now);
    h.advance(4_999);
    h.session
        .handle_timeout(h.now)
        .expect("a fresh half interval");
    h.advance(1);
    assert!(h.session.handle_timeout(h.now).is_err());
}

#[test]
fn keep_alive_zero_never_pings() {
    let mut h = Harness::new(10, 0);
    h.connect(false);
    assert_eq!(h.session.poll_timeout(), None);
    h.advance(10_000_000);
    h.session.handle_timeout(h.now).expect("off");
    assert!(h.transmit().is_empty());
}

#[test]
fn suback_failure_names_the_refused_filter() {
    let mut h = Harness::new(10, 60);
    h.session.subscribe("a/#", QoS::AtLeastOnce);
    h.session.subscribe("b/+", QoS::AtMostOnce);
    h.connect(false);
    let written = h.transmit();
    let Some(Packet::Subscribe(subscribe)) = written.first() else {
        panic!("restore SUBSCRIBE first: {written:?}");
    };
    assert_eq!(subscribe.filters.len(), 2);
    h.receive(Packet::SubAck(SubAck::new(
        subscribe.pkid,
        vec![
            SubscribeReasonCode::Success(QoS::AtLeastOnce),
            SubscribeReasonCode::Failure,
        ],
    )))
    .expect("suback");
    assert_eq!(
        h.events(),
        vec![SessionEvent::SubscriptionRefused {
            filter: "b/+".to_owned()
        }]
    );
}

#[test]
fn forgotten_records_leave_the_window_and_their_late_ack_is_unsolicited() {
    let mut h = Harness::new(10, 60);
    h.connect(false);
    h.publish(QoS::AtLeastOnce, "t", 1);
    h.publish(QoS::AtLeastOnce, "t", 2);
    assert_eq!(pkids(&h.transmit()), vec![1, 2]);
    h.session.connection_lost(&ConnectionEnd::Other);
    h.publish(QoS::AtLeastOnce, "t", 3);
    assert_eq!(h.session.forget(&[1, 3]), 2);
    h.connect(true);
    assert_eq!(pkids(&h.transmit()), vec![2]);
    h.receive(Packet::PubAck(PubAck::new(1))).expect("late ack");
    assert_eq!(
        h.events(),
        vec![SessionEvent::Unsolicited {
            packet: "PUBACK",
            pkid: 1
        }]
    );
}

#[test]
fn session_scoped_messages_go_first_and_are_not_resent_on_the_next_connection() {
    let mut h = Harness::new(10, 60);
    h.publish(QoS::AtLeastOnce, "t", 1);
    h.connect(false);
    h.session
        .publish_first(Publish::new("birth", QoS::AtLeastOnce, b"b".to_vec()));
    let written = h.transmit();
    let topics: Vec<&str> = written
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p.topic.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(topics, vec!["birth", "t"]);
    h.session.connection_lost(&ConnectionEnd::Other);
    h.connect(true);
    let again = h.transmit();
    assert_eq!(again.len(), 1, "only the application's message: {again:?}");
    assert!(
        h.events().is_empty(),
        "a plugin's message completes nothing"
    );
}

#[test]
fn qos0_completes_when_written_and_is_not_kept_for_a_resend() {
    let mut h = Harness::new(10, 60);
    h.connect(false);
    h.publish(QoS::AtMostOnce, "t", 9);
    assert_eq!(h.transmit().len(), 1);
    assert_eq!(h.completed(), vec![9]);
    h.session.connection_lost(&ConnectionEnd::Other);
    h.connect(true);
    assert!(h.transmit().is_empty());
    assert!(h.session.is_idle());
}
