//! The edge node: [`NodeState`], the Sparkplug state machine without I/O or
//! clock (the caller passes the time), and [`SparkplugNode`], which puts it
//! on a [`Client`]'s session as a [`SessionPlugin`].
//!
//! The rules it follows, from the Sparkplug 3.0 specification:
//! - every CONNECT carries NDEATH as its will (QoS 1, not retained) with a
//!   bdSeq one higher than the CONNECT before, 255 wrapping to 0, kept
//!   across restarts with STOREDIR (tck-id-topics-nbirth-bdseq-increment,
//!   tck-id-payloads-ndeath-will-message-qos/-retain);
//! - once the session is up (and the primary host, if one is set, is
//!   online), NBIRTH with `seq` 0, that bdSeq, `Node Control/Rebirth` =
//!   false and every node metric with name, alias, datatype, value and
//!   timestamp; then one DBIRTH per device; then DATA, `seq` one higher each
//!   message, 255 wrapping to 0 (tck-id-topics-nbirth-seq-num,
//!   tck-id-payloads-dbirth-order, tck-id-payloads-ndata-seq-inc);
//! - `seq` is stamped when a message is handed to the session, so births
//!   always come first and `seq` has no gap;
//! - DATA carries aliases, not names (tck-id-payloads-alias-data-cmd-requirement);
//!   data recorded under another birth (offline, before a Rebirth, in an
//!   earlier run) goes out after the births marked `is_historical`;
//! - a Rebirth NCMD is answered at once with NBIRTH and DBIRTHs carrying the
//!   current values and the same bdSeq (tck-id-operational-behavior-data-commands-rebirth-action-*);
//! - with a primary host, births wait for `spBv1.0/STATE/<host>` to say
//!   online, and an offline STATE (not older than the last online one) is
//!   answered with NDEATH and a pause until the host is back
//!   (tck-id-message-flow-edge-node-birth-publish-phid-wait-*).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rumqttc::{LastWill, Publish, QoS};

use crate::client::Client;
use crate::client::SessionLink;
use crate::plugin::SessionPlugin;
use crate::store::Store;

use super::bdseq::BdSeqFile;
use super::history::{Entry, History};
use super::metrics::{AliasCounter, MetricSet};
use super::payload::{data_type, Metric, MetricValue, Payload};
use super::topic::{state_topic, validate_id, NodeTopics, Target};
use super::value::Value;
use super::{NodeError, SparkplugError};

/// The metric that carries the bdSeq in NBIRTH and NDEATH.
pub const BD_SEQ_METRIC: &str = "bdSeq";
/// The metric a host writes `true` to for a new birth sequence.
pub const REBIRTH_METRIC: &str = "Node Control/Rebirth";
const RESERVED_NODE_METRICS: &[&str] = &[BD_SEQ_METRIC, REBIRTH_METRIC];

/// How long [`SparkplugNode::close`] waits for DDEATH and NDEATH to be
/// handed to a connected session.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// A metric written by an NCMD or DCMD, for the application.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandValue {
    /// The metric name; `device/metric` for a DCMD.
    pub name: String,
    /// `None` when the command writes a null.
    pub value: Option<Value>,
    /// The metric's timestamp, else the payload's (epoch ms).
    pub timestamp: Option<u64>,
}

#[derive(Debug)]
struct Device {
    id: String,
    metrics: MetricSet,
    dbirth: String,
    ddata: String,
    ddeath: String,
}

/// The primary host the node waits for.
#[derive(Debug)]
struct PrimaryHost {
    topic: String,
    /// Online as far as this session knows; reset at every CONNACK, since
    /// the node must see it online in each session.
    online: bool,
    /// Timestamp of the latest STATE accepted, online or offline.
    last_timestamp: Option<u64>,
    /// Timestamp of the latest online STATE accepted.
    last_online_timestamp: Option<u64>,
}

/// What goes out before any DATA, in order.
#[derive(Debug)]
enum Ready {
    /// The node's definition changed while born: NBIRTH and every DBIRTH.
    FullBirth,
    DeviceBirth(String),
    /// Part of a birth sequence already numbered.
    Stamped(Publish),
    DeviceDeath(String),
    NodeDeath,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// close() was called: only DDEATH and NDEATH go out now.
    Closing,
    Closed,
}

/// The edge node as a value: births, deaths, bdSeq, `seq`, aliases, the
/// primary host and the queue of recorded data. Every method takes the
/// current time; none does network I/O (the queue's store does file I/O).
#[derive(Debug)]
pub struct NodeState {
    topics: NodeTopics,
    node: MetricSet,
    devices: Vec<Device>,
    aliases: AliasCounter,
    /// The bdSeq in the will of the latest CONNECT (of an earlier run, too).
    bd_seq: Option<u8>,
    /// Whether a CONNECT was made in this run.
    connected_once: bool,
    bd_seq_file: Option<BdSeqFile>,
    /// The next `seq` to stamp.
    seq: u8,
    connected: bool,
    born: bool,
    /// Counts births; data recorded under another birth is history.
    generation: u64,
    host: Option<PrimaryHost>,
    history: History,
    /// Queued entries dropped when sent because the metric or device no
    /// longer exists (recorded by an earlier run).
    discarded: u64,
    ready: VecDeque<Ready>,
    phase: Phase,
    /// Things the caller should report (getLastError, the log).
    problems: Vec<String>,
}

impl NodeState {
    pub fn new(topics: NodeTopics, history: History, bd_seq_file: Option<BdSeqFile>) -> NodeState {
        let mut problems = Vec::new();
        let bd_seq = match bd_seq_file.as_ref().map(BdSeqFile::load) {
            Some(Ok(stored)) => stored,
            Some(Err(problem)) => {
                problems.push(problem);
                None
            }
            None => None,
        };
        NodeState {
            topics,
            node: MetricSet::default(),
            devices: Vec::new(),
            aliases: AliasCounter::default(),
            bd_seq,
            connected_once: false,
            bd_seq_file,
            seq: 0,
            connected: false,
            born: false,
            generation: 0,
            host: None,
            history,
            discarded: 0,
            ready: VecDeque::new(),
            phase: Phase::Running,
            problems,
        }
    }

    pub fn topics(&self) -> &NodeTopics {
        &self.topics
    }

    /// The bdSeq of the current session's will and NBIRTH; before the first
    /// CONNECT of this run, the one that CONNECT will carry.
    pub fn bd_seq(&self) -> u8 {
        match (self.connected_once, self.bd_seq) {
            (true, Some(current)) => current,
            (false, Some(previous_run)) => previous_run.wrapping_add(1),
            (_, None) => 0,
        }
    }

    /// Recorded readings not yet handed to the session.
    pub fn queued(&self) -> usize {
        self.history.len()
    }

    /// Readings dropped: by the store (STOREFULL dropoldest) and, when sent,
    /// those recorded by an earlier run for metrics that no longer exist.
    pub fn dropped(&self) -> u64 {
        self.history.dropped() + self.discarded
    }

    pub fn is_born(&self) -> bool {
        self.born
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    pub fn take_problems(&mut self) -> Vec<String> {
        std::mem::take(&mut self.problems)
    }

    // ----- the session's boundaries (SessionPlugin) -----

    /// Before each CONNECT: NDEATH with the next bdSeq, stored first.
    pub fn will(&mut self, now: u64) -> Option<LastWill> {
        if self.phase == Phase::Closed {
            return None;
        }
        let next = self.bd_seq.map_or(0, |last| last.wrapping_add(1));
        if let Some(file) = &self.bd_seq_file {
            if let Err(problem) = file.save(next) {
                self.problems.push(problem);
            }
        }
        self.bd_seq = Some(next);
        self.connected_once = true;
        let payload = self.ndeath_payload(next, now);
        Some(LastWill::new(
            self.topics.ndeath.clone(),
            payload.to_bytes(),
            QoS::AtLeastOnce,
            false,
        ))
    }

    /// The broker accepted CONNECT: births now, unless a primary host must
    /// first say it is online.
    pub fn session_started(&mut self, now: u64, out: &mut Vec<Publish>) {
        self.connected = true;
        self.born = false;
        self.ready.clear();
        if let Some(host) = &mut self.host {
            host.online = false;
        }
        if self.phase == Phase::Running {
            self.birth_if_allowed(now, out);
        }
    }

    pub fn session_ended(&mut self) {
        self.connected = false;
        self.born = false;
        // Births, deaths and numbered messages belong to the session that
        // ended; the next one makes its own.
        self.ready.clear();
    }

    /// A message arrived; returns whether the application should see it.
    pub fn incoming(&mut self, message: &Publish, now: u64, out: &mut Vec<Publish>) -> bool {
        if self.phase != Phase::Running {
            return true;
        }
        if self.host.as_ref().is_some_and(|h| h.topic == message.topic) {
            self.on_state(&message.payload, now, out);
            return false;
        }
        // Births wait for the primary host: a Rebirth while it is offline
        // is answered by the births that follow its online STATE.
        if message.topic == self.topics.ncmd
            && self.connected
            && self.host_allows_births()
            && wants_rebirth(&message.payload)
        {
            self.births(now, out);
        }
        true
    }

    /// The session has room: the next message, `seq` stamped now.
    pub fn next_outgoing(&mut self, now: u64) -> Option<Publish> {
        if !self.connected {
            return None;
        }
        if let Some(failure) = self.history.maintain() {
            self.problems.push(failure.to_string());
        }
        loop {
            if let Some(ready) = self.ready.pop_front() {
                match ready {
                    Ready::FullBirth if self.born => {
                        let mut births = Vec::new();
                        self.births(now, &mut births);
                        let mut births = births.into_iter();
                        let first = births.next();
                        for (i, publish) in births.enumerate() {
                            self.ready.insert(i, Ready::Stamped(publish));
                        }
                        return first;
                    }
                    Ready::DeviceBirth(id) if self.born => {
                        if let Some(index) = self.devices.iter().position(|d| d.id == id) {
                            return Some(self.dbirth(index, now));
                        }
                    }
                    Ready::Stamped(publish) if self.born => return Some(publish),
                    Ready::DeviceDeath(id) => {
                        if let Some(device) = self.devices.iter().find(|d| d.id == id) {
                            let topic = device.ddeath.clone();
                            let payload = Payload {
                                timestamp: Some(now),
                                seq: Some(self.stamp()),
                                ..Payload::default()
                            };
                            return Some(qos0(topic, &payload));
                        }
                    }
                    Ready::NodeDeath => {
                        let bd_seq = self.bd_seq();
                        let payload = self.ndeath_payload(bd_seq, now);
                        return Some(qos0(self.topics.ndeath.clone(), &payload));
                    }
                    // Births while not born: overtaken by the next session's.
                    _ => {}
                }
                continue;
            }
            if !self.born || self.phase != Phase::Running {
                return None;
            }
            let (entry, failure) = self.history.pop()?;
            if let Some(failure) = failure {
                self.problems.push(failure.to_string());
            }
            if let Some(publish) = self.data_message(entry, now) {
                return Some(publish);
            }
        }
    }

    /// Whether a message waits for [`NodeState::next_outgoing`] now.
    pub fn has_outgoing(&self) -> bool {
        self.connected
            && (!self.ready.is_empty()
                || (self.born && self.phase == Phase::Running && !self.history.is_empty()))
    }

    // ----- the application's calls -----

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

    /// close(): DDEATHs (when born) and NDEATH (when connected) go out
    /// next, ahead of queued data, which stays queued (in the store with
    /// STOREDIR). Returns false when already closing or closed.
    pub fn begin_close(&mut self) -> bool {
        if self.phase != Phase::Running {
            return false;
        }
        self.phase = Phase::Closing;
        self.ready.clear();
        if self.connected {
            if self.born {
                for device in &self.devices {
                    self.ready.push_back(Ready::DeviceDeath(device.id.clone()));
                }
            }
            self.ready.push_back(Ready::NodeDeath);
        }
        true
    }

    /// Whether close() must still wait for DDEATH/NDEATH to be handed out.
    pub fn close_pending(&self) -> bool {
        self.phase == Phase::Closing && self.connected && !self.ready.is_empty()
    }

    /// Ends the node: nothing more is sent or recorded; the store is synced
    /// and released.
    pub fn finish_close(&mut self) -> Result<(), crate::store::StoreError> {
        self.phase = Phase::Closed;
        self.born = false;
        self.ready.clear();
        self.history.close()
    }

    // ----- internals -----

    fn check_running(&self) -> Result<(), SparkplugError> {
        match self.phase {
            Phase::Running => Ok(()),
            Phase::Closing | Phase::Closed => Err(SparkplugError::Closed),
        }
    }

    fn node_owner(&self) -> String {
        format!("edge node '{}'", self.topics.edge_node_id)
    }

    fn host_allows_births(&self) -> bool {
        self.host.as_ref().is_none_or(|h| h.online)
    }

    fn birth_if_allowed(&mut self, now: u64, out: &mut Vec<Publish>) {
        if self.connected && !self.born && self.host_allows_births() {
            self.births(now, out);
        }
    }

    /// NBIRTH (`seq` 0) and every DBIRTH, numbered in order. Anything
    /// recorded before is history from now on.
    fn births(&mut self, now: u64, out: &mut Vec<Publish>) {
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

    fn dbirth(&mut self, index: usize, now: u64) -> Publish {
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

    fn ndeath_payload(&self, bd_seq: u8, now: u64) -> Payload {
        // No seq in NDEATH (tck-id-topics-ndeath-seq).
        Payload {
            timestamp: Some(now),
            metrics: vec![bd_seq_metric(bd_seq, now)],
            ..Payload::default()
        }
    }

    fn stamp(&mut self) -> u64 {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        u64::from(seq)
    }

    /// A queued entry as NDATA/DDATA of the current birth: aliases instead
    /// of names, `is_historical` unless recorded under this birth.
    fn data_message(&mut self, entry: Entry, now: u64) -> Option<Publish> {
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

    fn on_state(&mut self, payload: &[u8], now: u64, out: &mut Vec<Publish>) {
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

fn qos0(topic: String, payload: &Payload) -> Publish {
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

/// Whether an NCMD asks for a rebirth: `Node Control/Rebirth` = true.
fn wants_rebirth(payload: &[u8]) -> bool {
    Payload::from_bytes(payload).is_ok_and(|p| {
        p.metrics.iter().any(|m| {
            m.name.as_deref() == Some(REBIRTH_METRIC)
                && m.value == Some(MetricValue::BooleanValue(true))
        })
    })
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

/// The current time in epoch milliseconds.
pub fn epoch_millis_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

// ----- on a client -----

struct NodeShared {
    state: Mutex<NodeState>,
    /// Signalled when messages were handed out or the session ended.
    progress: Condvar,
}

impl NodeShared {
    fn lock(&self) -> MutexGuard<'_, NodeState> {
        // The state stays consistent between statements: a panic elsewhere
        // must not make the node unusable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A Sparkplug B edge node on a [`Client`]: the API the bindings wrap.
/// Create it before [`Client::connect`].
pub struct SparkplugNode {
    shared: Arc<NodeShared>,
    link: SessionLink,
}

impl SparkplugNode {
    /// Makes `client` the MQTT session of edge node `group_id`/`edge_node_id`:
    /// its will becomes NDEATH, and it subscribes to the node's NCMD and
    /// DCMD topics at QoS 1. With STOREDIR set on the client (set it first),
    /// recorded data and the bdSeq are kept in `<STOREDIR>/<MqttId>#sparkplug`.
    pub fn attach(
        client: &Client,
        group_id: &str,
        edge_node_id: &str,
    ) -> Result<SparkplugNode, NodeError> {
        let topics = NodeTopics::new(group_id, edge_node_id)?;
        let context = client.plugin_context()?;
        if !context.clean_session {
            return Err(SparkplugError::NeedsCleanSession.into());
        }
        let mut problems = Vec::new();
        let (history, bd_seq_file) = match context.store {
            Some(mut config) => {
                config.client_id = format!("{}#sparkplug", config.client_id);
                let sync = config.sync;
                let (store, recovery) = Store::open(config)?;
                if !recovery.damage.is_empty() {
                    problems.push(format!(
                        "Sparkplug queue store was damaged; the rest was recovered: {}",
                        recovery.damage.join("; ")
                    ));
                }
                let file = BdSeqFile::in_dir(store.dir());
                (History::durable(store, sync, recovery.messages), Some(file))
            }
            None => (History::in_memory(), None),
        };
        let ncmd = topics.ncmd.clone();
        let dcmd = topics.dcmd_filter.clone();
        let mut state = NodeState::new(topics, history, bd_seq_file);
        problems.extend(state.take_problems());
        let shared = Arc::new(NodeShared {
            state: Mutex::new(state),
            progress: Condvar::new(),
        });
        let link = client.session_link();
        client.attach_plugin(Box::new(NodePlugin {
            shared: shared.clone(),
            link: link.clone(),
        }))?;
        client.subscribe(&ncmd, 1)?;
        client.subscribe(&dcmd, 1)?;
        for problem in problems {
            link.report(problem);
        }
        Ok(SparkplugNode { shared, link })
    }

    pub fn set_node_metrics(&self, metrics: Vec<(String, Option<Value>)>) -> Result<(), NodeError> {
        self.call(|state| Ok(state.set_node_metrics(metrics, epoch_millis_now())?))
    }

    pub fn set_device_metrics(
        &self,
        device_id: &str,
        metrics: Vec<(String, Option<Value>)>,
    ) -> Result<(), NodeError> {
        self.call(|state| Ok(state.set_device_metrics(device_id, metrics, epoch_millis_now())?))
    }

    /// `epoch_millis` is when the values were read; negative is refused.
    pub fn publish_node_data(
        &self,
        metrics: Vec<(String, Option<Value>)>,
        epoch_millis: i64,
    ) -> Result<(), NodeError> {
        let time = reading_time(epoch_millis)?;
        self.call(|state| state.publish_node_data(metrics, time))
    }

    pub fn publish_device_data(
        &self,
        device_id: &str,
        metrics: Vec<(String, Option<Value>)>,
        epoch_millis: i64,
    ) -> Result<(), NodeError> {
        let time = reading_time(epoch_millis)?;
        self.call(|state| state.publish_device_data(device_id, metrics, time))
    }

    /// Births wait for `spBv1.0/STATE/<host_id>` to say online; `client`
    /// (this node's) subscribes to that topic.
    pub fn set_primary_host(&self, client: &Client, host_id: &str) -> Result<(), NodeError> {
        let topic = self.call(|state| Ok(state.set_primary_host(host_id)?))?;
        Ok(client.subscribe(&topic, 1)?)
    }

    pub fn decode_command(
        &self,
        topic: &str,
        payload: &[u8],
    ) -> Result<Option<Vec<CommandValue>>, NodeError> {
        Ok(self.shared.lock().decode_command(topic, payload)?)
    }

    pub fn bd_seq(&self) -> u8 {
        self.shared.lock().bd_seq()
    }

    pub fn queued_count(&self) -> usize {
        self.shared.lock().queued()
    }

    pub fn dropped_count(&self) -> u64 {
        self.shared.lock().dropped()
    }

    /// Publishes DDEATH for each device and NDEATH (waiting up to 5 s for a
    /// connected session to take them), then stops. Queued readings stay in
    /// the store (STOREDIR) for the next run. The client stays open.
    /// Calling it again does nothing.
    pub fn close(&self) -> Result<(), NodeError> {
        let mut state = self.shared.lock();
        if !state.begin_close() {
            return Ok(());
        }
        let deadline = Instant::now() + CLOSE_WAIT;
        if state.close_pending() {
            drop(state);
            self.link.wake();
            state = self.shared.lock();
            while state.close_pending() {
                let now = Instant::now();
                if now >= deadline {
                    self.link.report(
                        "Sparkplug: close() gave up waiting for DDEATH/NDEATH to be sent after 5 s"
                            .to_owned(),
                    );
                    break;
                }
                state = self
                    .shared
                    .progress
                    .wait_timeout(state, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        let closed = state.finish_close();
        self.report(&mut state);
        Ok(closed?)
    }

    fn call<T>(
        &self,
        action: impl FnOnce(&mut NodeState) -> Result<T, NodeError>,
    ) -> Result<T, NodeError> {
        let mut state = self.shared.lock();
        let result = action(&mut state);
        let wake = state.has_outgoing();
        self.report(&mut state);
        drop(state);
        if wake {
            self.link.wake();
        }
        result
    }

    fn report(&self, state: &mut NodeState) {
        for problem in state.take_problems() {
            self.link.report(problem);
        }
    }
}

fn reading_time(epoch_millis: i64) -> Result<u64, NodeError> {
    u64::try_from(epoch_millis).map_err(|_| SparkplugError::InvalidTime { epoch_millis }.into())
}

/// The node as its client's session plugin, called on the I/O thread.
struct NodePlugin {
    shared: Arc<NodeShared>,
    link: SessionLink,
}

impl NodePlugin {
    fn with<T>(&self, action: impl FnOnce(&mut NodeState) -> T) -> T {
        let mut state = self.shared.lock();
        let result = action(&mut state);
        for problem in state.take_problems() {
            self.link.report(problem);
        }
        result
    }
}

impl SessionPlugin for NodePlugin {
    fn will(&mut self) -> Option<LastWill> {
        self.with(|state| state.will(epoch_millis_now()))
    }

    fn session_started(&mut self, out: &mut Vec<Publish>) {
        self.with(|state| state.session_started(epoch_millis_now(), out));
    }

    fn session_ended(&mut self) {
        self.with(NodeState::session_ended);
        self.shared.progress.notify_all();
    }

    fn incoming(&mut self, message: &Publish, out: &mut Vec<Publish>) -> bool {
        self.with(|state| state.incoming(message, epoch_millis_now(), out))
    }

    fn next_outgoing(&mut self) -> Option<Publish> {
        let next = self.with(|state| state.next_outgoing(epoch_millis_now()));
        if next.is_some() {
            self.shared.progress.notify_all();
        }
        next
    }
}

impl Drop for NodePlugin {
    /// The client is closed: release the store, so a new client with the
    /// same STOREDIR and MqttId can open it.
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.begin_close();
        if let Err(e) = state.finish_close() {
            self.link.report(e.to_string());
        }
        drop(state);
        self.shared.progress.notify_all();
    }
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
