//! The primary host: births wait for its online STATE, an offline one is
//! answered with NDEATH.

use rumqttc::Publish;

use super::messages::qos0;
use super::{NodeState, PrimaryHost};
use crate::sparkplug::topic::{state_topic, validate_id};
use crate::sparkplug::SparkplugError;

impl NodeState {
    /// Waits for `host_id` before births; returns the STATE topic to subscribe to.
    pub fn set_primary_host(&mut self, host_id: &str) -> Result<String, SparkplugError> {
        self.check_running()?;
        validate_id("primary host id", host_id)?;
        let topic = state_topic(host_id);
        if self.host.as_ref().is_some_and(|h| h.topic == topic) {
            return Ok(topic);
        }
        // Already born: go on until the host's STATE says otherwise.
        self.host = Some(PrimaryHost {
            topic: topic.clone(),
            online: self.born,
            last_timestamp: None,
            last_online_timestamp: None,
        });
        Ok(topic)
    }

    pub(super) fn on_state(&mut self, payload: &[u8], now: u64, out: &mut Vec<Publish>) {
        let Some((online, timestamp)) = parse_state(payload) else {
            self.problems.push(format!(
                "Sparkplug: ignored a STATE message that is neither {{\"online\":…,\"timestamp\":…}} nor ONLINE/OFFLINE ({} bytes)",
                payload.len()
            ));
            return;
        };
        let Some(host) = self.host.as_mut() else {
            return;
        };
        let not_older = |than: Option<u64>| match (timestamp, than) {
            (Some(ts), Some(than)) => ts >= than,
            _ => true,
        };
        if online {
            if !not_older(host.last_timestamp) {
                return;
            }
            host.online = true;
            if timestamp.is_some() {
                host.last_timestamp = timestamp;
                host.last_online_timestamp = timestamp;
            }
            self.birth_if_allowed(now, out);
        } else {
            // An offline STATE older than the last online one is stale
            // (tck-id-operational-behavior-edge-node-termination-host-offline-timestamp).
            if !not_older(host.last_online_timestamp) {
                return;
            }
            host.online = false;
            if timestamp.is_some() {
                host.last_timestamp = timestamp;
            }
            if self.born {
                self.born = false;
                self.ready.clear();
                let payload = self.ndeath_payload(self.bd_seq(), now);
                out.push(qos0(self.topics.ndeath.clone(), &payload));
            }
        }
    }
}

/// A STATE payload: 3.0 JSON `{"online":true,"timestamp":…}` or the
/// Sparkplug 2.2 text `ONLINE` / `OFFLINE` (no timestamp).
fn parse_state(payload: &[u8]) -> Option<(bool, Option<u64>)> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    if text.eq_ignore_ascii_case("ONLINE") {
        return Some((true, None));
    }
    if text.eq_ignore_ascii_case("OFFLINE") {
        return Some((false, None));
    }
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let online = json.get("online")?.as_bool()?;
    let timestamp = match json.get("timestamp") {
        None | Some(serde_json::Value::Null) => None,
        Some(value) => Some(value.as_u64()?),
    };
    Some((online, timestamp))
}
