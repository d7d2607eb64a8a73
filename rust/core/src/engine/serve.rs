//! A live connection: read what the broker sends and hand it to the
//! session, act on the session's events, write what it wants written, sleep
//! until the socket, a command or the session's next deadline wants us.
//! After close() it drains: it goes on until everything queued is
//! acknowledged (at most CONNECTTIMEOUT, never over ten seconds), then says
//! DISCONNECT.

use std::net::Shutdown;
use std::time::{Duration, Instant};

use rumqttc::Packet;

use super::link::{Failure, Link, MAX_INCOMING_PACKET, TX_HIGH_WATER};
use super::{Ending, Engine};
use crate::error::ConnectError;
use crate::events::Event;
use crate::log::log;
use crate::message::Message;
use crate::session::{ConnectionEnd, InboundAck, SessionEvent};
use crate::shared::{Delivery, INBOUND_LIMIT};
use crate::status::ConnectionStatus;

/// The longest close() keeps a live connection to deliver what is queued.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// How long DISCONNECT may take to go out.
const DISCONNECT_LIMIT: Duration = Duration::from_secs(1);

impl Engine {
    /// Runs a connected session until it ends: how, or the cause when the
    /// connection was lost.
    pub(super) fn serve(&mut self, mut link: Link) -> Result<Ending, ConnectError> {
        let now = Instant::now();
        self.session.connected(now, link.session_present);
        self.reading_paused = self.shared.unread() >= INBOUND_LIMIT;
        self.session.set_receiving(!self.reading_paused, now);
        if let Some(plugin) = self.plugin.as_mut() {
            let mut first = Vec::new();
            plugin.session_started(&mut first);
            for publish in first {
                self.session.publish_first(publish);
            }
        }
        self.backoff.reset();
        self.shared.set_status(ConnectionStatus::Connected);

        let outcome = self.run_connection(&mut link);

        let end = match &outcome {
            Ok(_) => ConnectionEnd::Other,
            Err(failure) => failure.end.clone(),
        };
        self.session.connection_lost(&end);
        if let Some(plugin) = self.plugin.as_mut() {
            plugin.session_ended();
        }
        if outcome.is_ok() {
            self.disconnect(&mut link);
        }
        link.deregister(self.poller.registry());
        outcome.map_err(|failure| *failure.error)
    }

    fn run_connection(&mut self, link: &mut Link) -> Result<Ending, Failure> {
        let mut drain_until = None;
        let renew_at = self
            .options
            .session_lifetime()
            .map(|lifetime| Instant::now() + lifetime);
        loop {
            self.take_commands();
            if self.closing && drain_until.is_none() {
                drain_until = Some(Instant::now() + self.options.connect_timeout.min(DRAIN_LIMIT));
            }
            if link.readable && !self.reading_paused {
                self.receive(link)?;
            }
            let now = Instant::now();
            if self.session.handle_timeout(now).is_err() {
                return Err(Failure::new(
                    ConnectError::ConnectionLost(format!(
                        "no answer from the broker to a keep-alive ping within {} ms (KEEPALIVE {} s)",
                        (self.options.keep_alive / 2).as_millis(),
                        self.options.keep_alive.as_secs()
                    )),
                    ConnectionEnd::Other,
                ));
            }
            self.transmit(link, now)?;
            if let Some(until) = drain_until {
                if self.session.is_idle() && link.flushed() {
                    return Ok(Ending::Closed);
                }
                if now >= until {
                    log!(
                        self.shared.log,
                        Warn,
                        "closing with {} messages not yet acknowledged",
                        self.session.unfinished()
                    );
                    return Ok(Ending::Closed);
                }
            } else if renew_at.is_some_and(|at| now >= at) {
                return Ok(Ending::Renew);
            }
            let wake_at = [self.session.poll_timeout(), drain_until, renew_at]
                .into_iter()
                .flatten()
                .min();
            let timeout = wake_at.map(|at| at.saturating_duration_since(Instant::now()));
            self.sleep(timeout)
                .map_err(|e| Failure::new(e, ConnectionEnd::Other))?;
            if self.poller.take_readable() {
                link.readable = true;
            }
        }
    }

    /// Hands every complete packet to the session, reading the socket until
    /// it would block (mio is edge-triggered) or reading pauses.
    fn receive(&mut self, link: &mut Link) -> Result<(), Failure> {
        loop {
            let now = Instant::now();
            while !self.reading_paused {
                match Packet::read(&mut link.rx, MAX_INCOMING_PACKET) {
                    Ok(packet) => {
                        if let Err(violation) = self.session.handle_packet(packet, now) {
                            return Err(Failure::new(
                                ConnectError::ProtocolViolation(violation.clone()),
                                ConnectionEnd::Violation(violation),
                            ));
                        }
                        self.dispatch();
                    }
                    Err(rumqttc::Error::InsufficientBytes(_)) => break,
                    Err(e) => {
                        return Err(Failure::new(
                            ConnectError::Protocol(format!("invalid packet from the broker: {e}")),
                            ConnectionEnd::Other,
                        ))
                    }
                }
            }
            if self.reading_paused || !link.fill()? {
                return Ok(());
            }
        }
    }

    /// Lets the session write until the socket is full (a writable event
    /// will follow) or nothing more may go now. Stopping while the socket
    /// still takes data would sleep with messages waiting: mio is
    /// edge-triggered, so no event would come.
    fn transmit(&mut self, link: &mut Link, now: Instant) -> Result<(), Failure> {
        loop {
            let left_over = link.tx.len();
            let plugin = &mut self.plugin;
            self.session
                .poll_transmit(now, &mut link.tx, TX_HIGH_WATER, &mut || {
                    plugin.as_mut().and_then(|p| p.next_outgoing())
                });
            let added = link.tx.len() > left_over;
            link.flush()?;
            // Round again while the socket took everything and this round
            // had something: new bytes, or bytes left from before (which may
            // have kept the session from adding any by filling the buffer).
            if !link.flushed() || (!added && left_over == 0) {
                break;
            }
        }
        self.dispatch();
        Ok(())
    }

    /// Acts on what the session reported.
    pub(super) fn dispatch(&mut self) {
        let mut done_in_memory = 0;
        while let Some(event) = self.session.poll_event() {
            match event {
                SessionEvent::Deliver { message, ack } => self.deliver(message, ack),
                SessionEvent::Completed { record: None } => done_in_memory += 1,
                SessionEvent::Completed { record } => self.shared.completed(record),
                SessionEvent::SubscriptionRefused { filter } => self.shared.report(
                    format!(
                        "the broker refused the subscription to '{filter}' (SUBACK failure): check the broker's ACL"
                    ),
                    None,
                ),
                SessionEvent::SetAside {
                    topic,
                    record,
                    reason,
                } => {
                    self.shared.set_aside(record);
                    self.shared.report(
                        format!(
                            "a message to '{topic}' was set aside and counted as dropped: {reason}"
                        ),
                        None,
                    );
                }
                SessionEvent::Unsolicited { packet, pkid } => log!(
                    self.shared.log,
                    Debug,
                    "ignoring an unsolicited {packet} for packet {pkid}"
                ),
            }
        }
        if done_in_memory > 0 {
            self.shared.complete_in_memory(done_in_memory);
        }
    }

    /// A received message goes to the plugin first, then to the application.
    fn deliver(&mut self, message: Message, ack: Option<InboundAck>) {
        if let Some(plugin) = self.plugin.as_mut() {
            let mut answers = Vec::new();
            let for_application = plugin.incoming(&message.to_publish(), &mut answers);
            for publish in answers {
                self.session.publish_first(publish);
            }
            if !for_application {
                if let Some(ack) = ack {
                    self.session.message_taken(ack);
                }
                return;
            }
        }
        let unread = self.shared.push_inbound(Delivery { message, ack });
        self.shared.emit(Event::MessageArrived);
        if unread >= INBOUND_LIMIT && !self.reading_paused {
            self.reading_paused = true;
            self.session.set_receiving(false, Instant::now());
            log!(
                self.shared.log,
                Warn,
                "{INBOUND_LIMIT} messages unread: reading paused until readMessage() catches up"
            );
        }
    }

    /// Sends DISCONNECT so the broker drops the will; best effort, bounded.
    fn disconnect(&mut self, link: &mut Link) {
        let deadline = Instant::now() + DISCONNECT_LIMIT;
        let _ = Packet::Disconnect.write(&mut link.tx, usize::MAX);
        while link.flush().is_ok() && !link.flushed() && Instant::now() < deadline {
            let _ = self
                .poller
                .sleep(&self.shared, Some(Duration::from_millis(50)));
        }
        let _ = link.transport.socket_mut().shutdown(Shutdown::Both);
    }
}
