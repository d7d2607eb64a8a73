//! Session plugins: something that rides on a client's MQTT session and must
//! act at its boundaries, such as a Sparkplug B edge node
//! ([`crate::sparkplug::SparkplugNode`]). A client has at most one, attached
//! before `connect` with [`crate::Client::attach_plugin`].

use std::sync::mpsc::Sender;
use std::sync::Arc;

use rumqttc::{LastWill, Publish};

use crate::engine::Command;
use crate::shared::Shared;
use crate::store::StoreConfig;

/// Something that rides on a client's MQTT session and must act at its
/// boundaries (a Sparkplug B edge node). Called on the I/O thread only.
pub trait SessionPlugin: Send + 'static {
    /// Before each CONNECT: the will to send in it (None: the WILL* options' will).
    fn will(&mut self) -> Option<LastWill>;
    /// The broker accepted CONNECT and subscriptions were re-sent: what must
    /// go out first, before anything queued (NBIRTH, DBIRTHs).
    fn session_started(&mut self, out: &mut Vec<Publish>);
    /// The connection ended (lost or closed).
    fn session_ended(&mut self);
    /// A message arrived. Append what must be sent in answer to `out` (a
    /// Rebirth NCMD -> NBIRTH + DBIRTHs); return false to keep the message
    /// from the application (STATE messages of the primary host).
    fn incoming(&mut self, message: &Publish, out: &mut Vec<Publish>) -> bool;
    /// The session has room to send: the plugin's next message (NDATA/DDATA
    /// with `seq` stamped now, history marked is_historical), if one may go now.
    fn next_outgoing(&mut self) -> Option<Publish>;
}

/// What a plugin reaches its client by from the application's threads:
/// waking the I/O thread when it has something to send, and reporting
/// problems in `getLastError()` and the log.
#[derive(Clone)]
pub struct SessionLink {
    shared: Arc<Shared>,
    commands: Sender<Command>,
}

impl SessionLink {
    pub(crate) fn new(shared: Arc<Shared>, commands: Sender<Command>) -> SessionLink {
        SessionLink { shared, commands }
    }

    /// Makes the I/O thread ask the plugin for `next_outgoing` soon. Goes
    /// through the command channel, which the I/O thread checks after it
    /// announced its sleep, so a wake is never lost (see `Shared::wake`).
    pub fn wake(&self) {
        if self.commands.send(Command::PluginWake).is_ok() {
            self.shared.wake();
        }
    }

    /// Shows `text` in the client's `getLastError()` and logs it (warn).
    pub fn report(&self, text: String) {
        self.shared.report(text, None);
    }
}

/// The client's settings a plugin needs, read when it is attached.
#[derive(Debug, Clone)]
pub struct PluginContext {
    /// The client's store settings when STOREDIR is set (`client_id` is the MqttId).
    pub store: Option<StoreConfig>,
    pub clean_session: bool,
}
