//! The messages that cross the client's API: one published by the
//! application ([`Outgoing`]) and one received for it ([`Message`]).

use bytes::Bytes;
use rumqttc::Publish;

/// A received application message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
}

impl Message {
    pub(crate) fn from_publish(publish: &Publish) -> Message {
        Message {
            topic: publish.topic.clone(),
            payload: publish.payload.clone(),
            qos: publish.qos as u8,
            retain: publish.retain,
        }
    }
}

/// A message the application published, with the id of the store record
/// that holds it on disk (STOREDIR), if any. The record is removed once the
/// session reports the message complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub publish: Publish,
    pub record: Option<u64>,
}

impl Outgoing {
    pub fn new(publish: Publish, record: Option<u64>) -> Outgoing {
        Outgoing { publish, record }
    }
}
