//! The client API that the JNI and C bindings wrap. Calls never block on the
//! network: they validate, queue and wake the client's I/O thread.
//!
//! Threads: one I/O thread ([`crate::engine`]) owns the socket and the MQTT
//! state; one event thread delivers [`Event`]s to the [`EventSink`], one at a
//! time, so the sink may call back into the client (even `close`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::{Publish, QoS};

use crate::atomic64::AtomicU64;
use crate::engine::{Command, Engine};
use crate::error::{ConnectError, Error};
use crate::log::{log, Logger};
use crate::options::Options;
use crate::status::ConnectionStatus;
use crate::store::{Store, StoreError, StoredMessage};
use crate::tagjson::{self, TagValue};
use crate::topic::{validate_filter, validate_topic};

/// Messages that may wait beyond MAXINFLIGHT while the broker is away.
pub const OFFLINE_QUEUE_LIMIT: usize = 1000;

/// Received messages not yet taken by `read_message`; beyond this the I/O
/// thread stops reading the socket until the application catches up (the
/// broker then holds the rest), so a slow reader never loses messages.
pub const INBOUND_LIMIT: usize = 10_000;

/// A received application message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
}

/// What the event thread reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The status changed; read it with [`Client::status`].
    StatusChanged(ConnectionStatus),
    /// One message arrived; take it with [`Client::read_message`].
    MessageArrived,
}

/// Receives a client's events on its event thread. Calls never overlap.
pub trait EventSink: Send + 'static {
    fn deliver(&mut self, event: Event);
}

/// A subscription list entry, restored on every connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub filter: String,
    pub qos: QoS,
}

/// The subscription list and a version that orders it against the
/// subscribe commands in flight to the I/O thread.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    pub entries: Vec<Subscription>,
    pub version: u64,
}

/// State shared by the API, the I/O thread and the event thread.
pub(crate) struct Shared {
    pub client_id: String,
    pub host: String,
    pub log: Logger,
    status: AtomicI32,
    last_error: Mutex<Option<String>>,
    pub inbound: Mutex<VecDeque<Message>>,
    pub subscriptions: Mutex<Subscriptions>,
    /// Messages accepted by `publish` and not yet done (QoS 0 written,
    /// QoS 1 acknowledged, QoS 2 completed).
    queued: Mutex<Queue>,
    queue_space: Condvar,
    queue_limit: AtomicUsize,
    publish_wait_millis: AtomicU64,
    tag_time_offset_minutes: AtomicI32,
    pub dropped: AtomicU64,
    /// The durable queue (STOREDIR), opened on connect or on the first
    /// publish before it.
    store: Mutex<Option<Store>>,
    store_configured: AtomicBool,
    events: Mutex<Option<Sender<Event>>>,
    pub waker: OnceLock<mio::Waker>,
    /// Set by the I/O thread just before it sleeps in poll.
    pub io_asleep: AtomicBool,
    closing: AtomicBool,
    event_thread: OnceLock<ThreadId>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic on another thread must not make the client unusable: the data
    // behind these locks stays consistent between statements.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub fn status(&self) -> ConnectionStatus {
        ConnectionStatus::from_code(self.status.load(Ordering::Acquire))
    }

    /// Changes the status and reports the change as an event.
    pub fn set_status(&self, status: ConnectionStatus) {
        let old = self.status.swap(status.code(), Ordering::AcqRel);
        if old != status.code() {
            log!(self.log, Info, "status {} -> {}", old, status.code());
            self.emit(Event::StatusChanged(status));
            // Publishers waiting for queue space give up when disconnected.
            self.queue_space.notify_all();
        }
    }

    pub fn set_error(&self, error: &ConnectError) {
        let text = error.to_string();
        log!(self.log, Warn, "{text}");
        *lock(&self.last_error) = Some(text);
    }

    pub fn set_error_text(&self, text: String) {
        log!(self.log, Warn, "{text}");
        *lock(&self.last_error) = Some(text);
    }

    pub fn emit(&self, event: Event) {
        if let Some(events) = lock(&self.events).as_ref() {
            // The event thread ends only after close; a send error then
            // means nobody listens any more, which is fine.
            let _ = events.send(event);
        }
    }

    /// Runs `action` on the open store; a failure is reported in
    /// getLastError() and does not stop the connection.
    pub fn with_store<T>(
        &self,
        action: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Option<T> {
        let mut store = lock(&self.store);
        match action(store.as_mut()?) {
            Ok(value) => Some(value),
            Err(e) => {
                // StoreError's text already starts with "message store".
                self.set_error_text(e.to_string());
                None
            }
        }
    }

    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Marks `count` queued messages as done and wakes waiting publishers.
    pub fn complete(&self, count: usize) {
        let mut queue = lock(&self.queued);
        queue.queued = queue.queued.saturating_sub(count);
        // Waking costs a syscall per acknowledgement even with nobody
        // waiting, so wake only waiting publishers, and only once there is
        // room for a batch: they then publish an eighth of the queue in one go.
        let limit = self.queue_limit.load(Ordering::Relaxed);
        let room_for_a_batch = queue.queued <= limit.saturating_sub((limit / 8).max(1));
        let wake = queue.waiting > 0 && (room_for_a_batch || queue.queued == 0);
        drop(queue);
        if wake {
            self.queue_space.notify_all();
        }
    }

    pub fn queued(&self) -> usize {
        lock(&self.queued).queued
    }

    /// Counts messages queued without a reservation (recovered from disk).
    fn add_queued(&self, count: usize) {
        lock(&self.queued).queued += count;
    }

    /// Takes a queue slot for one message. When the queue is full: while
    /// connected, waits for the broker's acknowledgements (at most
    /// CONNECTTIMEOUT; never on the event thread, whose callbacks the I/O
    /// thread may be waiting for); otherwise fails with `QueueFull`.
    fn reserve(&self) -> Result<(), Error> {
        let limit = self.queue_limit.load(Ordering::Relaxed);
        let wait = Duration::from_millis(self.publish_wait_millis.load(Ordering::Relaxed));
        let may_wait = self.event_thread.get() != Some(&thread::current().id());
        let deadline = Instant::now() + wait;
        let mut queue = lock(&self.queued);
        loop {
            if self.closing() {
                return Err(Error::Closed);
            }
            if queue.queued < limit {
                queue.queued += 1;
                return Ok(());
            }
            let now = Instant::now();
            if !may_wait || now >= deadline || self.status() != ConnectionStatus::Connected {
                return Err(Error::QueueFull {
                    queued: queue.queued,
                    limit,
                    offline: OFFLINE_QUEUE_LIMIT,
                });
            }
            queue.waiting += 1;
            queue = self
                .queue_space
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            queue.waiting -= 1;
        }
    }

    /// Wakes the I/O thread if it sleeps; an awake one looks at the channel
    /// before it sleeps again (see `Engine::poll_once`).
    fn wake(&self) {
        // Pairs with the fence in `Engine::poll_once` (a Dekker handshake:
        // the command was sent before this point).
        std::sync::atomic::fence(Ordering::SeqCst);
        if !self.io_asleep.swap(false, Ordering::SeqCst) {
            return;
        }
        if let Some(waker) = self.waker.get() {
            if let Err(e) = waker.wake() {
                log!(self.log, Error, "cannot wake the I/O thread: {e}");
            }
        }
    }
}

/// The count behind `getQueuedCount()` and the publishers waiting for room.
#[derive(Debug, Default)]
struct Queue {
    queued: usize,
    waiting: usize,
}

/// What only `connect` and `close` touch.
struct Control {
    options: Option<Options>,
    sink: Option<Box<dyn EventSink>>,
    commands: Option<Receiver<Command>>,
    io_thread: Option<JoinHandle<()>>,
    event_thread: Option<JoinHandle<()>>,
}

/// An MQTT client: the engine behind the Java `MqttClient`.
pub struct Client {
    shared: Arc<Shared>,
    commands: Sender<Command>,
    control: Mutex<Control>,
}

impl Client {
    /// Creates a client; nothing happens on the network until [`Client::connect`].
    pub fn new(client_id: &str, host: &str, sink: Box<dyn EventSink>) -> Result<Client, Error> {
        if client_id.len() > 65535 {
            return Err(Error::InvalidClientId(format!(
                "{} bytes long; MQTT allows at most 65535",
                client_id.len()
            )));
        }
        let host = normalize_host(host)?;
        let options = Options::default();
        let (commands, receiver) = mpsc::channel();
        let shared = Arc::new(Shared {
            client_id: client_id.to_owned(),
            host,
            log: Logger::new(client_id),
            status: AtomicI32::new(ConnectionStatus::Disconnected.code()),
            last_error: Mutex::new(None),
            inbound: Mutex::new(VecDeque::new()),
            subscriptions: Mutex::new(Subscriptions::default()),
            queued: Mutex::new(Queue::default()),
            queue_space: Condvar::new(),
            queue_limit: AtomicUsize::new(queue_limit(&options)),
            publish_wait_millis: AtomicU64::new(millis(options.connect_timeout)),
            tag_time_offset_minutes: AtomicI32::new(options.tag_time_offset_minutes),
            dropped: AtomicU64::new(0),
            store: Mutex::new(None),
            store_configured: AtomicBool::new(false),
            events: Mutex::new(None),
            waker: OnceLock::new(),
            io_asleep: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            event_thread: OnceLock::new(),
        });
        Ok(Client {
            shared,
            commands,
            control: Mutex::new(Control {
                options: Some(options),
                sink: Some(sink),
                commands: Some(receiver),
                io_thread: None,
                event_thread: None,
            }),
        })
    }

    /// Sets an option (see [`Options::set`]); only before `connect`.
    pub fn set_option(&self, name: &str, value: &str) -> Result<(), Error> {
        let mut control = lock(&self.control);
        if self.shared.closing() {
            return Err(Error::Closed);
        }
        let options = control
            .options
            .as_mut()
            .ok_or_else(|| Error::OptionAfterConnect {
                name: name.to_owned(),
            })?;
        options.set(name, value)?;
        self.shared
            .queue_limit
            .store(queue_limit(options), Ordering::Relaxed);
        self.shared
            .store_configured
            .store(options.store_dir.is_some(), Ordering::Relaxed);
        self.shared
            .publish_wait_millis
            .store(millis(options.connect_timeout), Ordering::Relaxed);
        self.shared
            .tag_time_offset_minutes
            .store(options.tag_time_offset_minutes, Ordering::Relaxed);
        self.shared.log.set_level(options.log_level);
        log!(
            self.shared.log,
            Debug,
            "option {} set",
            name.to_ascii_uppercase()
        );
        Ok(())
    }

    /// Starts the I/O and event threads and returns; connecting happens in
    /// the background and is reported by status events.
    pub fn connect(&self) -> Result<(), Error> {
        let mut control = lock(&self.control);
        if self.shared.closing() {
            return Err(Error::Closed);
        }
        control
            .options
            .as_ref()
            .ok_or(Error::AlreadyConnected)?
            .validate()?;
        self.open_store(&control)?;
        let thread_error = |what: &'static str| {
            move |e: std::io::Error| Error::Thread {
                what,
                reason: e.to_string(),
            }
        };
        let poll = mio::Poll::new().map_err(thread_error("I/O"))?;
        let waker =
            mio::Waker::new(poll.registry(), crate::engine::WAKER).map_err(thread_error("I/O"))?;
        let (Some(options), Some(mut sink), Some(commands)) = (
            control.options.take(),
            control.sink.take(),
            control.commands.take(),
        ) else {
            return Err(Error::AlreadyConnected);
        };
        // Set once: connect() runs once per client.
        let _ = self.shared.waker.set(waker);

        let (events, event_receiver) = mpsc::channel();
        *lock(&self.shared.events) = Some(events);
        let shared = self.shared.clone();
        control.event_thread = Some(
            thread::Builder::new()
                .name(format!("etkmqtt-events-{}", self.shared.client_id))
                .spawn(move || {
                    let _ = shared.event_thread.set(thread::current().id());
                    while let Ok(event) = event_receiver.recv() {
                        if shared.closing() {
                            break;
                        }
                        sink.deliver(event);
                    }
                })
                .map_err(thread_error("event"))?,
        );

        self.shared.set_status(ConnectionStatus::Starting);
        let engine = Engine::new(self.shared.clone(), options, commands, poll);
        control.io_thread = Some(
            thread::Builder::new()
                .name(format!("etkmqtt-io-{}", self.shared.client_id))
                .spawn(move || engine.run())
                .map_err(thread_error("I/O"))?,
        );
        Ok(())
    }

    pub fn status(&self) -> ConnectionStatus {
        self.shared.status()
    }

    /// The cause of the latest failure, `None` until something failed.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.shared.last_error).clone()
    }

    /// Messages accepted by `publish` and not yet delivered to the broker.
    pub fn queued_count(&self) -> usize {
        self.shared.queued()
    }

    /// Messages dropped to make room; only a store with the drop-oldest
    /// policy drops, so this stays 0 otherwise.
    pub fn dropped_count(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
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
        validate_topic(topic)?;
        let qos = to_qos(qos)?;
        if self.shared.store_configured.load(Ordering::Relaxed) {
            return self.publish_stored(topic, payload, qos, retain);
        }
        self.shared.reserve()?;
        let mut publish = Publish::from_bytes(topic, qos, payload);
        publish.retain = retain;
        self.queue(Command::Publish {
            publish,
            stored: None,
        })
    }

    /// With STOREDIR: the message is on disk (per STORESYNC) before this
    /// returns, and leaves the store when delivered.
    fn publish_stored(
        &self,
        topic: &str,
        payload: Bytes,
        qos: QoS,
        retain: bool,
    ) -> Result<(), Error> {
        {
            let control = lock(&self.control);
            self.open_store(&control)?;
        }
        let mut store = lock(&self.shared.store);
        let Some(open) = store.as_mut() else {
            return Err(Error::Closed);
        };
        let appended = open.append(&StoredMessage {
            topic: topic.to_owned(),
            payload: payload.to_vec(),
            qos: qos as u8,
            retain,
        })?;
        if !appended.dropped.is_empty() {
            let dropped = appended.dropped.len() as u64;
            self.shared.dropped.fetch_add(dropped, Ordering::Relaxed);
            log!(
                self.shared.log,
                Warn,
                "message store full: dropped the {dropped} oldest messages (STOREFULL dropoldest)"
            );
            let _ = self.commands.send(Command::Dropped(appended.dropped));
        }
        self.shared.reserve()?;
        let mut publish = Publish::from_bytes(topic, qos, payload);
        publish.retain = retain;
        // Sent while the store is locked, so queue order is store order.
        let result = self.queue(Command::Publish {
            publish,
            stored: Some(appended.id),
        });
        drop(store);
        result
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
        let mut store = lock(&self.shared.store);
        if store.is_some() {
            return Ok(());
        }
        let (mut opened, recovery) = Store::open(config)?;
        if !recovery.damage.is_empty() {
            self.shared.set_error_text(format!(
                "message store was damaged (power cut or disk error?); the rest was recovered: {}",
                recovery.damage.join("; ")
            ));
            // Rewrites the live records so the damage is not met again.
            if let Err(e) = opened.compact() {
                log!(
                    self.shared.log,
                    Warn,
                    "message store compaction failed: {e}"
                );
            }
        }
        log!(
            self.shared.log,
            Info,
            "message store holds {} undelivered messages",
            recovery.messages.len()
        );
        for (id, message) in recovery.messages {
            self.shared.add_queued(1);
            let mut publish =
                Publish::new(message.topic, qos_from_u8(message.qos), message.payload);
            publish.retain = message.retain;
            self.commands
                .send(Command::Publish {
                    publish,
                    stored: Some(id),
                })
                .map_err(|_| Error::Closed)?;
        }
        *store = Some(opened);
        Ok(())
    }

    fn queue(&self, command: Command) -> Result<(), Error> {
        if self.commands.send(command).is_err() {
            self.shared.complete(1);
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
        let offset = self.shared.tag_time_offset_minutes.load(Ordering::Relaxed);
        let mut json = String::new();
        tagjson::encode_into(&mut json, tags, epoch_millis, offset)?;
        self.publish_bytes(topic, Bytes::from(json), qos, retain)
    }

    /// Subscribes now if connected, and on every (re)connect.
    pub fn subscribe(&self, filter: &str, qos: i32) -> Result<(), Error> {
        validate_filter(filter)?;
        let qos = to_qos(qos)?;
        if self.shared.closing() {
            return Err(Error::Closed);
        }
        let version = {
            let mut subscriptions = lock(&self.shared.subscriptions);
            subscriptions.version += 1;
            match subscriptions
                .entries
                .iter_mut()
                .find(|s| s.filter == filter)
            {
                Some(existing) => existing.qos = qos,
                None => subscriptions.entries.push(Subscription {
                    filter: filter.to_owned(),
                    qos,
                }),
            }
            subscriptions.version
        };
        self.send(Command::Subscribe {
            filter: filter.to_owned(),
            qos,
            version,
        })
    }

    /// Unsubscribes now if connected; the filter is no longer restored.
    pub fn unsubscribe(&self, filter: &str) -> Result<(), Error> {
        validate_filter(filter)?;
        if self.shared.closing() {
            return Err(Error::Closed);
        }
        let version = {
            let mut subscriptions = lock(&self.shared.subscriptions);
            subscriptions.version += 1;
            subscriptions.entries.retain(|s| s.filter != filter);
            subscriptions.version
        };
        self.send(Command::Unsubscribe {
            filter: filter.to_owned(),
            version,
        })
    }

    /// Takes the oldest unread message.
    pub fn read_message(&self) -> Option<Message> {
        let mut inbound = lock(&self.shared.inbound);
        let message = inbound.pop_front();
        // The I/O thread paused reading at the limit: let it go on.
        if message.is_some() && inbound.len() + 1 == INBOUND_LIMIT {
            drop(inbound);
            let _ = self.send(Command::ResumeReading);
        }
        message
    }

    /// Sends DISCONNECT, stops both threads and wipes secrets. Idempotent;
    /// may be called from the event thread (which then ends after the
    /// current callback returns).
    pub fn close(&self) {
        if self.shared.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.commands.send(Command::Close);
        self.shared.wake();
        self.shared.queue_space.notify_all();
        let (io_thread, event_thread) = {
            let mut control = lock(&self.control);
            control.options = None;
            control.sink = None;
            (control.io_thread.take(), control.event_thread.take())
        };
        if let Some(io_thread) = io_thread {
            let _ = io_thread.join();
        }
        // Everything the I/O thread removed is recorded; sync what is left.
        if let Some(store) = lock(&self.shared.store).take() {
            if let Err(e) = store.close() {
                self.shared.set_error_text(e.to_string());
            }
        }
        // Ends the event thread once its current callback returns.
        lock(&self.shared.events).take();
        if let Some(event_thread) = event_thread {
            if event_thread.thread().id() != thread::current().id() {
                let _ = event_thread.join();
            }
        }
        self.shared
            .status
            .store(ConnectionStatus::Disconnected.code(), Ordering::Release);
    }

    fn send(&self, command: Command) -> Result<(), Error> {
        self.commands.send(command).map_err(|_| Error::Closed)?;
        self.shared.wake();
        Ok(())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn qos_from_u8(qos: u8) -> QoS {
    match qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
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
mod tests {
    use super::*;

    struct Ignore;
    impl EventSink for Ignore {
        fn deliver(&mut self, _event: Event) {}
    }

    fn client() -> Client {
        Client::new("unit", "127.0.0.1", Box::new(Ignore)).expect("client")
    }

    #[test]
    fn hosts_accept_names_and_ip_literals_but_not_ports() {
        assert_eq!(
            normalize_host("broker.local").expect("name"),
            "broker.local"
        );
        assert_eq!(normalize_host("[::1]").expect("v6"), "::1");
        assert_eq!(normalize_host("::1").expect("v6"), "::1");
        assert!(normalize_host("broker:1883").is_err());
        assert!(normalize_host("").is_err());
    }

    #[test]
    fn invalid_publish_is_rejected_before_anything_is_queued() {
        let client = client();
        assert!(matches!(
            client.publish("a/+", b"x", 0, false),
            Err(Error::InvalidTopic(_))
        ));
        assert!(matches!(
            client.publish("", b"x", 0, false),
            Err(Error::InvalidTopic(_))
        ));
        assert!(matches!(
            client.publish("a", b"x", 3, false),
            Err(Error::InvalidQos(3))
        ));
        assert!(matches!(
            client.publish("a", b"x", -1, false),
            Err(Error::InvalidQos(-1))
        ));
        assert_eq!(client.queued_count(), 0);
    }

    #[test]
    fn offline_queue_is_bounded_by_maxinflight_plus_the_offline_limit() {
        let client = client();
        client.set_option("MAXINFLIGHT", "5").expect("maxinflight");
        for i in 0..(5 + OFFLINE_QUEUE_LIMIT) {
            client
                .publish("t", b"x", 1, false)
                .unwrap_or_else(|e| panic!("message {i}: {e}"));
        }
        let err = client.publish("t", b"x", 1, false).expect_err("full");
        assert!(err.to_string().starts_with("offline queue full"), "{err}");
        assert_eq!(client.queued_count(), 5 + OFFLINE_QUEUE_LIMIT);
    }

    #[test]
    fn tagtimeoffset_reaches_publish_tags() {
        let client = client();
        client.set_option("TAGTIMEOFFSET", "60").expect("offset");
        assert_eq!(
            client
                .shared
                .tag_time_offset_minutes
                .load(Ordering::Relaxed),
            60
        );
    }

    #[test]
    fn options_are_refused_after_connect_and_calls_after_close() {
        let client = client();
        client.set_option("PORT", "1").expect("port");
        client.connect().expect("connect");
        assert!(matches!(
            client.set_option("PORT", "2"),
            Err(Error::OptionAfterConnect { .. })
        ));
        assert!(matches!(client.connect(), Err(Error::AlreadyConnected)));
        client.close();
        client.close();
        assert!(matches!(
            client.publish("t", b"x", 0, false),
            Err(Error::Closed)
        ));
        assert_eq!(client.status(), ConnectionStatus::Disconnected);
    }
}
