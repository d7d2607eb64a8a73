//! The client API that the JNI and C bindings wrap. Calls never block on the
//! network: they validate, queue and wake the client's I/O thread.
//!
//! Life of a client, the same for every binding: created; configured
//! (`set_option`, `set_event_sink`, `attach_plugin`); `connect` starts the
//! I/O thread ([`crate::engine`]) and the event thread ([`crate::events`]);
//! `close` stops both and is final (calls then fail with
//! [`Error::Closed`], except the read-only ones: status, last error and
//! the counts still answer).

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use bytes::Bytes;
use rumqttc::{Publish, QoS};

use crate::boundary::panic_message;
use crate::engine::{Command, Engine, WAKER};
use crate::error::Error;
use crate::events::{Event, EventSink};
use crate::log::log;
use crate::message::{qos_from_u8, Message, Outgoing};
use crate::options::Options;
use crate::plugin::{PluginContext, SessionPlugin};
use crate::shared::{lock, Settings, Shared, OFFLINE_QUEUE_LIMIT};
use crate::status::ConnectionStatus;
use crate::store::{Store, StoredMessage};
use crate::tagjson::{self, TagValue};
use crate::topic::{check_mqtt_string, check_publish, validate_filter};
use crate::transport::Connector;

/// What only configuration, `connect` and `close` touch.
struct Control {
    options: Option<Options>,
    sink: Option<Box<dyn EventSink>>,
    plugin: Option<Box<dyn SessionPlugin>>,
    commands: Option<Receiver<Command>>,
    io_thread: Option<JoinHandle<()>>,
}

/// An MQTT client: the engine behind the Java `MqttClient` and the C
/// `etkmqtt_client`.
pub struct Client {
    shared: Arc<Shared>,
    commands: Sender<Command>,
    control: Mutex<Control>,
    /// The event thread. Held locked while it is joined, so that every
    /// close() but the event thread's own returns only once no callback runs.
    event_thread: Mutex<Option<JoinHandle<()>>>,
}

impl Client {
    /// Creates a client; nothing happens on the network until [`Client::connect`].
    pub fn new(client_id: &str, host: &str) -> Result<Client, Error> {
        if client_id.len() > 65535 {
            return Err(Error::InvalidClientId(format!(
                "{} bytes long; MQTT allows at most 65535",
                client_id.len()
            )));
        }
        // Mosquitto closes the connection on these characters in a client id.
        check_mqtt_string("the client id", client_id).map_err(Error::InvalidClientId)?;
        let host = normalize_host(host)?;
        let options = Options::default();
        let (commands, receiver) = mpsc::channel();
        let settings = Settings {
            queue_limit: queue_limit(&options).into(),
            publish_wait_millis: millis(&options).into(),
            tag_time_offset_minutes: options.tag_time_offset_minutes.into(),
            store_configured: false.into(),
            max_payload: options.max_payload.into(),
        };
        Ok(Client {
            shared: Arc::new(Shared::new(client_id, host, settings)),
            commands,
            control: Mutex::new(Control {
                options: Some(options),
                sink: None,
                plugin: None,
                commands: Some(receiver),
                io_thread: None,
            }),
            event_thread: Mutex::new(None),
        })
    }

    /// Runs `change` on the options; only before `connect`.
    fn configure<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut Control) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut control = lock(&self.control);
        if self.shared.closing() {
            return Err(Error::Closed);
        }
        if control.options.is_none() {
            return Err(Error::OptionAfterConnect {
                name: name.to_owned(),
            });
        }
        change(&mut control)
    }

    /// Sets an option (see [`Options::set`]); only before `connect`.
    pub fn set_option(&self, name: &str, value: &str) -> Result<(), Error> {
        self.configure(name, |control| {
            // The plugin read these when it was attached (its store, its session).
            let upper = name.to_ascii_uppercase();
            const READ_BY_PLUGIN: [&str; 5] = [
                "STOREDIR",
                "STORESYNC",
                "STOREMAXBYTES",
                "STOREFULL",
                "CLEANSESSION",
            ];
            if control.plugin.is_some() && READ_BY_PLUGIN.contains(&upper.as_str()) {
                return Err(Error::OptionAfterPlugin { name: upper });
            }
            let Some(options) = control.options.as_mut() else {
                return Err(Error::AlreadyConnected);
            };
            options.set(name, value)?;
            let settings = &self.shared.settings;
            settings
                .queue_limit
                .store(queue_limit(options), Ordering::Relaxed);
            settings
                .store_configured
                .store(options.store_dir.is_some(), Ordering::Relaxed);
            settings
                .publish_wait_millis
                .store(millis(options), Ordering::Relaxed);
            settings
                .tag_time_offset_minutes
                .store(options.tag_time_offset_minutes, Ordering::Relaxed);
            settings
                .max_payload
                .store(options.max_payload, Ordering::Relaxed);
            self.shared.log.set_level(options.log_level);
            log!(
                self.shared.log,
                Debug,
                "option {} set",
                name.to_ascii_uppercase()
            );
            Ok(())
        })
    }

    /// Sets who hears of status changes and arrived messages; only before
    /// `connect`. Without one, events are not reported.
    pub fn set_event_sink(&self, sink: Option<Box<dyn EventSink>>) -> Result<(), Error> {
        self.configure("event callback", |control| {
            control.sink = sink;
            Ok(())
        })
        .map_err(already_connected)
    }

    /// Attaches the session plugin (a Sparkplug node); only before
    /// `connect`, and only one per client.
    pub fn attach_plugin(&self, plugin: Box<dyn SessionPlugin>) -> Result<(), Error> {
        self.configure("plugin", |control| {
            if control.plugin.is_some() {
                return Err(Error::PluginAlreadyAttached);
            }
            control.plugin = Some(plugin);
            Ok(())
        })
        .map_err(|e| match e {
            Error::OptionAfterConnect { .. } => Error::PluginAfterConnect,
            other => other,
        })
    }

    /// The client's settings a plugin reads when it is attached; only before `connect`.
    pub fn plugin_context(&self) -> Result<PluginContext, Error> {
        let control = lock(&self.control);
        if self.shared.closing() {
            return Err(Error::Closed);
        }
        let options = control.options.as_ref().ok_or(Error::PluginAfterConnect)?;
        Ok(PluginContext {
            store: options.store_config(&self.shared.client_id),
            clean_session: options.clean_session,
        })
    }

    /// How a plugin wakes this client's I/O thread and reports problems.
    pub fn session_link(&self) -> SessionLink {
        SessionLink::new(self.shared.clone(), self.commands.clone())
    }

    /// Checks the options, reads the TLS files, opens the store, starts the
    /// I/O and event threads and returns; connecting happens in the
    /// background and is reported by status events.
    pub fn connect(&self) -> Result<(), Error> {
        let mut control = lock(&self.control);
        self.shared.check_running()?;
        let options = control.options.as_ref().ok_or(Error::AlreadyConnected)?;
        options.validate()?;
        // Files are read here, so that a missing or unusable one is the
        // caller's error, not a reconnect loop.
        let connector = Connector::from_options(options).map_err(Error::Configuration)?;
        self.open_store(&control)?;
        let thread_error = |what: &'static str| {
            move |e: std::io::Error| Error::Thread {
                what,
                reason: e.to_string(),
            }
        };
        let poll = mio::Poll::new().map_err(thread_error("I/O"))?;
        let waker = mio::Waker::new(poll.registry(), WAKER).map_err(thread_error("I/O"))?;
        let (Some(options), Some(commands)) = (control.options.take(), control.commands.take())
        else {
            return Err(Error::AlreadyConnected);
        };
        // Set once: connect() runs once per client.
        let _ = self.shared.waker.set(waker);
        if let Some(sink) = control.sink.take() {
            let (events, receiver) = mpsc::channel();
            self.shared.set_event_channel(Some(events));
            *lock(&self.event_thread) = Some(
                spawn_event_thread(self.shared.clone(), sink, receiver)
                    .map_err(thread_error("event"))?,
            );
        }
        self.shared.set_status(ConnectionStatus::Starting);
        let engine = Engine::new(
            self.shared.clone(),
            options,
            connector,
            poll,
            commands,
            control.plugin.take(),
        );
        control.io_thread = Some(engine.spawn().map_err(thread_error("I/O"))?);
        Ok(())
    }

    pub fn status(&self) -> ConnectionStatus {
        self.shared.status()
    }

    /// The cause of the latest failure, `None` until something failed.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error()
    }

    /// Messages accepted by `publish` and not yet done with (QoS 0 written,
    /// QoS 1 acknowledged, QoS 2 completed).
    pub fn queued_count(&self) -> usize {
        self.shared.queued()
    }

    /// Messages given up: dropped by a full store (STOREFULL dropoldest), or
    /// set aside after the broker refused them three times in a row. Once
    /// `publish` returns, queued plus dropped accounts for every message it
    /// accepted that is not delivered yet.
    pub fn dropped_count(&self) -> u64 {
        self.shared.dropped()
    }

    /// Publishes; while not connected the message waits in the offline queue.
    pub fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: i32,
        retain: bool,
    ) -> Result<(), Error> {
        self.publish_bytes(topic, Bytes::copy_from_slice(payload), qos, retain)
    }

    /// Like [`Client::publish`], taking ownership of the payload (no copy).
    pub fn publish_bytes(
        &self,
        topic: &str,
        payload: Bytes,
        qos: i32,
        retain: bool,
    ) -> Result<(), Error> {
        let qos = to_qos(qos)?;
        // What the broker would close the connection on is refused here.
        let max_payload = self.shared.settings.max_payload.load(Ordering::Relaxed);
        check_publish(topic, qos, payload.len(), max_payload)?;
        self.shared.check_running()?;
        let mut publish = Publish::from_bytes(topic, qos, payload);
        publish.retain = retain;
        if self
            .shared
            .settings
            .store_configured
            .load(Ordering::Relaxed)
        {
            return self.publish_stored(publish);
        }
        self.shared.reserve()?;
        self.queue(Command::Publish(Outgoing::new(publish, None)))
    }

    /// With STOREDIR: the message is on disk (per STORESYNC) before this
    /// returns, and leaves the store when delivered. The store's count of
    /// live records is the queue count, so nothing else is counted here.
    fn publish_stored(&self, publish: Publish) -> Result<(), Error> {
        {
            let control = lock(&self.control);
            self.open_store(&control)?;
        }
        let mut store = self.shared.store();
        let Some(open) = store.as_mut() else {
            return Err(Error::Closed);
        };
        let appended = open.append(&StoredMessage {
            topic: publish.topic.clone(),
            payload: publish.payload.to_vec(),
            qos: publish.qos as u8,
            retain: publish.retain,
        })?;
        if !appended.dropped.is_empty() {
            log!(
                self.shared.log,
                Warn,
                "message store full: dropped the {} oldest messages (STOREFULL dropoldest)",
                appended.dropped.len()
            );
            let _ = self.commands.send(Command::Dropped(appended.dropped));
        }
        // Sent while the store is locked, so queue order is store order.
        let sent = self
            .commands
            .send(Command::Publish(Outgoing::new(publish, Some(appended.id))));
        drop(store);
        sent.map_err(|_| Error::Closed)?;
        self.shared.wake();
        Ok(())
    }

    /// Opens the store when STOREDIR is set and it is not open yet; what it
    /// recovers (left by an earlier run) is queued before anything new.
    fn open_store(&self, control: &Control) -> Result<(), Error> {
        let Some(config) = control
            .options
            .as_ref()
            .and_then(|o| o.store_config(&self.shared.client_id))
        else {
            return Ok(());
        };
        let mut store = self.shared.store();
        if store.is_some() {
            return Ok(());
        }
        let (mut opened, recovery) = Store::open(config)?;
        if !recovery.damage.is_empty() {
            let text = format!(
                "message store was damaged (power cut or disk error?); the rest was recovered: {}",
                recovery.damage.join("; ")
            );
            // Rewrites the live records so the damage is not met again.
            if let Err(e) = opened.compact() {
                log!(
                    self.shared.log,
                    Warn,
                    "message store compaction failed: {e}"
                );
            }
            *store = Some(opened);
            drop(store);
            self.shared.report(text, None);
            store = self.shared.store();
        } else {
            *store = Some(opened);
        }
        log!(
            self.shared.log,
            Info,
            "message store holds {} undelivered messages",
            recovery.messages.len()
        );
        for (id, message) in recovery.messages {
            let mut publish =
                Publish::new(message.topic, qos_from_u8(message.qos), message.payload);
            publish.retain = message.retain;
            self.commands
                .send(Command::Publish(Outgoing::new(publish, Some(id))))
                .map_err(|_| Error::Closed)?;
        }
        drop(store);
        Ok(())
    }

    fn queue(&self, command: Command) -> Result<(), Error> {
        if self.commands.send(command).is_err() {
            self.shared.complete_in_memory(1);
            return Err(Error::Closed);
        }
        self.shared.wake();
        Ok(())
    }

    /// Publishes tag readings as Flexy tag JSON, stamped with `epoch_millis`
    /// shifted by TAGTIMEOFFSET.
    pub fn publish_tags<'a>(
        &self,
        topic: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a TagValue)>,
        epoch_millis: i64,
        qos: i32,
        retain: bool,
    ) -> Result<(), Error> {
        let offset = self
            .shared
            .settings
            .tag_time_offset_minutes
            .load(Ordering::Relaxed);
        let mut json = String::new();
        tagjson::encode_into(&mut json, tags, epoch_millis, offset)?;
        self.publish_bytes(topic, Bytes::from(json), qos, retain)
    }

    /// Subscribes now if connected, and on every (re)connect.
    pub fn subscribe(&self, filter: &str, qos: i32) -> Result<(), Error> {
        validate_filter(filter)?;
        let qos = to_qos(qos)?;
        self.shared.check_running()?;
        self.send(Command::Subscribe {
            filter: filter.to_owned(),
            qos,
        })
    }

    /// Unsubscribes now if connected; the filter is no longer restored.
    pub fn unsubscribe(&self, filter: &str) -> Result<(), Error> {
        validate_filter(filter)?;
        self.shared.check_running()?;
        self.send(Command::Unsubscribe {
            filter: filter.to_owned(),
        })
    }

    /// Takes the oldest unread message. A QoS 1/2 message is acknowledged to
    /// the broker now, not when it arrived: one never taken is redelivered
    /// by a broker that keeps the session (CLEANSESSION 0).
    ///
    /// After close it fails with [`Error::Closed`]: nothing can be
    /// acknowledged any more, and a broker that keeps the session delivers
    /// the unread messages again to the next client with this id.
    pub fn read_message(&self) -> Result<Option<Message>, Error> {
        if self.shared.closing() {
            return Err(Error::Closed);
        }
        let Some((delivery, was_full)) = self.shared.pop_inbound() else {
            return Ok(None);
        };
        let mut wake = false;
        if let Some(ack) = delivery.ack {
            // After close there is nobody to tell, and nothing to acknowledge.
            wake |= self.commands.send(Command::Taken(ack)).is_ok();
        }
        if was_full {
            // The I/O thread paused reading at the limit: let it go on.
            wake |= self.commands.send(Command::ResumeReading).is_ok();
        }
        if wake {
            self.shared.wake();
        }
        Ok(Some(delivery.message))
    }

    /// Delivers what is queued while connected (until acknowledged, at most
    /// CONNECTTIMEOUT), sends DISCONNECT, stops both threads and wipes
    /// secrets. Idempotent; may be called from the event thread (which then
    /// ends after the current callback returns). On any other thread it
    /// returns once no callback runs, and none will run again, also when
    /// the first close() came from the callback.
    pub fn close(&self) {
        if self.shared.start_closing() {
            let _ = self.commands.send(Command::Close);
            self.shared.wake();
            let io_thread = {
                let mut control = lock(&self.control);
                control.options = None;
                control.sink = None;
                control.plugin = None;
                control.io_thread.take()
            };
            if let Some(io_thread) = io_thread {
                let _ = io_thread.join();
            }
            // Everything the I/O thread removed is recorded; sync what is left.
            if let Some(store) = self.shared.store().take() {
                if let Err(e) = store.close() {
                    self.shared.report(e.to_string(), None);
                }
            }
            // Ends the event thread once its current callback returns.
            self.shared.set_event_channel(None);
            self.shared.force_status(ConnectionStatus::Disconnected);
        }
        if self.shared.event_thread.get() != Some(&thread::current().id()) {
            let mut event_thread = lock(&self.event_thread);
            if let Some(handle) = event_thread.take() {
                let _ = handle.join();
            }
        }
    }

    fn send(&self, command: Command) -> Result<(), Error> {
        self.commands.send(command).map_err(|_| Error::Closed)?;
        self.shared.wake();
        Ok(())
    }

    /// Makes the I/O thread panic (tests of the panic boundary).
    #[cfg(test)]
    pub(crate) fn inject_panic(&self) {
        let _ = self.send(Command::Panic);
    }
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

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

/// Starts the thread that hands `events` to `sink` until the channel closes
/// (at close) or the client is closing.
fn spawn_event_thread(
    shared: Arc<Shared>,
    mut sink: Box<dyn EventSink>,
    events: Receiver<Event>,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("etkmqtt-events-{}", shared.client_id))
        .spawn(move || {
            let _ = shared.event_thread.set(thread::current().id());
            while let Ok(event) = events.recv() {
                if shared.closing() {
                    break;
                }
                // A sink that panics loses that event, not the thread.
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| sink.deliver(event))) {
                    eprintln!(
                        "etkmqtt[{}]: event callback failed: {}",
                        shared.client_id,
                        panic_message(panic.as_ref())
                    );
                }
            }
        })
}

/// A configuration call after connect names what was refused.
fn already_connected(error: Error) -> Error {
    match error {
        Error::OptionAfterConnect { .. } => Error::AlreadyConnected,
        other => other,
    }
}

/// Messages that may wait: without a store, MAXINFLIGHT plus the offline
/// queue; with one, STOREMAXBYTES bounds the queue instead.
fn queue_limit(options: &Options) -> usize {
    if options.store_dir.is_some() {
        usize::MAX
    } else {
        usize::from(options.max_inflight) + OFFLINE_QUEUE_LIMIT
    }
}

/// CONNECTTIMEOUT in milliseconds (at most 3600 s, so it fits).
fn millis(options: &Options) -> u32 {
    u32::try_from(options.connect_timeout.as_millis()).unwrap_or(u32::MAX)
}

fn to_qos(qos: i32) -> Result<QoS, Error> {
    match qos {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        other => Err(Error::InvalidQos(other)),
    }
}

/// Accepts a host name, an IPv4 literal, or an IPv6 literal with or without
/// brackets.
fn normalize_host(host: &str) -> Result<String, Error> {
    let trimmed = host.trim();
    let bare = trimmed
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(trimmed);
    if bare.is_empty() {
        return Err(Error::InvalidHost("the host is empty".to_owned()));
    }
    if bare.contains(['/', ' ', '\0'])
        || (bare.contains(':') && bare.parse::<std::net::Ipv6Addr>().is_err())
    {
        return Err(Error::InvalidHost(format!(
            "'{host}' is neither a host name nor an IP address (give the port with the PORT option)"
        )));
    }
    Ok(bare.to_owned())
}

#[cfg(test)]
mod tests;
