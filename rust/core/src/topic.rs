//! MQTT 3.1.1 topic and topic-filter rules (spec section 4.7).

use crate::error::Error;

const MAX_TOPIC_BYTES: usize = 65535;

/// Checks a topic name for PUBLISH: not empty, at most 65535 bytes of UTF-8,
/// no wildcard (`+`, `#`) and no NUL character.
pub fn validate_topic(topic: &str) -> Result<(), Error> {
    check_common(topic).map_err(Error::InvalidTopic)?;
    if topic.contains(['+', '#']) {
        return Err(Error::InvalidTopic(format!(
            "'{}' contains a wildcard (+ or #); wildcards are only allowed in subscriptions",
            shorten(topic)
        )));
    }
    Ok(())
}

/// Checks a topic filter for SUBSCRIBE/UNSUBSCRIBE: like a topic, and `+`
/// must fill a whole level, `#` must be the whole last level.
pub fn validate_filter(filter: &str) -> Result<(), Error> {
    check_common(filter).map_err(Error::InvalidTopicFilter)?;
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i != levels.len() - 1) {
            return Err(Error::InvalidTopicFilter(format!(
                "'{}': '#' must be the last level on its own, as in 'a/b/#'",
                shorten(filter)
            )));
        }
        if level.contains('+') && *level != "+" {
            return Err(Error::InvalidTopicFilter(format!(
                "'{}': '+' must fill a whole level, as in 'a/+/c'",
                shorten(filter)
            )));
        }
    }
    Ok(())
}

fn check_common(topic: &str) -> Result<(), String> {
    if topic.is_empty() {
        return Err("the topic is empty".to_owned());
    }
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(format!(
            "the topic is {} bytes long; MQTT allows at most {MAX_TOPIC_BYTES}",
            topic.len()
        ));
    }
    if topic.contains('\0') {
        return Err(format!(
            "'{}' contains a NUL character",
            shorten(topic).replace('\0', "\\0")
        ));
    }
    Ok(())
}

/// The first 80 characters, so an error about a huge topic stays readable.
fn shorten(topic: &str) -> String {
    match topic.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &topic[..end]),
        None => topic.to_owned(),
    }
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
}
