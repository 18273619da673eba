//! When to poll an account next: pure arithmetic over its recent history, with jitter.
//!
//! An account an operator has open, or that had activity in the last few minutes, is polled
//! every 1–2 s; an idle one slows down gradually (×1.5 per empty poll) to once a minute. Errors
//! back off exponentially (5xx, network) or exactly as WB asked (429). Jitter keeps many
//! accounts from aligning on the same second. No clocks here: callers pass ages and streaks.

use std::time::Duration;

use rand::Rng;

/// The tunables of adaptive polling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cadence {
    /// Interval while active (before jitter).
    pub active: Duration,
    /// Jitter added to the active interval: uniformly 0..=this.
    pub active_jitter: Duration,
    /// How long after the last activity an account still counts as active.
    pub active_window: Duration,
    /// The first idle interval; each further empty poll multiplies it by `growth`.
    pub idle_start: Duration,
    pub growth: f64,
    /// The slowest an account is ever polled.
    pub max: Duration,
    /// ± this fraction of jitter on idle and error delays.
    pub jitter: f64,
}

impl Default for Cadence {
    fn default() -> Self {
        Self {
            active: Duration::from_secs(1),
            active_jitter: Duration::from_secs(1),
            active_window: Duration::from_secs(5 * 60),
            idle_start: Duration::from_secs(2),
            growth: 1.5,
            max: Duration::from_secs(60),
            jitter: 0.2,
        }
    }
}

/// What the last poll of an account showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastPoll {
    /// New events arrived.
    Activity,
    /// Nothing new; `streak` empty polls in a row (1 for the first).
    Empty { streak: u32 },
    /// WB answered 429 and asked for this wait.
    RateLimited { retry_after: Duration },
    /// 5xx, network or timeout; `failures` in a row (1 for the first).
    Failed { failures: u32 },
}

impl Cadence {
    /// The delay before the next poll.
    ///
    /// `since_activity` is how long ago the account last had new events (None: never seen);
    /// `open` is true while an operator has one of its chats open.
    pub fn next_delay(
        &self,
        last: LastPoll,
        since_activity: Option<Duration>,
        open: bool,
        rng: &mut impl Rng,
    ) -> Duration {
        let active = open || since_activity.is_some_and(|a| a < self.active_window);
        match last {
            LastPoll::RateLimited { retry_after } => {
                // Never sooner than WB asked; a little later so accounts don't align.
                retry_after + self.active_jitter.mul_f64(rng.random_range(0.0..=1.0))
            }
            LastPoll::Failed { failures } => {
                let exp = failures.saturating_sub(1).min(16);
                let base = self
                    .active
                    .mul_f64(2f64.powi(i32::try_from(exp).unwrap_or(16)));
                self.spread(base.min(self.max), rng)
            }
            LastPoll::Activity => self.active_delay(rng),
            LastPoll::Empty { .. } if active => self.active_delay(rng),
            LastPoll::Empty { streak } => {
                let exp = i32::try_from(streak.saturating_sub(1).min(32)).unwrap_or(32);
                let base = self.idle_start.mul_f64(self.growth.powi(exp));
                self.spread(base.min(self.max), rng).min(self.max)
            }
        }
    }

    fn active_delay(&self, rng: &mut impl Rng) -> Duration {
        let jitter = self.active_jitter.mul_f64(rng.random_range(0.0..=1.0));
        self.active + jitter
    }

    /// `d` ± `jitter`.
    fn spread(&self, d: Duration, rng: &mut impl Rng) -> Duration {
        let f = 1.0 + rng.random_range(-self.jitter..=self.jitter);
        d.mul_f64(f.max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn active_accounts_are_polled_every_one_to_two_seconds() {
        let c = Cadence::default();
        let mut r = rng();
        for last in [LastPoll::Activity, LastPoll::Empty { streak: 9 }] {
            for open in [true, false] {
                let since = if open {
                    None
                } else {
                    Some(Duration::from_secs(30))
                };
                let d = c.next_delay(last, since, open, &mut r);
                assert!(
                    d >= Duration::from_secs(1) && d <= Duration::from_secs(2),
                    "{d:?}"
                );
            }
        }
    }

    #[test]
    fn idle_accounts_slow_down_gradually_to_a_minute() {
        let c = Cadence {
            jitter: 0.0,
            ..Cadence::default()
        };
        let mut r = rng();
        let idle = Some(Duration::from_secs(3600));
        let delays: Vec<u64> = (1..=12)
            .map(|streak| {
                c.next_delay(LastPoll::Empty { streak }, idle, false, &mut r)
                    .as_millis() as u64
            })
            .collect();
        assert_eq!(delays[0], 2000);
        assert_eq!(delays[1], 3000);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
        assert_eq!(*delays.last().expect("some"), 60_000);
    }

    #[test]
    fn jitter_spreads_idle_accounts_apart() {
        let c = Cadence::default();
        let mut r = rng();
        let idle = Some(Duration::from_secs(3600));
        let delays: std::collections::HashSet<u128> = (0..20)
            .map(|_| {
                c.next_delay(LastPoll::Empty { streak: 5 }, idle, false, &mut r)
                    .as_millis()
            })
            .collect();
        assert!(delays.len() > 10);
    }

    #[test]
    fn errors_back_off_and_429_waits_at_least_as_asked() {
        let c = Cadence {
            jitter: 0.0,
            ..Cadence::default()
        };
        let mut r = rng();
        let f = |n| c.next_delay(LastPoll::Failed { failures: n }, None, true, &mut rng());
        assert_eq!(f(1), Duration::from_secs(1));
        assert_eq!(f(2), Duration::from_secs(2));
        assert_eq!(f(4), Duration::from_secs(8));
        assert_eq!(f(30), Duration::from_secs(60));
        let wait = Duration::from_secs(7);
        let d = c.next_delay(
            LastPoll::RateLimited { retry_after: wait },
            None,
            true,
            &mut r,
        );
        assert!(d >= wait);
    }
}
