//! The node's rules without a socket: what each boundary call yields.

use std::path::PathBuf;

use rumqttc::{Publish, QoS};

use super::{CommandValue, NodeState, BD_SEQ_METRIC, REBIRTH_METRIC};
use crate::sparkplug::bdseq::BdSeqFile;
use crate::sparkplug::history::History;
use crate::sparkplug::payload::{data_type, Metric, MetricValue, Payload};
use crate::sparkplug::topic::NodeTopics;
use crate::sparkplug::value::Value;
use crate::store::StoreConfig;

mod births;
mod commands;
mod data;

const NOW: u64 = 1_700_000_000_000;

fn topics() -> NodeTopics {
    NodeTopics::new("Plant", "flexy").expect("topics")
}

fn node() -> NodeState {
    NodeState::new(topics(), History::in_memory(), None)
}

fn metrics(list: &[(&str, Value)]) -> Vec<(String, Option<Value>)> {
    list.iter()
        .map(|(n, v)| ((*n).to_owned(), Some(v.clone())))
        .collect()
}

fn decode(publish: &Publish) -> Payload {
    Payload::from_bytes(&publish.payload).expect("a Sparkplug payload")
}

/// A node with two node metrics and one device with one metric.
fn defined_node() -> NodeState {
    let mut node = node();
    node.set_node_metrics(
        metrics(&[
            ("Temperature", Value::Double(20.5)),
            ("Count", Value::Int64(7)),
        ]),
        NOW - 1000,
    )
    .expect("node metrics");
    node.set_device_metrics(
        "plc",
        metrics(&[("Running", Value::Boolean(true))]),
        NOW - 1000,
    )
    .expect("device metrics");
    node
}

/// CONNECT + CONNACK: returns the births.
fn connect(node: &mut NodeState, now: u64) -> Vec<Publish> {
    node.will(now).expect("a will");
    let mut out = Vec::new();
    node.session_started(now, &mut out);
    out
}

fn drain(node: &mut NodeState, now: u64) -> Vec<Publish> {
    std::iter::from_fn(|| node.next_outgoing(now)).collect()
}

fn metric<'a>(payload: &'a Payload, name: &str) -> &'a Metric {
    payload
        .metrics
        .iter()
        .find(|m| m.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("metric {name} in {payload:?}"))
}

fn bd_seq_of(payload: &Payload) -> u64 {
    match metric(payload, BD_SEQ_METRIC).value {
        Some(MetricValue::LongValue(v)) => v,
        ref other => panic!("bdSeq value {other:?}"),
    }
}

fn ncmd_rebirth() -> Publish {
    let payload = Payload {
        timestamp: Some(NOW),
        metrics: vec![Metric {
            name: Some(REBIRTH_METRIC.to_owned()),
            datatype: Some(data_type::BOOLEAN),
            value: Some(MetricValue::BooleanValue(true)),
            ..Metric::default()
        }],
        ..Payload::default()
    };
    Publish::new(
        "spBv1.0/Plant/NCMD/flexy",
        QoS::AtLeastOnce,
        payload.to_bytes(),
    )
}

fn state(payload: &str) -> Publish {
    Publish::new(
        "spBv1.0/STATE/scada",
        QoS::AtLeastOnce,
        payload.as_bytes().to_vec(),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "etkmqtt-node-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
