//! The state that the application's threads, the I/O thread and the event
//! thread share: status and last error, the queue counts, received messages
//! waiting to be read, the open store, and the wake-up handshake.
//!
//! Each fact has one owner. With STOREDIR the store's own count of live
//! records is the queue count; without it, a counter that `publish` raises
//! and the I/O thread lowers when the session completes a message.

use std::collections::VecDeque;
use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::events::Event;
use crate::log::{log, Logger};
use crate::message::Message;
use crate::session::InboundAck;
use crate::status::ConnectionStatus;
use crate::store::{Store, StoreError};

/// Messages that may wait beyond MAXINFLIGHT while the broker is away.
pub const OFFLINE_QUEUE_LIMIT: usize = 1000;

/// Received messages not yet taken by `read_message`; beyond this the I/O
/// thread stops reading the socket until the application catches up (the
/// broker then holds the rest), so a slow reader never loses messages.
pub const INBOUND_LIMIT: usize = 10_000;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic on another thread must not make the client unusable: the data
    // behind these locks stays consistent between statements.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A received message with the acknowledgement the session sends once the
/// application takes it.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub message: Message,
    pub ack: Option<InboundAck>,
}

/// Without STOREDIR: messages accepted and not done, and publishers waiting
/// for room. Messages set aside count as dropped in both cases.
#[derive(Debug, Default)]
struct Counts {
    queued: usize,
    waiting: usize,
    set_aside: u64,
}

/// Settings the API threads read on every call, set by `set_option`.
#[derive(Debug)]
pub(crate) struct Settings {
    pub queue_limit: AtomicUsize,
    /// How long a publisher waits for queue room while connected (CONNECTTIMEOUT).
    pub publish_wait_millis: AtomicU32,
    pub tag_time_offset_minutes: AtomicI32,
    pub store_configured: AtomicBool,
    /// MAXPAYLOAD: the largest payload `publish` accepts.
    pub max_payload: AtomicUsize,
}

pub(crate) struct Shared {
    pub client_id: String,
    pub host: String,
    pub log: Logger,
    pub settings: Settings,
    status: AtomicI32,
    last_error: Mutex<Option<String>>,
    inbound: Mutex<VecDeque<Delivery>>,
    counts: Mutex<Counts>,
    queue_space: Condvar,
    /// The durable queue (STOREDIR), opened on connect or on the first
    /// publish before it.
    store: Mutex<Option<Store>>,
    events: Mutex<Option<Sender<Event>>>,
    pub waker: OnceLock<mio::Waker>,
    /// Set by the I/O thread just before it sleeps in poll.
    io_asleep: AtomicBool,
    closing: AtomicBool,
    /// Why the I/O thread stopped for good (an internal error).
    stopped: Mutex<Option<String>>,
    pub event_thread: OnceLock<ThreadId>,
}

impl Shared {
    pub fn new(client_id: &str, host: String, settings: Settings) -> Shared {
        Shared {
            client_id: client_id.to_owned(),
            host,
            log: Logger::new(client_id),
            settings,
            status: AtomicI32::new(ConnectionStatus::Disconnected.code()),
            last_error: Mutex::new(None),
            inbound: Mutex::new(VecDeque::new()),
            counts: Mutex::new(Counts::default()),
            queue_space: Condvar::new(),
            store: Mutex::new(None),
            events: Mutex::new(None),
            waker: OnceLock::new(),
            io_asleep: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            stopped: Mutex::new(None),
            event_thread: OnceLock::new(),
        }
    }

    // ----- status, errors, events -----

    pub fn status(&self) -> ConnectionStatus {
        ConnectionStatus::from_code(self.status.load(Ordering::Acquire))
    }

    /// Changes the status and reports a change as an event.
    pub fn set_status(&self, status: ConnectionStatus) {
        if self.swap_status(status) {
            self.emit(Event::StatusChanged(status));
        }
    }

    fn swap_status(&self, status: ConnectionStatus) -> bool {
        let old = self.status.swap(status.code(), Ordering::AcqRel);
        if old == status.code() {
            return false;
        }
        log!(self.log, Info, "status {} -> {}", old, status.code());
        // Publishers waiting for queue room give up when disconnected.
        self.queue_space.notify_all();
        true
    }

    /// Records a failure for `last_error()`, moves to `status` (if given),
    /// and raises one status event after both, whether or not the status
    /// number changed: a callback that reads `getLastError()` on a status
    /// event sees the cause of every failure, the first one included.
    pub fn report(&self, text: String, status: Option<ConnectionStatus>) {
        log!(self.log, Warn, "{text}");
        *lock(&self.last_error) = Some(text);
        if let Some(status) = status {
            self.swap_status(status);
        }
        self.emit(Event::StatusChanged(self.status()));
    }

    pub fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    pub fn emit(&self, event: Event) {
        if let Some(events) = lock(&self.events).as_ref() {
            // The event thread ends only after close; a send error then
            // means nobody listens any more, which is fine.
            let _ = events.send(event);
        }
    }

    pub fn set_event_channel(&self, events: Option<Sender<Event>>) {
        *lock(&self.events) = events;
    }

    // ----- life -----

    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Marks the client closing; false if it already was.
    pub fn start_closing(&self) -> bool {
        let first = !self.closing.swap(true, Ordering::AcqRel);
        self.queue_space.notify_all();
        first
    }

    /// `Err` once the I/O thread stopped after an internal error.
    pub fn check_running(&self) -> Result<(), Error> {
        if self.closing() {
            return Err(Error::Closed);
        }
        match lock(&self.stopped).as_ref() {
            Some(reason) => Err(Error::Stopped(reason.clone())),
            None => Ok(()),
        }
    }

    /// The I/O thread panicked: say so, stop counting on it, wake anyone
    /// waiting for it.
    pub fn stopped_by_panic(&self, reason: String) {
        *lock(&self.stopped) = Some(reason.clone());
        self.report(
            format!("an internal error stopped the connection: {reason}"),
            Some(ConnectionStatus::Disconnected),
        );
        self.queue_space.notify_all();
    }

    pub fn force_status(&self, status: ConnectionStatus) {
        self.status.store(status.code(), Ordering::Release);
    }

    // ----- the store -----

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
                drop(store);
                // StoreError's text already starts with "message store".
                self.report(e.to_string(), None);
                None
            }
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Option<Store>> {
        lock(&self.store)
    }

    // ----- counts -----

    /// Messages accepted and not done: the store's live records with
    /// STOREDIR, the in-memory count without.
    pub fn queued(&self) -> usize {
        match lock(&self.store).as_ref() {
            Some(store) => store.live_count(),
            None => lock(&self.counts).queued,
        }
    }

    /// Messages given up: dropped by the store (STOREFULL dropoldest) and
    /// set aside after the broker refused them.
    pub fn dropped(&self) -> u64 {
        let store = lock(&self.store);
        let by_store = store.as_ref().map_or(0, Store::dropped_count);
        lock(&self.counts).set_aside + by_store
    }

    /// A message is done: its record leaves the store, or (without one) the
    /// in-memory count goes down.
    pub fn completed(&self, record: Option<u64>) {
        match record {
            Some(id) => {
                if let Some(Some(notice)) = self.with_store(|store| store.remove(id)) {
                    self.report(notice.to_string(), None);
                }
            }
            None => self.complete_in_memory(1),
        }
    }

    /// A message was set aside: counted as dropped in the same step that
    /// takes it out of the queue count, so the two always add up.
    pub fn set_aside(&self, record: Option<u64>) {
        match record {
            Some(id) => {
                let mut store = lock(&self.store);
                let removed = store.as_mut().map(|s| s.remove(id));
                lock(&self.counts).set_aside += 1;
                drop(store);
                match removed {
                    Some(Err(e)) => self.report(e.to_string(), None),
                    Some(Ok(Some(notice))) => self.report(notice.to_string(), None),
                    _ => {}
                }
            }
            None => {
                let mut counts = lock(&self.counts);
                counts.queued = counts.queued.saturating_sub(1);
                counts.set_aside += 1;
            }
        }
        self.queue_space.notify_all();
    }

    /// Marks `count` in-memory messages as done and wakes waiting publishers.
    pub fn complete_in_memory(&self, count: usize) {
        let mut counts = lock(&self.counts);
        counts.queued = counts.queued.saturating_sub(count);
        // Waking costs a syscall per acknowledgement even with nobody
        // waiting, so wake only waiting publishers, and only once there is
        // room for a batch: they then publish an eighth of the queue in one go.
        let limit = self.settings.queue_limit.load(Ordering::Relaxed);
        let room_for_a_batch = counts.queued <= limit.saturating_sub((limit / 8).max(1));
        let wake = counts.waiting > 0 && (room_for_a_batch || counts.queued == 0);
        drop(counts);
        if wake {
            self.queue_space.notify_all();
        }
    }

    /// Takes an in-memory queue slot for one message. When the queue is
    /// full: while connected, waits for the broker's acknowledgements (at
    /// most CONNECTTIMEOUT; never on the event thread, whose callbacks the
    /// I/O thread may be waiting for); otherwise fails with `QueueFull`.
    pub fn reserve(&self) -> Result<(), Error> {
        let limit = self.settings.queue_limit.load(Ordering::Relaxed);
        let wait = Duration::from_millis(u64::from(
            self.settings.publish_wait_millis.load(Ordering::Relaxed),
        ));
        let may_wait = self.event_thread.get() != Some(&thread::current().id());
        let deadline = Instant::now() + wait;
        let mut counts = lock(&self.counts);
        loop {
            self.check_running()?;
            if counts.queued < limit {
                counts.queued += 1;
                return Ok(());
            }
            let now = Instant::now();
            if !may_wait || now >= deadline || self.status() != ConnectionStatus::Connected {
                return Err(Error::QueueFull {
                    queued: counts.queued,
                    limit,
                    offline: OFFLINE_QUEUE_LIMIT,
                });
            }
            counts.waiting += 1;
            counts = self
                .queue_space
                .wait_timeout(counts, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            counts.waiting -= 1;
        }
    }

    // ----- received messages -----

    /// Queues a received message; returns how many are now unread.
    pub fn push_inbound(&self, delivery: Delivery) -> usize {
        let mut inbound = lock(&self.inbound);
        inbound.push_back(delivery);
        inbound.len()
    }

    /// Takes the oldest unread message, and whether reading was paused at
    /// the limit before it (the I/O thread then needs telling).
    pub fn pop_inbound(&self) -> Option<(Delivery, bool)> {
        let mut inbound = lock(&self.inbound);
        let was_full = inbound.len() >= INBOUND_LIMIT;
        inbound.pop_front().map(|d| (d, was_full))
    }

    pub fn unread(&self) -> usize {
        lock(&self.inbound).len()
    }

    // ----- waking the I/O thread -----

    /// Wakes the I/O thread if it sleeps; an awake one looks at its commands
    /// before it sleeps again (see [`Shared::going_to_sleep`]).
    pub fn wake(&self) {
        // Pairs with the fence in `going_to_sleep` (a Dekker handshake: the
        // command was sent before this point).
        fence(Ordering::SeqCst);
        if !self.io_asleep.swap(false, Ordering::SeqCst) {
            return;
        }
        if let Some(waker) = self.waker.get() {
            if let Err(e) = waker.wake() {
                log!(self.log, Error, "cannot wake the I/O thread: {e}");
            }
        }
    }

    /// The I/O thread announces that it will sleep; it must look at its
    /// commands once more after this (a command sent before the
    /// announcement was seen did not wake it).
    pub fn going_to_sleep(&self) {
        // Publishers wake the I/O thread only while it sleeps (an eventfd
        // write per publish costs a syscall and a context switch).
        self.io_asleep.store(true, Ordering::SeqCst);
        // Pairs with the fence in `wake`: either the publisher sees the flag
        // and wakes us, or we see its command.
        fence(Ordering::SeqCst);
    }

    pub fn woke_up(&self) {
        self.io_asleep.store(false, Ordering::SeqCst);
    }
}
