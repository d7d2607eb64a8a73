//! Session plugins: something that rides on a client's MQTT session and must
//! act at its boundaries, such as a Sparkplug B edge node. A client has at
//! most one, attached before `connect` with `Client::attach_plugin`; it
//! reaches its client from the application's threads through a
//! `client::SessionLink`.

use rumqttc::{LastWill, Publish};

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

/// The client's settings a plugin needs, read when it is attached.
#[derive(Debug, Clone)]
pub struct PluginContext {
    /// The client's store settings when STOREDIR is set (`client_id` is the MqttId).
    pub store: Option<StoreConfig>,
    pub clean_session: bool,
}
