//! The input rules of `topic` and `options` match what a real Mosquitto
//! refuses: for each character at the edges of the forbidden ranges, a raw
//! client (hand-built packets, independent of rumqttc's encoder) sends it in
//! a PUBLISH topic, a SUBSCRIBE filter, a CONNECT will topic, user name and
//! client id, and sees
//! whether the broker answers or closes the connection. Whatever the broker
//! closes the connection on, etkmqtt refuses before sending.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use etkmqtt_core::topic::{check_mqtt_string, validate_filter, validate_topic};
use etkmqtt_core::Options;
use support::mosquitto::Mosquitto;

/// Both sides of every range MQTT 3.1.1 section 1.5.3 names, and neighbours
/// that are allowed.
const CHARACTERS: &[char] = &[
    '\u{1}',
    '\u{1F}',
    ' ',
    '~',
    '\u{7F}',
    '\u{85}',
    '\u{9F}',
    '\u{A0}',
    '\u{FDCF}',
    '\u{FDD0}',
    '\u{FDEF}',
    '\u{FDF0}',
    '\u{FFFD}',
    '\u{FFFE}',
    '\u{FFFF}',
    '\u{10000}',
    '\u{1FFFE}',
    '\u{1FFFF}',
    '\u{10FFFD}',
    '\u{10FFFF}',
];

fn string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn packet(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// CONNECT with clean session, optionally a will and a user name.
struct Connect<'a> {
    client_id: &'a str,
    will_topic: Option<&'a str>,
    username: Option<&'a str>,
}

fn connect_packet(connect: &Connect<'_>) -> Vec<u8> {
    let mut body = Vec::new();
    string(&mut body, "MQTT");
    body.push(4);
    let mut flags = 0x02;
    if connect.will_topic.is_some() {
        flags |= 0x04;
    }
    if connect.username.is_some() {
        flags |= 0x80;
    }
    body.push(flags);
    body.extend_from_slice(&30u16.to_be_bytes());
    string(&mut body, connect.client_id);
    if let Some(topic) = connect.will_topic {
        string(&mut body, topic);
        string(&mut body, "gone");
    }
    if let Some(username) = connect.username {
        string(&mut body, username);
    }
    packet(0x10, &body)
}

/// What the broker did with the last packet sent.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Answered,
    Closed,
}

/// Reads until `expected` arrives (answered) or the connection ends.
fn await_packet(stream: &mut TcpStream, expected: u8) -> Answer {
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Answer::Closed,
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                if seen.contains(&expected) {
                    return Answer::Answered;
                }
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Answer::Closed,
            Err(e) => panic!("no answer from the broker: {e}"),
        }
    }
}

fn connected(port: u16, connect: &Connect<'_>) -> (TcpStream, Answer) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(&connect_packet(connect))
        .expect("send CONNECT");
    let answer = await_packet(&mut stream, 0x20);
    (stream, answer)
}

fn broker_takes_publish(port: u16, topic: &str) -> Answer {
    let (mut stream, answer) = connected(port, &plain("raw-publish"));
    assert_eq!(answer, Answer::Answered, "CONNACK");
    let mut body = Vec::new();
    string(&mut body, topic);
    body.extend_from_slice(b"payload");
    let mut bytes = packet(0x30, &body);
    bytes.extend_from_slice(&[0xC0, 0x00]);
    if stream.write_all(&bytes).is_err() {
        return Answer::Closed;
    }
    await_packet(&mut stream, 0xD0)
}

fn broker_takes_subscribe(port: u16, filter: &str) -> Answer {
    let (mut stream, answer) = connected(port, &plain("raw-subscribe"));
    assert_eq!(answer, Answer::Answered, "CONNACK");
    let mut body = vec![0, 1];
    string(&mut body, filter);
    body.push(0);
    if stream.write_all(&packet(0x82, &body)).is_err() {
        return Answer::Closed;
    }
    await_packet(&mut stream, 0x90)
}

fn plain(client_id: &str) -> Connect<'_> {
    Connect {
        client_id,
        will_topic: None,
        username: None,
    }
}

fn expected(accepted_by_etkmqtt: bool) -> Answer {
    if accepted_by_etkmqtt {
        Answer::Answered
    } else {
        Answer::Closed
    }
}

#[test]
fn etkmqtt_refuses_exactly_the_characters_mosquitto_closes_the_connection_on() {
    let broker = Mosquitto::start("");
    let port = broker.plain_port;
    let mut refused = Vec::new();
    for &c in CHARACTERS {
        let topic = format!("rules/{c}/x");
        let ours = validate_topic(&topic).is_ok();
        assert_eq!(
            broker_takes_publish(port, &topic),
            expected(ours),
            "PUBLISH topic with U+{:04X}",
            u32::from(c)
        );
        assert_eq!(
            broker_takes_subscribe(port, &topic),
            expected(validate_filter(&topic).is_ok()),
            "SUBSCRIBE filter with U+{:04X}",
            u32::from(c)
        );
        let will = Connect {
            will_topic: Some(&topic),
            ..plain("raw-will")
        };
        assert_eq!(
            connected(port, &will).1,
            expected(Options::default().set("WILLTOPIC", &topic).is_ok()),
            "CONNECT will topic with U+{:04X}",
            u32::from(c)
        );
        let user = Connect {
            username: Some(&topic),
            ..plain("raw-user")
        };
        assert_eq!(
            connected(port, &user).1,
            expected(Options::default().set("USERNAME", &topic).is_ok()),
            "CONNECT user name with U+{:04X}",
            u32::from(c)
        );
        // The client id is checked by the client; this pins the rule it uses.
        let client_id = format!("raw{c}");
        assert_eq!(
            connected(port, &plain(&client_id)).1,
            expected(check_mqtt_string("the client id", &client_id).is_ok()),
            "CONNECT client id with U+{:04X}",
            u32::from(c)
        );
        if !ours {
            refused.push(format!("U+{:04X}", u32::from(c)));
        }
    }
    println!(
        "refused by Mosquitto and etkmqtt alike: {}",
        refused.join(" ")
    );
    assert_eq!(refused.len(), 12, "{refused:?}");
}
