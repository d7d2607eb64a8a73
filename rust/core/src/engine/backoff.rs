//! The wait between connection attempts: RECONNECTMIN doubling up to
//! RECONNECTMAX, with jitter so that a fleet of gateways does not reconnect
//! in step after a broker restart.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// The shortest wait between failed attempts once backing off.
const MIN_BACKOFF: Duration = Duration::from_millis(500);

pub(super) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
    jitter: RandomState,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            next: min,
            jitter: RandomState::new(),
        }
    }

    /// After a successful connect: the next failure waits RECONNECTMIN again.
    pub fn reset(&mut self) {
        self.next = self.min;
    }

    /// The wait before the next attempt: 75 %..100 % of the current base,
    /// which then doubles (RECONNECTMIN 0 retries at once, then backs off
    /// from 500 ms).
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).max(MIN_BACKOFF).min(self.max).max(self.min);
        let mut hasher = self.jitter.build_hasher();
        hasher.write_u128(Instant::now().elapsed().as_nanos());
        let jitter = (hasher.finish() % 256) as u32;
        base * (768 + jitter) / 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_min_to_max_within_the_jitter_band() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let bases = [1, 2, 4, 5, 5];
        for base in bases {
            let delay = backoff.next_delay();
            let base = Duration::from_secs(base);
            assert!(
                delay <= base && delay >= base * 3 / 4,
                "{delay:?} for base {base:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn reconnectmin_zero_retries_at_once_then_backs_off() {
        let mut backoff = Backoff::new(Duration::ZERO, Duration::from_secs(60));
        assert_eq!(backoff.next_delay(), Duration::ZERO);
        let second = backoff.next_delay();
        assert!(second >= Duration::from_millis(375) && second <= MIN_BACKOFF);
    }
}
