//! The messages a [`NodeState`] makes: NBIRTH and DBIRTH, NDEATH, and
//! queued readings as DATA of the current birth, each `seq` stamped in order.

use rumqttc::{Publish, QoS};

use super::{NodeState, Ready};
use crate::sparkplug::history::Entry;
use crate::sparkplug::node::{BD_SEQ_METRIC, REBIRTH_METRIC};
use crate::sparkplug::payload::{data_type, Metric, MetricValue, Payload};
use crate::sparkplug::topic::Target;

impl NodeState {
    /// NBIRTH (`seq` 0) and every DBIRTH, numbered in order. Anything
    /// recorded before is history from now on.
    pub(super) fn births(&mut self, now: u64, out: &mut Vec<Publish>) {
        self.generation += 1;
        self.born = true;
        self.ready.retain(|r| {
            !matches!(
                r,
                Ready::FullBirth | Ready::DeviceBirth(_) | Ready::Stamped(_)
            )
        });
        out.push(self.nbirth(now));
        for index in 0..self.devices.len() {
            let dbirth = self.dbirth(index, now);
            out.push(dbirth);
        }
    }

    fn nbirth(&mut self, now: u64) -> Publish {
        self.seq = 0;
        let mut metrics = Vec::with_capacity(self.node.len() + 2);
        metrics.push(bd_seq_metric(self.bd_seq(), now));
        // No alias for Rebirth (tck-id-operational-behavior-data-commands-rebirth-name-aliases).
        metrics.push(Metric {
            name: Some(REBIRTH_METRIC.to_owned()),
            timestamp: Some(now),
            datatype: Some(data_type::BOOLEAN),
            value: Some(MetricValue::BooleanValue(false)),
            ..Metric::default()
        });
        metrics.extend(self.node.iter().map(|m| m.birth_metric()));
        let payload = Payload {
            timestamp: Some(now),
            metrics,
            seq: Some(self.stamp()),
            ..Payload::default()
        };
        qos0(self.topics.nbirth.clone(), &payload)
    }

    pub(super) fn dbirth(&mut self, index: usize, now: u64) -> Publish {
        let seq = self.stamp();
        let device = &self.devices[index];
        let payload = Payload {
            timestamp: Some(now),
            metrics: device.metrics.iter().map(|m| m.birth_metric()).collect(),
            seq: Some(seq),
            ..Payload::default()
        };
        qos0(device.dbirth.clone(), &payload)
    }

    pub(super) fn ndeath_payload(&self, bd_seq: u8, now: u64) -> Payload {
        // No seq in NDEATH (tck-id-topics-ndeath-seq).
        Payload {
            timestamp: Some(now),
            metrics: vec![bd_seq_metric(bd_seq, now)],
            ..Payload::default()
        }
    }

    pub(super) fn stamp(&mut self) -> u64 {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        u64::from(seq)
    }

    /// A queued entry as NDATA/DDATA of the current birth: aliases instead
    /// of names, `is_historical` unless recorded under this birth.
    pub(super) fn data_message(&mut self, entry: Entry, now: u64) -> Option<Publish> {
        let recorded = match Payload::from_bytes(&entry.payload) {
            Ok(payload) => payload,
            Err(e) => {
                self.discarded += 1;
                self.problems.push(format!(
                    "Sparkplug: a queued reading for {} could not be read back ({e}); dropped",
                    entry.topic
                ));
                return None;
            }
        };
        let (set, topic) = match self.topics.data_target(&entry.topic) {
            Some(Target::Node) => (&self.node, self.topics.ndata.clone()),
            Some(Target::Device(id)) => match self.devices.iter().find(|d| d.id == id) {
                Some(device) => (&device.metrics, device.ddata.clone()),
                None => {
                    self.discarded += 1;
                    self.problems.push(format!(
                        "Sparkplug: a queued reading of device '{id}' was dropped: the device is not declared (setDeviceMetrics) in this run"
                    ));
                    return None;
                }
            },
            None => {
                self.discarded += 1;
                self.problems.push(format!(
                    "Sparkplug: a queued reading for {} was dropped: it belongs to another group or edge node id",
                    entry.topic
                ));
                return None;
            }
        };
        let historical = entry.generation != Some(self.generation);
        let mut metrics = Vec::with_capacity(recorded.metrics.len());
        let mut missing = Vec::new();
        for metric in recorded.metrics {
            let def = metric.name.as_deref().and_then(|name| set.get(name));
            match def {
                Some(def) if metric.datatype == Some(def.data_type.code()) => {
                    metrics.push(Metric {
                        alias: Some(def.alias),
                        timestamp: metric.timestamp,
                        is_historical: historical.then_some(true),
                        is_null: metric.is_null,
                        value: metric.value,
                        ..Metric::default()
                    })
                }
                _ => missing.push(metric.name.unwrap_or_default()),
            }
        }
        if !missing.is_empty() {
            self.problems.push(format!(
                "Sparkplug: queued values of {} dropped: no longer birth metrics of that type: '{}'",
                entry.topic,
                missing.join("', '")
            ));
        }
        if metrics.is_empty() {
            self.discarded += 1;
            return None;
        }
        let payload = Payload {
            timestamp: Some(now),
            metrics,
            seq: Some(self.stamp()),
            ..Payload::default()
        };
        Some(qos0(topic, &payload))
    }
}

pub(super) fn qos0(topic: String, payload: &Payload) -> Publish {
    Publish::new(topic, QoS::AtMostOnce, payload.to_bytes())
}

fn bd_seq_metric(bd_seq: u8, now: u64) -> Metric {
    Metric {
        name: Some(BD_SEQ_METRIC.to_owned()),
        timestamp: Some(now),
        datatype: Some(data_type::INT64),
        value: Some(MetricValue::LongValue(u64::from(bd_seq))),
        ..Metric::default()
    }
}
