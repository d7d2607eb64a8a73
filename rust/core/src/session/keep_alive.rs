//! Keep-alive: the one place that decides when to ping and when the link is
//! dead. MQTT 3.1.1 §3.1.2.10: the client sends a packet at least every
//! KEEPALIVE; PINGREQ when it has nothing else to say.

use std::time::{Duration, Instant};

use super::LinkDead;

pub(super) struct KeepAlive {
    interval: Duration,
    last_sent: Option<Instant>,
    last_received: Option<Instant>,
    ping_sent: Option<Instant>,
    /// False while the engine does not read: an answer may wait unread.
    receiving: bool,
}

impl KeepAlive {
    pub fn new(interval: Duration) -> KeepAlive {
        KeepAlive {
            interval,
            last_sent: None,
            last_received: None,
            ping_sent: None,
            receiving: true,
        }
    }

    /// A new connection: quiet since `now`, no ping outstanding.
    pub fn reset(&mut self, now: Instant) {
        self.last_sent = Some(now);
        self.last_received = Some(now);
        self.ping_sent = None;
        self.receiving = true;
    }

    pub fn sent(&mut self, now: Instant) {
        self.last_sent = Some(now);
    }

    pub fn received(&mut self, now: Instant) {
        self.last_received = Some(now);
    }

    pub fn pong(&mut self) {
        self.ping_sent = None;
    }

    pub fn set_receiving(&mut self, receiving: bool, now: Instant) {
        if receiving && !self.receiving && self.ping_sent.is_some() {
            // The answer may have waited unread: give it a fresh half interval.
            self.ping_sent = Some(now);
        }
        self.receiving = receiving;
    }

    /// The link counts as quiet when either direction was: a client that
    /// only sends would otherwise never notice a broker that stopped
    /// answering.
    fn quiet_since(&self) -> Option<Instant> {
        match (self.last_sent, self.last_received) {
            (Some(sent), Some(received)) => Some(sent.min(received)),
            (one, other) => one.or(other),
        }
    }

    fn answer_within(&self) -> Duration {
        self.interval / 2
    }

    pub fn deadline(&self) -> Option<Instant> {
        if self.interval.is_zero() {
            return None;
        }
        match self.ping_sent {
            Some(sent) if self.receiving => Some(sent + self.answer_within()),
            Some(_) => None,
            None => self.quiet_since().map(|quiet| quiet + self.interval),
        }
    }

    /// `Ok(true)`: send PINGREQ now. `Err`: the ping went unanswered.
    pub fn ping_due(&mut self, now: Instant) -> Result<bool, LinkDead> {
        if self.interval.is_zero() {
            return Ok(false);
        }
        if let Some(sent) = self.ping_sent {
            let waited = now.saturating_duration_since(sent);
            if self.receiving && waited >= self.answer_within() {
                return Err(LinkDead { waited });
            }
            return Ok(false);
        }
        match self.quiet_since() {
            Some(quiet) if now >= quiet + self.interval => {
                self.ping_sent = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
