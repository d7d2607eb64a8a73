//! A plugin rides on a client's MQTT session and acts at its boundaries:
//! before each CONNECT, when the broker accepted it, when a message arrives,
//! when the window has room. A Sparkplug B edge node is one. All calls come
//! from the client's I/O thread.

use rumqttc::{LastWill, Publish};

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
