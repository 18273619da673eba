//! The per-seller rate budget: WB allows each token 10 requests per 10 s with bursts of 10
//! (one a second sustained), and every call of one token — from any client, task or poller in
//! this process — must draw from the same bucket, or the seller's calls start failing with 429.
//!
//! [`RateBudget`] is a GCRA token bucket on `governor` 0.10, cheap to clone (an `Arc`). It has
//! two priorities: [`Priority::Send`] takes a cell as soon as one is free; [`Priority::Poll`]
//! takes one only while at least `poll_reserve` cells (default 2) would remain afterwards, so
//! background polling never eats the capacity an operator's reply needs. A 429 from WB can
//! pause the whole budget ([`RateBudget::hold_off`]). [`BudgetRegistry`] hands out the same
//! budget for the same token; it keys budgets by a keyed hash of the token (a per-registry
//! random SipHash key), never by the token itself. This module knows nothing of HTTP.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::nanos::Nanos;
use governor::state::{NotKeyed, StateStore};
use governor::{Quota, RateLimiter};

use crate::client::ApiToken;

/// Cells a poll leaves for sends unless configured otherwise.
pub const DEFAULT_POLL_RESERVE: u32 = 2;

/// WB's chat quota for personal, service and basic-with-secret tokens: 10 requests per 10 s,
/// one replenished per second, bursts of 10.
pub fn wb_chat_quota() -> Quota {
    Quota::per_second(NonZeroU32::MIN).allow_burst(NonZeroU32::MIN.saturating_add(9))
}

/// Who is asking for a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Sending a message: waits only for the bucket itself.
    Send,
    /// Polling chats/events or downloading: waits while fewer than `poll_reserve + 1` cells
    /// are free, so the reserve stays available to sends.
    Poll,
}

/// The governor state store behind a budget: the GCRA "theoretical arrival time", with a
/// dry-run switch that lets us ask "would `n` cells conform now?" without taking them.
/// Only used under `Inner::gate`, so the switch and the value never race.
#[derive(Debug, Default)]
struct PeekableState {
    tat: AtomicU64,
    dry_run: AtomicBool,
}

/// The handle governor owns; `Inner::state` is a second handle to the same cell.
#[derive(Debug)]
struct SharedState(Arc<PeekableState>);

impl StateStore for SharedState {
    type Key = NotKeyed;

    fn measure_and_replace<T, F, E>(&self, _key: &NotKeyed, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let state = &self.0;
        let prev = state.tat.load(Ordering::Acquire);
        let (outcome, next) = f((prev != 0).then(|| Nanos::from(prev)))?;
        if !state.dry_run.load(Ordering::Acquire) {
            state.tat.store(next.into(), Ordering::Release);
        }
        Ok(outcome)
    }
}

#[derive(Debug, Default)]
struct Gate {
    /// Set after a 429: nothing of this budget goes out before it.
    blocked_until: Option<tokio::time::Instant>,
}

struct Inner {
    limiter: RateLimiter<NotKeyed, SharedState, DefaultClock>,
    state: Arc<PeekableState>,
    gate: Mutex<Gate>,
    quota: Quota,
    poll_reserve: u32,
    /// Acquisitions that had to wait, and the time spent waiting (ms), for progress reports.
    waits: AtomicU64,
    waited_ms: AtomicU64,
}

/// How often and how long callers of one budget waited for a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitStats {
    pub waits: u64,
    pub waited: Duration,
}

/// A shared token bucket for one seller token. Clones share the bucket.
#[derive(Clone)]
pub struct RateBudget {
    inner: Arc<Inner>,
}

impl fmt::Debug for RateBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateBudget")
            .field("quota", &self.inner.quota)
            .field("poll_reserve", &self.inner.poll_reserve)
            .finish_non_exhaustive()
    }
}

impl Default for RateBudget {
    /// WB's chat quota with the default poll reserve.
    fn default() -> Self {
        Self::new(wb_chat_quota(), DEFAULT_POLL_RESERVE)
    }
}

impl RateBudget {
    /// A new, full bucket. `poll_reserve` is clamped to `burst − 1` so polls can always
    /// proceed eventually.
    pub fn new(quota: Quota, poll_reserve: u32) -> Self {
        let burst = quota.burst_size().get();
        let state = Arc::new(PeekableState::default());
        let limiter = RateLimiter::new(
            quota,
            SharedState(Arc::clone(&state)),
            DefaultClock::default(),
        );
        Self {
            inner: Arc::new(Inner {
                limiter,
                state,
                gate: Mutex::new(Gate::default()),
                quota,
                poll_reserve: poll_reserve.min(burst.saturating_sub(1)),
                waits: AtomicU64::new(0),
                waited_ms: AtomicU64::new(0),
            }),
        }
    }

    /// The quota this budget enforces.
    pub fn quota(&self) -> Quota {
        self.inner.quota
    }

    /// Cells a poll leaves free (after clamping).
    pub fn poll_reserve(&self) -> u32 {
        self.inner.poll_reserve
    }

    /// Whether two handles share one bucket.
    pub fn same_budget(&self, other: &RateBudget) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Waits until a cell is available for `priority`, then takes it.
    pub async fn acquire(&self, priority: Priority) {
        let mut started: Option<tokio::time::Instant> = None;
        loop {
            match self.try_acquire(priority) {
                Ok(()) => break,
                Err(wait) => {
                    started.get_or_insert_with(tokio::time::Instant::now);
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
            }
        }
        if let Some(started) = started {
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.inner.waits.fetch_add(1, Ordering::Relaxed);
            self.inner.waited_ms.fetch_add(ms, Ordering::Relaxed);
        }
    }

    /// How often callers of this budget had to wait for a cell, and for how long in all.
    pub fn wait_stats(&self) -> WaitStats {
        WaitStats {
            waits: self.inner.waits.load(Ordering::Relaxed),
            waited: Duration::from_millis(self.inner.waited_ms.load(Ordering::Relaxed)),
        }
    }

    /// Takes a cell now if `priority` may have one; otherwise says how long to wait before
    /// trying again (a hint, not a promise: others may take the cell first).
    pub fn try_acquire(&self, priority: Priority) -> Result<(), Duration> {
        let mut gate = self.gate();
        if let Some(until) = gate.blocked_until {
            let now = tokio::time::Instant::now();
            if until > now {
                return Err(until - now);
            }
            gate.blocked_until = None;
        }
        let limiter = &self.inner.limiter;
        if priority == Priority::Poll && self.inner.poll_reserve > 0 {
            let needed = NonZeroU32::MIN.saturating_add(self.inner.poll_reserve);
            let state = &self.inner.state;
            state.dry_run.store(true, Ordering::Release);
            let probe = limiter.check_n(needed);
            state.dry_run.store(false, Ordering::Release);
            match probe {
                Ok(Ok(_)) => {}
                Ok(Err(not_until)) => {
                    return Err(not_until.wait_time_from(limiter.clock().now()));
                }
                // Cannot happen: the reserve is clamped below the burst. Fall through to an
                // ordinary check rather than block forever.
                Err(_) => {}
            }
        }
        limiter
            .check()
            .map(|_| ())
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// Stops every caller of this budget until `wait` has passed (after a 429). A shorter
    /// hold-off than one already in force changes nothing.
    pub fn hold_off(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let mut gate = self.gate();
        gate.blocked_until = Some(gate.blocked_until.map_or(until, |u| u.max(until)));
    }

    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.inner
            .gate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Hands out one [`RateBudget`] per token, so every client of a seller shares its bucket.
pub struct BudgetRegistry {
    hasher: RandomState,
    quota: Quota,
    poll_reserve: u32,
    budgets: Mutex<HashMap<u64, RateBudget>>,
}

impl fmt::Debug for BudgetRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetRegistry")
            .field("quota", &self.quota)
            .field("poll_reserve", &self.poll_reserve)
            .field("tokens", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for BudgetRegistry {
    fn default() -> Self {
        Self::new(wb_chat_quota(), DEFAULT_POLL_RESERVE)
    }
}

impl BudgetRegistry {
    /// A registry whose new budgets use `quota` and `poll_reserve`.
    pub fn new(quota: Quota, poll_reserve: u32) -> Self {
        Self {
            hasher: RandomState::new(),
            quota,
            poll_reserve,
            budgets: Mutex::new(HashMap::new()),
        }
    }

    /// The budget of `token`, created with the registry's quota on first use.
    pub fn budget(&self, token: &ApiToken) -> RateBudget {
        self.budget_with(token, self.quota, self.poll_reserve)
    }

    /// The budget of `token`; `quota` and `poll_reserve` apply only if it is created now.
    pub fn budget_with(&self, token: &ApiToken, quota: Quota, poll_reserve: u32) -> RateBudget {
        let key = self.hasher.hash_one(token.expose_secret());
        self.map()
            .entry(key)
            .or_insert_with(|| RateBudget::new(quota, poll_reserve))
            .clone()
    }

    /// Drops the budget of `token` (e.g. the seller disconnected). Clients still holding it
    /// keep working with it.
    pub fn remove(&self, token: &ApiToken) -> bool {
        let key = self.hasher.hash_one(token.expose_secret());
        self.map().remove(&key).is_some()
    }

    /// How many tokens have a budget.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no token has a budget yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn map(&self) -> MutexGuard<'_, HashMap<u64, RateBudget>> {
        self.budgets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    //! Counts and ordering with quotas that cannot refill mid-test (no timing assertions
    //! except generous upper bounds).

    use super::*;

    /// A quota that cannot refill during a test: `burst` cells, one more per hour.
    fn frozen(burst: u32) -> Quota {
        Quota::with_period(Duration::from_secs(3600))
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(burst).expect("non-zero burst"))
    }

    fn count_ok(budget: &RateBudget, priority: Priority) -> usize {
        (0..100)
            .take_while(|_| budget.try_acquire(priority).is_ok())
            .count()
    }

    #[test]
    fn default_is_wb_quota() {
        let b = RateBudget::default();
        assert_eq!(b.quota().burst_size().get(), 10);
        assert_eq!(b.quota().replenish_interval(), Duration::from_secs(1));
        assert_eq!(b.poll_reserve(), 2);
    }

    #[test]
    fn polls_leave_the_reserve_to_sends() {
        let b = RateBudget::new(frozen(5), 2);
        assert_eq!(
            count_ok(&b, Priority::Poll),
            3,
            "polls stop with 2 cells left"
        );
        let wait = b.try_acquire(Priority::Poll).expect_err("poll must wait");
        assert!(wait > Duration::ZERO);
        assert_eq!(count_ok(&b, Priority::Send), 2, "sends get the reserve");
        assert!(b.try_acquire(Priority::Send).is_err());
    }

    #[test]
    fn a_failed_poll_probe_takes_nothing() {
        let b = RateBudget::new(frozen(3), 2);
        assert_eq!(count_ok(&b, Priority::Poll), 1);
        for _ in 0..5 {
            assert!(b.try_acquire(Priority::Poll).is_err());
        }
        assert_eq!(count_ok(&b, Priority::Send), 2);
    }

    #[test]
    fn sends_can_use_the_whole_burst() {
        let b = RateBudget::new(frozen(4), 2);
        assert_eq!(count_ok(&b, Priority::Send), 4);
        assert!(b.try_acquire(Priority::Poll).is_err());
    }

    #[test]
    fn reserve_is_clamped_below_the_burst() {
        let b = RateBudget::new(frozen(1), 2);
        assert_eq!(b.poll_reserve(), 0);
        assert_eq!(count_ok(&b, Priority::Poll), 1);
        let b = RateBudget::new(frozen(3), 10);
        assert_eq!(b.poll_reserve(), 2);
        assert_eq!(count_ok(&b, Priority::Poll), 1);
    }

    #[test]
    fn clones_share_the_bucket() {
        let a = RateBudget::new(frozen(2), 0);
        let b = a.clone();
        assert!(a.same_budget(&b));
        assert!(a.try_acquire(Priority::Send).is_ok());
        assert!(b.try_acquire(Priority::Send).is_ok());
        assert!(a.try_acquire(Priority::Send).is_err());
    }

    #[tokio::test]
    async fn hold_off_blocks_every_priority() {
        let b = RateBudget::new(frozen(5), 0);
        b.hold_off(Duration::from_secs(30));
        let wait = b.try_acquire(Priority::Send).expect_err("held off");
        assert!(wait > Duration::from_secs(20) && wait <= Duration::from_secs(30));
        // A shorter hold-off does not shorten the current one.
        b.hold_off(Duration::from_millis(1));
        assert!(b.try_acquire(Priority::Send).expect_err("still held") > Duration::from_secs(20));
    }

    #[tokio::test]
    async fn hold_off_expires() {
        let b = RateBudget::new(frozen(5), 0);
        b.hold_off(Duration::from_millis(20));
        tokio::time::timeout(Duration::from_secs(10), b.acquire(Priority::Send))
            .await
            .expect("acquire completes after the hold-off");
    }

    #[tokio::test]
    async fn waiting_poll_does_not_block_a_send() {
        let b = RateBudget::new(frozen(3), 2);
        b.acquire(Priority::Poll).await;
        let poll = tokio::time::timeout(Duration::from_millis(50), b.acquire(Priority::Poll));
        assert!(poll.await.is_err(), "second poll must wait for refill");
        tokio::time::timeout(Duration::from_secs(10), b.acquire(Priority::Send))
            .await
            .expect("send proceeds");
    }

    #[tokio::test]
    async fn acquire_waits_for_refill() {
        // 2 cells, one more every 5 ms: 6 acquisitions must all complete, in order.
        let quota = Quota::with_period(Duration::from_millis(5))
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(2).expect("non-zero"));
        let b = RateBudget::new(quota, 1);
        let done = tokio::time::timeout(Duration::from_secs(20), async {
            let mut n = 0;
            for i in 0..6 {
                let p = if i % 2 == 0 {
                    Priority::Poll
                } else {
                    Priority::Send
                };
                b.acquire(p).await;
                n += 1;
            }
            n
        })
        .await
        .expect("refills within generous bounds");
        assert_eq!(done, 6);
    }

    #[test]
    fn registry_shares_per_token_and_hides_tokens() {
        let reg = BudgetRegistry::new(frozen(2), 0);
        let t1 = ApiToken::new("eyJ-secret-one");
        let t2 = ApiToken::new("eyJ-secret-two");
        let a = reg.budget(&t1);
        let b = reg.budget(&t1);
        let c = reg.budget(&t2);
        assert!(a.same_budget(&b));
        assert!(!a.same_budget(&c));
        assert_eq!(reg.len(), 2);
        assert_eq!(count_ok(&a, Priority::Send), 2);
        assert!(b.try_acquire(Priority::Send).is_err());
        assert!(c.try_acquire(Priority::Send).is_ok());
        // budget_with does not replace an existing budget.
        let d = reg.budget_with(&t1, frozen(9), 1);
        assert!(d.same_budget(&a) && d.quota() == frozen(2));
        let dbg = format!("{reg:?} {a:?}");
        assert!(!dbg.contains("secret"), "{dbg}");
        assert!(reg.remove(&t1));
        assert!(!reg.budget(&t1).same_budget(&a));
    }
}
