//! The table: each case a script of steps and what the session must say
//! and write in answer.

use rumqttc::{PubAck, PubComp, PubRec};

use super::*;

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
