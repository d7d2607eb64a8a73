//! What the broker sends: inbound messages acknowledged when the
//! application takes them, QoS 2 exactly once, PUBREL, SUBACK failures and
//! packets a broker must not send.

use rumqttc::{
    ConnAck, ConnectReturnCode, PubAck, PubComp, PubRec, PubRel, SubAck, SubscribeReasonCode,
};

use super::*;

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

/// A broker that keeps the session (CLEANSESSION 0) keeps its
/// subscriptions too: a filter unsubscribed while offline, or whose
/// UNSUBACK was lost with the connection, is unsubscribed again on the next
/// connection, until the broker confirms it; a broker without the session
/// has nothing to forget.
#[test]
fn an_unsubscribe_the_broker_did_not_confirm_is_sent_again_to_a_kept_session() {
    let mut h = Harness::new(10, 60);
    h.session.subscribe("a/#", QoS::AtLeastOnce);
    h.session.subscribe("b/#", QoS::AtLeastOnce);
    h.connect(false);
    assert!(matches!(h.transmit().as_slice(), [Packet::Subscribe(_)]));
    h.session.unsubscribe("a/#");
    let written = h.transmit();
    let [Packet::Unsubscribe(first)] = written.as_slice() else {
        panic!("UNSUBSCRIBE now: {written:?}");
    };
    assert_eq!(first.topics, vec!["a/#".to_owned()]);
    // Lost before the UNSUBACK; b/# is unsubscribed while offline.
    h.session.connection_lost(&ConnectionEnd::Other);
    h.session.unsubscribe("b/#");
    h.connect(true);
    let topics: Vec<String> = h
        .transmit()
        .into_iter()
        .filter_map(|p| match p {
            Packet::Unsubscribe(u) => Some(u.topics.join(",")),
            Packet::Subscribe(s) => panic!("nothing is left to restore: {s:?}"),
            _ => None,
        })
        .collect();
    assert_eq!(topics, vec!["a/#".to_owned(), "b/#".to_owned()]);
    // Confirmed: not again.
    h.session.connection_lost(&ConnectionEnd::Other);
    h.connect(true);
    let again = h.transmit();
    let pkids: Vec<u16> = again
        .iter()
        .filter_map(|p| match p {
            Packet::Unsubscribe(u) => Some(u.pkid),
            _ => None,
        })
        .collect();
    for pkid in pkids {
        h.receive(Packet::UnsubAck(rumqttc::UnsubAck::new(pkid)))
            .expect("unsuback");
    }
    h.session.connection_lost(&ConnectionEnd::Other);
    h.connect(true);
    assert!(h.transmit().is_empty(), "nothing left to unsubscribe");
    // And a broker that lost the session has nothing to forget.
    h.session.unsubscribe("c/#");
    h.session.connection_lost(&ConnectionEnd::Other);
    h.connect(false);
    assert!(h.transmit().is_empty());
}
