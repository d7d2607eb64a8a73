//! [`SparkplugNode`]: a [`NodeState`] on a [`Client`]'s session, as the
//! client's [`SessionPlugin`]; the API the bindings wrap.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rumqttc::{LastWill, Publish};

use crate::client::Client;
use crate::client::SessionLink;
use crate::plugin::SessionPlugin;
use crate::sparkplug::bdseq::BdSeqFile;
use crate::sparkplug::history::History;
use crate::sparkplug::topic::NodeTopics;
use crate::sparkplug::value::Value;
use crate::sparkplug::{NodeError, SparkplugError};
use crate::store::Store;

use super::{epoch_millis_now, CommandValue, NodeState};

/// How long [`SparkplugNode::close`] waits for DDEATH and NDEATH to be
/// handed to a connected session.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

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
                let (store, recovery) = Store::open(config)?;
                if !recovery.damage.is_empty() {
                    problems.push(format!(
                        "Sparkplug queue store was damaged; the rest was recovered: {}",
                        recovery.damage.join("; ")
                    ));
                }
                let file = BdSeqFile::in_dir(store.dir());
                (History::durable(store, recovery.messages), Some(file))
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
