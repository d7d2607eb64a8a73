//! The I/O thread: moves bytes and time between the socket and the
//! [`Session`], and connects, reconnects and backs off. It owns the socket
//! and the session; the API talks to it through [`Command`]s and a mio
//! waker, so a publish reaches the socket without a lock or a delay.
//!
//! - [`connect`]: one attempt (resolve, TCP, TLS, CONNECT, CONNACK).
//! - [`serve`]: a live connection (read, hand to the session, write).
//! - [`poller`]: the one place the thread sleeps.
//! - [`backoff`]: the wait between attempts.

mod backoff;
mod connect;
mod link;
mod poller;
mod serve;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rumqttc::QoS;

use crate::boundary::panic_message;
use crate::error::ConnectError;
use crate::log::log;
use crate::message::Outgoing;
use crate::options::Options;
use crate::plugin::SessionPlugin;
use crate::session::{InboundAck, Session, SessionConfig};
use crate::shared::Shared;
use crate::status::ConnectionStatus;
use crate::store::BATCH_SYNC_INTERVAL;
use crate::transport::Connector;
use backoff::Backoff;
use poller::Poller;
pub(crate) use poller::WAKER;

/// How often the store is compacted (cheap when there is nothing to reclaim).
const STORE_COMPACT_INTERVAL: Duration = Duration::from_secs(10);

/// What the API asks of the I/O thread.
#[derive(Debug)]
pub(crate) enum Command {
    Publish(Outgoing),
    /// The store dropped these records (STOREFULL dropoldest): forget them.
    Dropped(Vec<u64>),
    Subscribe {
        filter: String,
        qos: QoS,
    },
    Unsubscribe {
        filter: String,
    },
    /// The application took a message: acknowledge it.
    Taken(InboundAck),
    /// The application read below the inbound limit: read the socket again.
    ResumeReading,
    Close,
    /// The plugin has something to send (its queue is its own): ask it.
    PluginWake,
    /// Makes the I/O thread panic, to test that the client survives it.
    #[cfg(test)]
    Panic,
}

/// How a connection that did not fail ended.
pub(super) enum Ending {
    /// close() was called.
    Closed,
    /// The SAS token nears its expiry (80 % of SASTTL): reconnect at once
    /// with a new one, keeping everything queued.
    Renew,
}

/// Why an attempt or a connection ended.
pub(super) enum Stop {
    Closed,
    Failed(ConnectError),
}

impl From<ConnectError> for Stop {
    fn from(error: ConnectError) -> Stop {
        Stop::Failed(error)
    }
}

/// Everything the I/O thread owns.
pub(crate) struct Engine {
    shared: Arc<Shared>,
    options: Options,
    connector: Connector,
    poller: Poller,
    session: Session,
    plugin: Option<Box<dyn SessionPlugin>>,
    backoff: Backoff,
    /// close() was called.
    closing: bool,
    /// The application has INBOUND_LIMIT messages unread: the socket is not
    /// read until it catches up.
    reading_paused: bool,
    last_store_compact: Instant,
}

impl Engine {
    pub(crate) fn new(
        shared: Arc<Shared>,
        options: Options,
        connector: Connector,
        poll: mio::Poll,
        commands: Receiver<Command>,
        plugin: Option<Box<dyn SessionPlugin>>,
    ) -> Engine {
        let now = Instant::now();
        Engine {
            session: Session::new(SessionConfig {
                keep_alive: options.keep_alive,
                max_inflight: options.max_inflight,
            }),
            backoff: Backoff::new(options.reconnect_min, options.reconnect_max),
            shared,
            options,
            connector,
            poller: Poller::new(poll, commands),
            plugin,
            closing: false,
            reading_paused: false,
            last_store_compact: now,
        }
    }

    /// Starts the I/O thread. A panic in it is caught: the client then
    /// reports it, stops, and nothing waits for the thread forever.
    pub(crate) fn spawn(self) -> std::io::Result<JoinHandle<()>> {
        let shared = self.shared.clone();
        thread::Builder::new()
            .name(format!("etkmqtt-io-{}", shared.client_id))
            .spawn(move || {
                if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.run())) {
                    shared.stopped_by_panic(panic_message(panic.as_ref()));
                }
            })
    }

    /// The thread's body: connect, serve, reconnect, until closed.
    fn run(mut self) {
        // Subscriptions and publishes made before connect().
        self.take_commands();
        while !self.closing {
            self.shared.set_status(ConnectionStatus::TryingToConnect);
            let failure = match self.connect() {
                Ok(link) => match self.serve(link) {
                    Ok(Ending::Closed) => {
                        self.dispatch();
                        break;
                    }
                    Ok(Ending::Renew) => {
                        log!(
                            self.shared.log,
                            Info,
                            "reconnecting with a new SharedAccessSignature before the current one expires"
                        );
                        self.dispatch();
                        continue;
                    }
                    Err(error) => error,
                },
                Err(Stop::Closed) => break,
                Err(Stop::Failed(error)) => error,
            };
            // Not connected from this moment, not after the wait.
            self.shared
                .report(failure.to_string(), Some(ConnectionStatus::TryingToConnect));
            // What the lost connection decided (a message set aside) comes
            // after the loss itself, so getLastError() ends on it.
            self.dispatch();
            if self.wait_before_retry().is_err() {
                break;
            }
        }
        log!(self.shared.log, Info, "I/O thread ends");
    }

    /// Takes every waiting command.
    fn take_commands(&mut self) {
        while let Some(command) = self.poller.next_command() {
            self.apply(command);
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Publish(message) => self.session.publish(message),
            Command::Dropped(records) => {
                self.session.forget(&records);
            }
            Command::Subscribe { filter, qos } => self.session.subscribe(&filter, qos),
            Command::Unsubscribe { filter } => self.session.unsubscribe(&filter),
            Command::Taken(ack) => self.session.message_taken(ack),
            Command::ResumeReading => {
                if self.reading_paused && self.shared.unread() < crate::shared::INBOUND_LIMIT {
                    self.reading_paused = false;
                    self.session.set_receiving(true, Instant::now());
                }
            }
            Command::Close => self.closing = true,
            // The next transmit asks the plugin for its messages.
            Command::PluginWake => {}
            #[cfg(test)]
            Command::Panic => panic!("injected panic on the I/O thread"),
        }
    }

    /// Sleeps until the socket or a command wants us, at most `timeout`;
    /// with a store, wakes in time to sync and compact it.
    fn sleep(&mut self, timeout: Option<Duration>) -> Result<(), ConnectError> {
        let has_store = self.options.store_dir.is_some();
        let timeout = match timeout {
            Some(t) if has_store => Some(t.min(BATCH_SYNC_INTERVAL)),
            None if has_store => Some(BATCH_SYNC_INTERVAL),
            other => other,
        };
        self.poller
            .sleep(&self.shared, timeout)
            .map_err(|e| ConnectError::ConnectionLost(format!("poll failed: {e}")))?;
        if has_store {
            self.maintain_store();
        }
        Ok(())
    }

    /// Waits for the socket or a command until `deadline` while connecting;
    /// commands are taken (close ends the wait).
    fn wait(&mut self, deadline: Instant, phase: &'static str, target: &str) -> Result<(), Stop> {
        let now = Instant::now();
        if now >= deadline {
            return Err(Stop::Failed(ConnectError::Timeout {
                phase,
                target: target.to_owned(),
                seconds: self.options.connect_timeout.as_secs(),
            }));
        }
        self.sleep(Some(deadline - now))?;
        self.poller.take_readable();
        self.take_commands();
        if self.closing {
            return Err(Stop::Closed);
        }
        Ok(())
    }

    /// The backoff wait; `Err` when close() interrupted it.
    fn wait_before_retry(&mut self) -> Result<(), ()> {
        let delay = self.backoff.next_delay();
        log!(
            self.shared.log,
            Info,
            "next try in {} ms",
            delay.as_millis()
        );
        let deadline = Instant::now() + delay;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(());
            }
            // A failing poll would fail again at once: give up the wait.
            if self.sleep(Some(deadline - now)).is_err() {
                return Ok(());
            }
            self.take_commands();
            if self.closing {
                return Err(());
            }
        }
    }

    /// Syncs what STORESYNC says is due (the store decides); compacts now and
    /// then.
    fn maintain_store(&mut self) {
        self.shared.with_store(|store| store.sync_if_due());
        let now = Instant::now();
        if now.duration_since(self.last_store_compact) >= STORE_COMPACT_INTERVAL {
            self.last_store_compact = now;
            self.shared.with_store(|store| store.compact());
        }
    }
}
