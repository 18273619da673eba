//! The shared state of a running sandbox: the world, faults, rate limiters, statistics.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

type Limiter = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::faults::{FaultKind, FaultSpec};
use crate::model::{Seller, World};
use crate::seed;

/// WB's limit for chat methods is 10 requests per 10 s with bursts of 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub burst: u32,
    pub period: Duration,
}

impl RateLimit {
    pub const WB: RateLimit = RateLimit {
        burst: 10,
        period: Duration::from_secs(10),
    };
}

impl std::str::FromStr for RateLimit {
    type Err = String;

    /// Parses `BURST/SECONDS`, e.g. `10/10`.
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || format!("rate limit {s:?} is not BURST/SECONDS, e.g. 10/10");
        let (b, p) = s.split_once('/').ok_or_else(err)?;
        let burst: u32 = b.trim().parse().map_err(|_| err())?;
        let secs: f64 = p.trim().parse().map_err(|_| err())?;
        if burst == 0 || !(secs > 0.0 && secs.is_finite()) {
            return Err(err());
        }
        Ok(RateLimit {
            burst,
            period: Duration::from_secs_f64(secs),
        })
    }
}

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// One seller per token.
    pub tokens: Vec<String>,
    /// Seeded chats per seller.
    pub chats: usize,
    /// Extra seeded messages per chat (longer conversations); 0 by default.
    pub followups_per_chat: usize,
    pub seed: u64,
    pub page_size: usize,
    /// `None` switches the rate limit off.
    pub rate_limit: Option<RateLimit>,
    pub faults: FaultSpec,
    /// Simulated buyer messages per minute across all sellers; 0 for none.
    pub traffic_per_min: f64,
    /// How long a `timeout` fault holds a request before answering 504.
    pub timeout_hold: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            chats: 5,
            followups_per_chat: 0,
            seed: 1,
            page_size: 50,
            rate_limit: Some(RateLimit::WB),
            faults: FaultSpec::none(),
            traffic_per_min: 0.0,
            timeout_hold: Duration::from_secs(30),
        }
    }
}

/// What a seller holds, for the start-up banner.
#[derive(Debug, Clone)]
pub struct SellerSummary {
    pub token_hint: String,
    pub chats: usize,
    pub events: usize,
}

/// A per-seller limiter's verdict for one request.
#[derive(Debug, Clone, Copy)]
pub enum RateVerdict {
    /// Allowed; `remaining` requests left in the burst.
    Allowed {
        remaining: u32,
    },
    /// Over the limit: retry after `retry`, full burst after `reset`.
    Limited {
        retry: Duration,
        reset: Duration,
        limit: u32,
    },
    Unlimited,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub config: SandboxConfig,
    pub world: Mutex<World>,
    pub faults: Mutex<FaultSpec>,
    pub stats: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    pub limiters: Vec<Option<Limiter>>,
    pub rng: Mutex<StdRng>,
}

/// A running sandbox's state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Sandbox {
    /// Builds the world: one seeded seller per token.
    pub fn new(config: SandboxConfig) -> Self {
        let now = now_ms();
        let mut world = World::default();
        for (i, token) in config.tokens.iter().enumerate() {
            let seller_seed = config.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
            let mut seller = Seller::new(i, token.clone(), seller_seed);
            seed::seed_seller_with(&mut seller, config.chats, config.followups_per_chat, now);
            world.add_seller(seller);
        }
        let limiters = config
            .tokens
            .iter()
            .map(|_| config.rate_limit.map(limiter))
            .collect();
        let rng = StdRng::seed_from_u64(config.seed ^ 0x5eed);
        Self {
            inner: Arc::new(Inner {
                faults: Mutex::new(config.faults.clone()),
                config,
                world: Mutex::new(world),
                stats: Mutex::new(BTreeMap::new()),
                limiters,
                rng: Mutex::new(rng),
            }),
        }
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    pub fn summaries(&self) -> Vec<SellerSummary> {
        let world = lock(&self.inner.world);
        world
            .sellers
            .iter()
            .map(|s| SellerSummary {
                token_hint: s.token.chars().take(4).collect(),
                chats: s.chats.iter().filter(|c| c.first_event.is_some()).count(),
                events: s.events.len(),
            })
            .collect()
    }

    pub fn set_faults(&self, spec: FaultSpec) {
        *lock(&self.inner.faults) = spec;
    }

    pub fn faults(&self) -> FaultSpec {
        lock(&self.inner.faults).clone()
    }

    pub(crate) fn fault_fires(&self, kind: FaultKind) -> bool {
        let spec = lock(&self.inner.faults);
        let mut rng = lock(&self.inner.rng);
        spec.fires(kind, &mut *rng)
    }

    pub(crate) fn record(&self, route: &str, outcome: &str) {
        let mut stats = lock(&self.inner.stats);
        *stats
            .entry(route.to_owned())
            .or_default()
            .entry(outcome.to_owned())
            .or_default() += 1;
    }

    pub fn stats(&self) -> BTreeMap<String, BTreeMap<String, u64>> {
        lock(&self.inner.stats).clone()
    }

    pub(crate) fn seller_of(&self, token: &str) -> Option<usize> {
        lock(&self.inner.world).seller_index(token)
    }

    pub(crate) fn check_rate(&self, seller: usize) -> RateVerdict {
        let Some(Some(limiter)) = self.inner.limiters.get(seller) else {
            return RateVerdict::Unlimited;
        };
        let Some(limit) = self.inner.config.rate_limit else {
            return RateVerdict::Unlimited;
        };
        let interval = limit.period / limit.burst;
        match limiter.check() {
            Ok(snapshot) => RateVerdict::Allowed {
                remaining: snapshot.remaining_burst_capacity(),
            },
            Err(not_until) => {
                let retry = not_until.wait_time_from(DefaultClock::default().now());
                RateVerdict::Limited {
                    retry,
                    reset: retry + interval * (limit.burst - 1),
                    limit: limit.burst,
                }
            }
        }
    }
}

fn limiter(limit: RateLimit) -> Limiter {
    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
    let interval = (limit.period / burst.get()).max(Duration::from_nanos(1));
    // `with_period` only fails on a zero period, which the max above rules out.
    let quota = Quota::with_period(interval)
        .unwrap_or_else(|| Quota::per_second(burst))
        .allow_burst(burst);
    RateLimiter::direct(quota).with_middleware::<StateInformationMiddleware>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rate_limits() {
        assert_eq!("10/10".parse(), Ok(RateLimit::WB));
        assert_eq!(
            "3/0.5".parse(),
            Ok(RateLimit {
                burst: 3,
                period: Duration::from_millis(500)
            })
        );
        assert!("0/10".parse::<RateLimit>().is_err());
        assert!("10".parse::<RateLimit>().is_err());
        assert!("a/b".parse::<RateLimit>().is_err());
    }

    #[test]
    fn burst_then_limited_with_retry_hint() {
        let sb = Sandbox::new(SandboxConfig {
            tokens: vec!["T".into()],
            chats: 1,
            rate_limit: Some(RateLimit {
                burst: 3,
                period: Duration::from_secs(60),
            }),
            ..SandboxConfig::default()
        });
        let remaining: Vec<u32> = (0..3)
            .map(|_| match sb.check_rate(0) {
                RateVerdict::Allowed { remaining } => remaining,
                other => panic!("expected allowed, got {other:?}"),
            })
            .collect();
        assert_eq!(remaining, vec![2, 1, 0]);
        match sb.check_rate(0) {
            RateVerdict::Limited { retry, limit, .. } => {
                assert_eq!(limit, 3);
                assert!(retry > Duration::from_secs(1) && retry <= Duration::from_secs(20));
            }
            other => panic!("expected limited, got {other:?}"),
        }
    }

    #[test]
    fn sellers_are_seeded_apart() {
        let sb = Sandbox::new(SandboxConfig {
            tokens: vec!["A".into(), "B".into()],
            chats: 3,
            ..SandboxConfig::default()
        });
        let s = sb.summaries();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].chats, 3);
        let world = lock(&sb.inner.world);
        assert_ne!(
            world.sellers[0].chats[0].chat_id,
            world.sellers[1].chats[0].chat_id
        );
    }
}
