//! Where "now" comes from for deadlines, countdowns and escalation: the system clock in
//! production, a manual one that tests move forward (no sleeping until a deadline passes).
//! It owns nothing else; storing timestamps of writes still uses the system clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// A source of the current time in Unix milliseconds. Cheap to clone; clones of a manual clock
/// share its time.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock showing `start_ms`.
    pub fn manual(start_ms: i64) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start_ms)))
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => crate::db::now_ms(),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward (no-op on the system clock).
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(t) = self {
            t.fetch_add(
                i64::try_from(by.as_millis()).unwrap_or(i64::MAX),
                Ordering::SeqCst,
            );
        }
    }

    /// Sets a manual clock (no-op on the system clock).
    pub fn set(&self, now_ms: i64) {
        if let Clock::Manual(t) = self {
            t.store(now_ms, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let c = Clock::manual(1_000);
        let d = c.clone();
        c.advance(Duration::from_secs(2));
        assert_eq!(d.now_ms(), 3_000);
        d.set(10);
        assert_eq!(c.now_ms(), 10);
        assert!(Clock::System.now_ms() > 1_700_000_000_000);
    }
}
