//! Keep-alive: PINGREQ at KEEPALIVE, the link dead at 1.5 × KEEPALIVE.

use super::*;

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
