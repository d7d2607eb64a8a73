//! [`NodeState`], the edge node as a value: its lifecycle and what happens at
//! the session's boundaries. The application's calls, the primary host and
//! the messages the node makes are further `impl NodeState` blocks in
//! `state/`.

use std::collections::VecDeque;

use rumqttc::{LastWill, Publish, QoS};

use crate::sparkplug::bdseq::BdSeqFile;
use crate::sparkplug::history::History;
use crate::sparkplug::metrics::{AliasCounter, MetricSet};
use crate::sparkplug::payload::{MetricValue, Payload};
use crate::sparkplug::topic::NodeTopics;
use crate::sparkplug::SparkplugError;

use super::REBIRTH_METRIC;
use messages::qos0;

mod calls;
mod host;
mod messages;

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
