//! Packet ids and the store records they belong to: an id held by an
//! unacknowledged message is never reused; forgotten records, QoS 0 and
//! session-scoped messages leave nothing behind.

use rumqttc::PubAck;

use super::*;

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
