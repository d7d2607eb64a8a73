//! MQTT 3.1.1 topic and topic-filter rules (spec section 4.7), the characters
//! no MQTT string may hold (section 1.5.3), and the largest payload a PUBLISH
//! can carry. What a broker would refuse by closing the connection is
//! refused here instead, with an error that says what and why.

use rumqttc::QoS;

use crate::error::{Error, PayloadLimit};

const MAX_TOPIC_BYTES: usize = 65535;

/// The largest remaining length MQTT 3.1.1 can encode (section 2.2.3): a
/// whole PUBLISH, less its fixed header, is at most this many bytes.
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// A character that MQTT 3.1.1 section 1.5.3 forbids in UTF-8 strings (NUL)
/// or says a receiver may close the connection on (control characters,
/// Unicode non-characters), as Mosquitto does: U+0000 to U+001F, U+007F to
/// U+009F, U+FDD0 to U+FDEF, and U+xxFFFE and U+xxFFFF in every plane.
/// (Surrogates cannot occur in a Rust string.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForbiddenChar {
    pub character: char,
    /// 1-based position among the string's characters.
    pub position: usize,
    /// Offset of its first byte in the UTF-8 string.
    pub byte_offset: usize,
}

impl ForbiddenChar {
    /// The first forbidden character in `text`, if any.
    pub fn find(text: &str) -> Option<ForbiddenChar> {
        text.char_indices()
            .enumerate()
            .find(|(_, (_, c))| kind(*c).is_some())
            .map(|(index, (byte_offset, character))| ForbiddenChar {
                character,
                position: index + 1,
                byte_offset,
            })
    }

    /// "U+0001 (a control character) at character 3 (byte 2)".
    pub fn describe(&self) -> String {
        format!(
            "U+{:04X} ({}) at character {} (byte {})",
            u32::from(self.character),
            kind(self.character).unwrap_or("a forbidden character"),
            self.position,
            self.byte_offset
        )
    }
}

fn kind(c: char) -> Option<&'static str> {
    let code = u32::from(c);
    match code {
        0 => Some("the NUL character"),
        0x01..=0x1F | 0x7F..=0x9F => Some("a control character"),
        0xFDD0..=0xFDEF => Some("a Unicode non-character"),
        _ if code & 0xFFFE == 0xFFFE => Some("a Unicode non-character"),
        _ => None,
    }
}

/// Checks a string the broker reads as an MQTT UTF-8 string, or that ends
/// up in one (`what` names it in the error, e.g. "WILLTOPIC"): no forbidden
/// character ([`ForbiddenChar`]). Returns the reason for the caller's error.
pub fn check_mqtt_string(what: &str, text: &str) -> Result<(), String> {
    match ForbiddenChar::find(text) {
        None => Ok(()),
        Some(found) => Err(format!(
            "{what} '{}' has {}; MQTT 3.1.1 (section 1.5.3) does not allow it in a string, and brokers close the connection on it",
            shown(text),
            found.describe()
        )),
    }
}

/// Checks a topic name for PUBLISH: not empty, at most 65535 bytes of UTF-8,
/// no wildcard (`+`, `#`) and no forbidden character ([`ForbiddenChar`]).
pub fn validate_topic(topic: &str) -> Result<(), Error> {
    check_common("the topic", topic).map_err(Error::InvalidTopic)?;
    if topic.contains(['+', '#']) {
        return Err(Error::InvalidTopic(format!(
            "'{}' contains a wildcard (+ or #); wildcards are only allowed in subscriptions",
            shown(topic)
        )));
    }
    Ok(())
}

/// Checks a topic filter for SUBSCRIBE/UNSUBSCRIBE: like a topic, and `+`
/// must fill a whole level, `#` must be the whole last level.
pub fn validate_filter(filter: &str) -> Result<(), Error> {
    check_common("the filter", filter).map_err(Error::InvalidTopicFilter)?;
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i != levels.len() - 1) {
            return Err(Error::InvalidTopicFilter(format!(
                "'{}': '#' must be the last level on its own, as in 'a/b/#'",
                shown(filter)
            )));
        }
        if level.contains('+') && *level != "+" {
            return Err(Error::InvalidTopicFilter(format!(
                "'{}': '+' must fill a whole level, as in 'a/+/c'",
                shown(filter)
            )));
        }
    }
    Ok(())
}

/// The largest payload one PUBLISH to `topic` at `qos` can carry: the
/// largest remaining length less the topic (with its 2-byte length) and,
/// at QoS 1 and 2, the packet identifier.
pub fn max_payload_len(topic: &str, qos: QoS) -> usize {
    let packet_id = if qos == QoS::AtMostOnce { 0 } else { 2 };
    MAX_REMAINING_LENGTH.saturating_sub(2 + topic.len() + packet_id)
}

/// Everything `publish()` checks before it accepts a message: the topic
/// ([`validate_topic`]), and a payload within what MQTT can carry in one
/// PUBLISH to that topic ([`max_payload_len`]) and within `max_payload`
/// (the MAXPAYLOAD option, for brokers with a smaller limit).
///
/// # Errors
///
/// [`Error::InvalidTopic`], or [`Error::PayloadTooLarge`] naming the size,
/// the limit and where the limit comes from.
pub fn check_publish(
    topic: &str,
    qos: QoS,
    payload_len: usize,
    max_payload: usize,
) -> Result<(), Error> {
    validate_topic(topic)?;
    let protocol = max_payload_len(topic, qos);
    let (max, limit) = if max_payload < protocol {
        (max_payload, PayloadLimit::MaxPayload)
    } else {
        (protocol, PayloadLimit::Protocol)
    };
    if payload_len > max {
        return Err(Error::PayloadTooLarge {
            len: payload_len,
            max,
            limit,
        });
    }
    Ok(())
}

fn check_common(what: &str, topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(format!(
            "{what} is {} bytes long; MQTT allows at most {MAX_TOPIC_BYTES}",
            topic.len()
        ));
    }
    check_mqtt_string(what, topic)
}

/// The first 80 characters, so an error about a huge topic stays readable,
/// with forbidden characters written as `\u{1}` so the text stays printable.
fn shown(text: &str) -> String {
    let mut out = String::new();
    for (index, c) in text.chars().enumerate() {
        if index == 80 {
            out.push('…');
            break;
        }
        if kind(c).is_some() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_with_wildcards_or_nul_or_nothing_are_rejected() {
        assert!(validate_topic("a/b").is_ok());
        assert!(validate_topic("/topic/flexy/123/data").is_ok());
        for bad in ["", "a/+", "a/#", "a\0b"] {
            assert!(
                matches!(validate_topic(bad), Err(Error::InvalidTopic(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn topic_longer_than_65535_bytes_is_rejected_with_its_length() {
        let long = "x".repeat(65536);
        let err = validate_topic(&long).expect_err("too long");
        assert!(err.to_string().contains("65536 bytes"), "{err}");
        assert!(validate_topic(&"x".repeat(65535)).is_ok());
    }

    #[test]
    fn filters_allow_wildcards_only_as_whole_levels() {
        for good in ["#", "+", "a/+/c", "a/#", "+/+", "/#"] {
            assert!(validate_filter(good).is_ok(), "{good}");
        }
        for bad in ["", "a#", "a/#/b", "a+/b", "a/b+", "##"] {
            assert!(
                matches!(validate_filter(bad), Err(Error::InvalidTopicFilter(_))),
                "{bad}"
            );
        }
    }

    /// The characters of MQTT 3.1.1 section 1.5.3 and Mosquitto's
    /// `mosquitto_validate_utf8`, at each edge of each range.
    const FORBIDDEN: &[char] = &[
        '\u{0}',
        '\u{1}',
        '\u{1F}',
        '\u{7F}',
        '\u{85}',
        '\u{9F}',
        '\u{FDD0}',
        '\u{FDEF}',
        '\u{FFFE}',
        '\u{FFFF}',
        '\u{1FFFE}',
        '\u{1FFFF}',
        '\u{10FFFE}',
        '\u{10FFFF}',
    ];
    const ALLOWED: &[char] = &[
        ' ',
        '~',
        '\u{A0}',
        'é',
        '\u{FDCF}',
        '\u{FDF0}',
        '\u{FFFD}',
        '\u{FFFC}',
        '\u{1FFFD}',
        '😀',
    ];

    #[test]
    fn forbidden_characters_are_refused_in_topics_and_filters_naming_the_character_and_where() {
        for &c in FORBIDDEN {
            let topic = format!("plant/é{c}/x");
            let err = validate_topic(&topic).expect_err("forbidden");
            let text = err.to_string();
            assert!(matches!(err, Error::InvalidTopic(_)), "{text}");
            let code = format!("U+{:04X}", u32::from(c));
            assert!(text.contains(&code), "{text}");
            assert!(text.contains("at character 8 (byte 8)"), "{text}");
            assert!(text.contains("section 1.5.3"), "{text}");
            assert!(
                !text.contains(c),
                "the error text holds the raw character: {text:?}"
            );
            assert!(
                matches!(
                    validate_filter(&format!("{topic}/#")),
                    Err(Error::InvalidTopicFilter(_))
                ),
                "{code}"
            );
        }
        for &c in ALLOWED {
            let topic = format!("plant/{c}/x");
            assert!(validate_topic(&topic).is_ok(), "{c:?}");
            assert!(validate_filter(&topic).is_ok(), "{c:?}");
        }
    }

    #[test]
    fn the_kind_of_character_is_named() {
        let describe = |s: &str| ForbiddenChar::find(s).map(|f| f.describe());
        assert_eq!(
            describe("a\u{1}").as_deref(),
            Some("U+0001 (a control character) at character 2 (byte 1)")
        );
        assert_eq!(
            describe("\u{FFFF}").as_deref(),
            Some("U+FFFF (a Unicode non-character) at character 1 (byte 0)")
        );
        assert_eq!(
            describe("ab\0").as_deref(),
            Some("U+0000 (the NUL character) at character 3 (byte 2)")
        );
        assert_eq!(describe("fine/topic"), None);
    }

    #[test]
    fn payload_limit_is_the_remaining_length_less_the_header_for_that_topic() {
        // Topic "a/b": 2 + 3 bytes; a packet id at QoS 1 and 2.
        assert_eq!(max_payload_len("a/b", QoS::AtMostOnce), 268_435_450);
        assert_eq!(max_payload_len("a/b", QoS::AtLeastOnce), 268_435_448);
        assert_eq!(max_payload_len("a/b", QoS::ExactlyOnce), 268_435_448);
        let long = "t".repeat(65535);
        assert_eq!(
            max_payload_len(&long, QoS::AtLeastOnce),
            268_435_455 - 65537 - 2
        );

        let limit = max_payload_len("a/b", QoS::AtLeastOnce);
        assert!(check_publish("a/b", QoS::AtLeastOnce, limit, MAX_REMAINING_LENGTH).is_ok());
        let err = check_publish("a/b", QoS::AtLeastOnce, limit + 1, MAX_REMAINING_LENGTH)
            .expect_err("one byte too many");
        assert!(
            matches!(
                err,
                Error::PayloadTooLarge {
                    len: 268_435_449,
                    max: 268_435_448,
                    limit: PayloadLimit::Protocol
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("268435449 bytes"), "{text}");
        assert!(text.contains("268435448"), "{text}");
        assert!(check_publish("a/b", QoS::AtMostOnce, limit + 1, MAX_REMAINING_LENGTH).is_ok());
    }

    #[test]
    fn maxpayload_lowers_the_limit_and_is_named_in_the_error() {
        assert!(check_publish("aws/x", QoS::AtLeastOnce, 131_072, 131_072).is_ok());
        let err = check_publish("aws/x", QoS::AtLeastOnce, 131_073, 131_072).expect_err("over");
        assert!(
            matches!(
                err,
                Error::PayloadTooLarge {
                    len: 131_073,
                    max: 131_072,
                    limit: PayloadLimit::MaxPayload
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("MAXPAYLOAD"), "{err}");
        // A MAXPAYLOAD above what the topic leaves room for: the protocol wins.
        let err = check_publish("a/b", QoS::AtMostOnce, 268_435_451, MAX_REMAINING_LENGTH)
            .expect_err("over");
        assert!(
            matches!(
                err,
                Error::PayloadTooLarge {
                    limit: PayloadLimit::Protocol,
                    ..
                }
            ),
            "{err:?}"
        );
        // The topic is checked first.
        assert!(matches!(
            check_publish("a/+", QoS::AtMostOnce, 1, 10),
            Err(Error::InvalidTopic(_))
        ));
    }
}
