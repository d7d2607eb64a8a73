//! A `u64` counter shared between threads on every target the Flexy has.
//!
//! ARMv5TE (the older Flexy generation) has no 64-bit atomic instructions, so
//! `std::sync::atomic::AtomicU64` does not exist there. On such targets the
//! same API is a `Mutex<u64>`; everywhere else it is the real atomic. Only the
//! methods the client uses are provided.

#[cfg(target_has_atomic = "64")]
pub use std::sync::atomic::AtomicU64;

#[cfg(not(target_has_atomic = "64"))]
pub use locked::AtomicU64;

// Also compiled for tests, so that the host's `cargo test` checks the lock
// variant that only ARMv5TE uses.
#[cfg(any(test, not(target_has_atomic = "64")))]
mod locked {
    use std::sync::atomic::Ordering;
    use std::sync::{Mutex, PoisonError};

    /// `AtomicU64`'s API over a lock. The lock orders every access, which is
    /// at least as strong as any `Ordering` a caller asks for.
    #[derive(Debug, Default)]
    pub struct AtomicU64(Mutex<u64>);

    impl AtomicU64 {
        pub const fn new(value: u64) -> Self {
            Self(Mutex::new(value))
        }

        pub fn load(&self, _order: Ordering) -> u64 {
            // A panic while holding this lock cannot leave a torn u64.
            *self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }

        pub fn store(&self, value: u64, _order: Ordering) {
            *self.0.lock().unwrap_or_else(PoisonError::into_inner) = value;
        }

        pub fn fetch_add(&self, value: u64, _order: Ordering) -> u64 {
            let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let previous = *guard;
            *guard = previous.wrapping_add(value);
            previous
        }
    }
}

#[cfg(test)]
mod tests {
    use super::locked::AtomicU64;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    #[test]
    fn locked_counter_loses_no_concurrent_increment() {
        let counter = Arc::new(AtomicU64::new(u64::from(u32::MAX)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("adder thread");
        }
        // Past 2^32: a 32-bit counter would have wrapped.
        assert_eq!(
            counter.load(Ordering::Relaxed),
            u64::from(u32::MAX) + 40_000
        );
        counter.store(7, Ordering::Relaxed);
        assert_eq!(counter.load(Ordering::Relaxed), 7);
    }
}
