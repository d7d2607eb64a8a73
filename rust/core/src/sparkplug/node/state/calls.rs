//! The application's calls on a [`NodeState`]: metric definitions,
//! readings, and the commands a host sent.

use super::{Device, NodeState, Ready};
use crate::sparkplug::metrics::MetricSet;
use crate::sparkplug::node::{CommandValue, REBIRTH_METRIC, RESERVED_NODE_METRICS};
use crate::sparkplug::payload::{data_type, Metric, Payload};
use crate::sparkplug::topic::{validate_id, Target};
use crate::sparkplug::value::Value;
use crate::sparkplug::{NodeError, SparkplugError};

impl NodeState {
    /// The node's metrics with their current values; a new birth follows
    /// when connected and the names or datatypes changed.
    pub fn set_node_metrics(
        &mut self,
        metrics: Vec<(String, Option<Value>)>,
        now: u64,
    ) -> Result<(), SparkplugError> {
        self.check_running()?;
        let owner = self.node_owner();
        let changed = self.node.define(
            &owner,
            metrics,
            now,
            RESERVED_NODE_METRICS,
            &mut self.aliases,
        )?;
        if changed && self.born {
            self.ready.push_back(Ready::FullBirth);
        }
        Ok(())
    }

    /// A device's metrics; its DBIRTH follows at once when born.
    pub fn set_device_metrics(
        &mut self,
        device_id: &str,
        metrics: Vec<(String, Option<Value>)>,
        now: u64,
    ) -> Result<(), SparkplugError> {
        self.check_running()?;
        validate_id("device id", device_id)?;
        let owner = format!("device '{device_id}'");
        let index = match self.devices.iter().position(|d| d.id == device_id) {
            Some(index) => index,
            None => {
                self.devices.push(Device {
                    id: device_id.to_owned(),
                    metrics: MetricSet::default(),
                    dbirth: self.topics.device("DBIRTH", device_id),
                    ddata: self.topics.device("DDATA", device_id),
                    ddeath: self.topics.device("DDEATH", device_id),
                });
                self.devices.len() - 1
            }
        };
        let defined =
            self.devices[index]
                .metrics
                .define(&owner, metrics, now, &[], &mut self.aliases);
        if let Err(e) = defined {
            if self.devices[index].metrics.len() == 0 {
                self.devices.remove(index);
            }
            return Err(e);
        }
        let queued = self.ready.iter().any(|r| {
            matches!(r, Ready::FullBirth) || matches!(r, Ready::DeviceBirth(d) if d == device_id)
        });
        if self.born && !queued {
            self.ready
                .push_back(Ready::DeviceBirth(device_id.to_owned()));
        }
        Ok(())
    }

    /// Records NDATA; sent at once when born, else after the next births as history.
    pub fn publish_node_data(
        &mut self,
        metrics: Vec<(String, Option<Value>)>,
        epoch_millis: u64,
    ) -> Result<(), NodeError> {
        self.check_running()?;
        let owner = self.node_owner();
        let payload = unstamped(&owner, "setNodeMetrics", &self.node, &metrics, epoch_millis)?;
        let generation = self.born.then_some(self.generation);
        self.history
            .push(self.topics.ndata.clone(), payload.to_bytes(), generation)?;
        for (name, value) in metrics {
            self.node.update(&name, value, epoch_millis);
        }
        Ok(())
    }

    /// Records DDATA for a declared device.
    pub fn publish_device_data(
        &mut self,
        device_id: &str,
        metrics: Vec<(String, Option<Value>)>,
        epoch_millis: u64,
    ) -> Result<(), NodeError> {
        self.check_running()?;
        let generation = self.born.then_some(self.generation);
        let Some(device) = self.devices.iter_mut().find(|d| d.id == device_id) else {
            return Err(SparkplugError::UnknownDevice {
                device: device_id.to_owned(),
            }
            .into());
        };
        let owner = format!("device '{device_id}'");
        let payload = unstamped(
            &owner,
            "setDeviceMetrics",
            &device.metrics,
            &metrics,
            epoch_millis,
        )?;
        self.history
            .push(device.ddata.clone(), payload.to_bytes(), generation)?;
        for (name, value) in metrics {
            device.metrics.update(&name, value, epoch_millis);
        }
        Ok(())
    }

    /// The metrics an NCMD or DCMD of this node writes; `None` for other topics.
    pub fn decode_command(
        &self,
        topic: &str,
        payload: &[u8],
    ) -> Result<Option<Vec<CommandValue>>, SparkplugError> {
        let Some(target) = self.topics.command_target(topic) else {
            return Ok(None);
        };
        let decoded = Payload::from_bytes(payload).map_err(|e| SparkplugError::InvalidPayload {
            topic: topic.to_owned(),
            reason: e.to_string(),
        })?;
        let (set, owner, prefix) = match target {
            Target::Node => (Some(&self.node), self.node_owner(), String::new()),
            Target::Device(id) => (
                self.devices.iter().find(|d| d.id == id).map(|d| &d.metrics),
                format!("device '{id}'"),
                format!("{id}/"),
            ),
        };
        let mut commands = Vec::with_capacity(decoded.metrics.len());
        for (index, metric) in decoded.metrics.iter().enumerate() {
            let def = match (&metric.name, metric.alias) {
                (Some(name), _) => set.and_then(|s| s.get(name)),
                (None, Some(alias)) => {
                    Some(set.and_then(|s| s.by_alias(alias)).ok_or_else(|| {
                        SparkplugError::UnknownCommandAlias {
                            topic: topic.to_owned(),
                            alias,
                            owner: owner.clone(),
                        }
                    })?)
                }
                (None, None) => {
                    return Err(SparkplugError::UnnamedCommandMetric {
                        topic: topic.to_owned(),
                        what: format!("{}", index + 1),
                    })
                }
            };
            let name = match (&metric.name, def) {
                (Some(name), _) => name.clone(),
                (None, Some(def)) => def.name.clone(),
                (None, None) => continue,
            };
            if target == Target::Node && name == REBIRTH_METRIC {
                // Answered by the node itself (see `incoming`).
                continue;
            }
            let datatype = metric
                .datatype
                .filter(|&t| t != data_type::UNKNOWN)
                .or(def.map(|d| d.data_type.code()))
                .unwrap_or(data_type::UNKNOWN);
            let value = if metric.is_null == Some(true) || metric.value.is_none() {
                None
            } else {
                let converted = metric
                    .value
                    .as_ref()
                    .and_then(|v| Value::from_wire(datatype, v));
                if converted.is_none() {
                    return Err(SparkplugError::UnsupportedCommandType {
                        topic: topic.to_owned(),
                        name,
                        datatype,
                    });
                }
                converted
            };
            commands.push(CommandValue {
                name: format!("{prefix}{name}"),
                value,
                timestamp: metric.timestamp.or(decoded.timestamp),
            });
        }
        Ok(Some(commands))
    }
}

/// The payload stored for a reading: names, datatypes, values and times.
fn unstamped(
    owner: &str,
    declare: &'static str,
    set: &MetricSet,
    metrics: &[(String, Option<Value>)],
    epoch_millis: u64,
) -> Result<Payload, SparkplugError> {
    if metrics.is_empty() {
        return Err(SparkplugError::NoMetrics);
    }
    let mut recorded = Vec::with_capacity(metrics.len());
    for (index, (name, value)) in metrics.iter().enumerate() {
        if metrics[..index].iter().any(|(earlier, _)| earlier == name) {
            return Err(SparkplugError::DuplicateMetric { name: name.clone() });
        }
        let def = set.check(owner, declare, name, value.as_ref())?;
        recorded.push(Metric {
            name: Some(name.clone()),
            timestamp: Some(epoch_millis),
            datatype: Some(def.data_type.code()),
            is_null: value.is_none().then_some(true),
            value: value.as_ref().map(Value::to_wire),
            ..Metric::default()
        });
    }
    Ok(Payload {
        metrics: recorded,
        ..Payload::default()
    })
}
