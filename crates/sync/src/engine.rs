//! Polling accounts: one poll of one account ([`Engine::poll_account`]) and the loop that
//! schedules polls of all of them ([`Engine::run`]).
//!
//! A poll pages `/events` from the stored cursor until WB has nothing more; each page is
//! stored with its cursor in one transaction, so a crash anywhere loses nothing and a restart
//! resumes where the last committed page ended (duplicates are no-ops by event id). 401/403
//! mark the account `token_invalid` and it is not polled again until its token is replaced;
//! 429 and transient errors back off as WB asks or exponentially.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use domain::{AccountId, AccountState};
use rand::SeedableRng;
use rand::rngs::StdRng;
use store::{IngestPage, PollTarget, Store, StoreError};
use tokio::sync::{Semaphore, broadcast};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use wb::{ApiToken, BudgetRegistry, Client, ClientConfig, RetryConfig, WbError};

use crate::mapping;
use crate::schedule::{Cadence, LastPoll};

/// Tunables of the engine.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub cadence: Cadence,
    /// Pages one poll takes at most before yielding to other accounts (the cursor is kept).
    pub max_pages_per_poll: u32,
    /// How often `/chats` is merged per account (also on the first poll and after new chats).
    pub chats_merge_every: Duration,
    /// Polls running at once across all accounts.
    pub concurrency: usize,
    /// How often the account list is re-read from the store.
    pub refresh_every: Duration,
    pub client_timeout: Duration,
    pub retry: RetryConfig,
    /// WB's per-seller quota, shared by every call of one token.
    pub quota: wb::Quota,
    /// Cells of the budget that polls leave for sends.
    pub poll_reserve: u32,
    /// Where downloaded attachments are kept (`<data_dir>/attachments`); `None` downloads
    /// them on every request without keeping them.
    pub attachment_cache: Option<crate::attachments::AttachmentCache>,
    /// How attachment downloads wait through WB's moderation (202).
    pub downloads: crate::attachments::DownloadPolicy,
    /// How long an `unknown` reply waits for its echo before it may be re-sent (and only once
    /// a poll that began after the attempt has completed without finding it).
    pub outbox_resend_after: Duration,
    /// How often the sender looks for due replies.
    pub outbox_tick: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            cadence: Cadence::default(),
            max_pages_per_poll: 200,
            chats_merge_every: Duration::from_secs(300),
            concurrency: 64,
            refresh_every: Duration::from_secs(2),
            client_timeout: Duration::from_secs(30),
            retry: RetryConfig::default(),
            quota: wb::limiter::wb_chat_quota(),
            poll_reserve: wb::limiter::DEFAULT_POLL_RESERVE,
            attachment_cache: None,
            downloads: crate::attachments::DownloadPolicy::default(),
            outbox_resend_after: Duration::from_secs(30),
            outbox_tick: Duration::from_millis(200),
        }
    }
}

/// Why a poll failed, in the terms that decide what happens to the account.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// 401/403: the token is wrong or lacks the "Buyer chat" category.
    #[error("WB refused the token: {0}")]
    TokenInvalid(#[source] WbError),
    /// 429 beyond what the client waits through.
    #[error("WB rate limit: retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// 5xx, network, timeout, an unreadable answer: try again later.
    #[error("WB call failed: {0}")]
    Wb(#[source] WbError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl From<WbError> for SyncError {
    fn from(e: WbError) -> Self {
        match e {
            WbError::Unauthorized(_) | WbError::Forbidden(_) | WbError::PaymentRequired(_) => {
                SyncError::TokenInvalid(e)
            }
            WbError::RateLimited { retry_after } => SyncError::RateLimited { retry_after },
            other => SyncError::Wb(other),
        }
    }
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    pub pages: u64,
    pub events: u64,
    pub inserted: u64,
    pub duplicates: u64,
    /// Events WB sent without an id, chat or timestamp (cannot be stored).
    pub skipped: u64,
    pub chats_created: u64,
    /// Whether the poll stopped at `max_pages_per_poll` with more to fetch.
    pub more: bool,
}

/// Progress of a long poll, for `agentiq sync --once`'s progress bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    Page {
        account: AccountId,
        report: PollReport,
    },
    /// Waits for the rate budget so far in this poll.
    Waiting {
        account: AccountId,
        waits: u64,
        waited: Duration,
    },
}

/// A change the UI may want to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// New messages were stored for this account.
    NewMessages { account: AccountId, count: u64 },
    /// The account's state changed.
    AccountState {
        account: AccountId,
        state: AccountState,
    },
    /// A chat of this account was escalated (see [`crate::escalation`]).
    Escalation {
        account: AccountId,
        chat: domain::ChatRowId,
        kind: domain::EscalationKind,
        client_name: Option<String>,
    },
}

/// Per-account schedule kept in memory (the durable part lives in the store).
#[derive(Debug, Clone, Copy)]
struct Slot {
    due: Instant,
    running: bool,
    empty_streak: u32,
    last_activity: Option<Instant>,
}

/// The sync engine. Cheap to share (`Arc`); one per process.
#[derive(Debug)]
pub struct Engine {
    store: Store,
    registry: BudgetRegistry,
    pub(crate) config: SyncConfig,
    clients: Mutex<HashMap<AccountId, Client>>,
    open: Mutex<HashMap<AccountId, Instant>>,
    notices: broadcast::Sender<Notice>,
    /// Per account, when the last poll that reached the end of WB's feed *began* (Unix ms):
    /// anything WB accepted before that moment would have been seen by it.
    complete_poll_began: Mutex<HashMap<AccountId, i64>>,
    /// One connection pool for every account's client (made on first use).
    http: Mutex<Option<wb::HttpPool>>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Engine {
    pub fn new(store: Store, config: SyncConfig) -> Arc<Self> {
        let registry = BudgetRegistry::new(config.quota, config.poll_reserve);
        let (notices, _) = broadcast::channel(1024);
        Arc::new(Self {
            store,
            registry,
            config,
            clients: Mutex::new(HashMap::new()),
            open: Mutex::new(HashMap::new()),
            notices,
            complete_poll_began: Mutex::new(HashMap::new()),
            http: Mutex::new(None),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// When the last poll of `account` that reached the end of WB's feed began, if one has
    /// completed since this process started.
    pub fn complete_poll_began(&self, account: AccountId) -> Option<i64> {
        lock(&self.complete_poll_began).get(&account).copied()
    }

    /// The budgets of all tokens; the outbox sender draws from the same ones.
    pub fn registry(&self) -> &BudgetRegistry {
        &self.registry
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// The sender of [`Engine::subscribe`]'s notices, for other loops of this process (the
    /// escalation scanner) to announce theirs.
    pub fn notices(&self) -> broadcast::Sender<Notice> {
        self.notices.clone()
    }

    /// An operator has this account's inbox open: poll it at the active cadence for a while.
    pub fn mark_open(&self, account: AccountId) {
        lock(&self.open).insert(account, Instant::now());
    }

    /// Forgets the cached client (call after the account's token was replaced).
    pub fn forget_client(&self, account: AccountId) {
        lock(&self.clients).remove(&account);
    }

    /// The WB client of an account, sharing the token's budget with every other client of it.
    pub async fn client(&self, target: &PollTarget) -> Result<Client, SyncError> {
        self.client_for(&target.account).await
    }

    /// [`Engine::client`] for an account.
    pub async fn client_for(&self, account: &store::Account) -> Result<Client, SyncError> {
        let id = account.id;
        if let Some(c) = lock(&self.clients).get(&id) {
            return Ok(c.clone());
        }
        let token = self.store.account_token(id).await?;
        let mut config = ClientConfig::new(ApiToken::new(token.expose()));
        if let Some(url) = &account.api_base_url {
            config.base_url = url.clone();
        }
        config.timeout = self.config.client_timeout;
        config.retry = self.config.retry.clone();
        config.quota = self.config.quota;
        config.poll_reserve = self.config.poll_reserve;
        let pool = {
            let mut http = lock(&self.http);
            match &*http {
                Some(p) => p.clone(),
                None => {
                    let p = wb::HttpPool::new(Duration::from_secs(10)).map_err(SyncError::Wb)?;
                    *http = Some(p.clone());
                    p
                }
            }
        };
        let budget = self
            .registry
            .budget_with(&config.token, config.quota, config.poll_reserve);
        let client = Client::with_pool(config, budget, &pool).map_err(SyncError::Wb)?;
        lock(&self.clients).insert(id, client.clone());
        Ok(client)
    }

    /// Polls one account until WB has nothing more (or `max_pages_per_poll`), storing each page
    /// with its cursor in one transaction. Records success or failure on the account.
    pub async fn poll_account(
        &self,
        target: &PollTarget,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<PollReport, SyncError> {
        let began = now_ms();
        let result = self.poll_inner(target, progress).await;
        let id = target.account.id;
        match &result {
            Ok(report) => {
                self.store.record_sync_success(id).await?;
                if !report.more {
                    lock(&self.complete_poll_began).insert(id, began);
                }
                if report.inserted > 0 {
                    let _ = self.notices.send(Notice::NewMessages {
                        account: id,
                        count: report.inserted,
                    });
                }
            }
            Err(e) => self.record_failure(target, e).await?,
        }
        result
    }

    async fn record_failure(&self, target: &PollTarget, e: &SyncError) -> Result<(), StoreError> {
        let id = target.account.id;
        let (state, backoff) = match e {
            SyncError::TokenInvalid(_) => (AccountState::TokenInvalid, None),
            SyncError::RateLimited { retry_after } => (
                AccountState::RateLimited,
                Some(now_ms() + i64::try_from(retry_after.as_millis()).unwrap_or(60_000)),
            ),
            SyncError::Wb(_) | SyncError::Store(_) => (AccountState::Error, None),
        };
        tracing::warn!(account = %id, state = %state, error = %e, "sync failed");
        self.store
            .record_sync_failure(id, state, &e.to_string(), backoff)
            .await?;
        if state != target.account.state {
            let _ = self
                .notices
                .send(Notice::AccountState { account: id, state });
        }
        if state == AccountState::TokenInvalid {
            self.forget_client(id);
        }
        Ok(())
    }

    async fn poll_inner(
        &self,
        target: &PollTarget,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<PollReport, SyncError> {
        let id = target.account.id;
        let client = self.client(target).await?;
        let mut report = PollReport::default();
        let mut cursor = self.store.sync_state(id).await?.next_cursor;
        let merge_due = target.sync.chats_merged_at_ms.is_none_or(|at| {
            now_ms() - at > i64::try_from(self.config.chats_merge_every.as_millis()).unwrap_or(0)
        });
        let max_pages = u64::from(self.config.max_pages_per_poll);
        // The next page is fetched while the current one is stored: its cursor is known
        // before the commit, and a failed commit just discards it.
        let mut fetched = (max_pages > 0).then_some(client.events(cursor).await);
        loop {
            let Some(page) = fetched.take() else {
                report.more = true;
                break;
            };
            let page = page?;
            report.pages += 1;
            if page.is_last() || page.events.is_empty() {
                break;
            }
            let Some(next) = page.next.filter(|n| cursor.is_none_or(|c| *n >= c)) else {
                // A page without a usable cursor cannot be committed safely; stop here and
                // ask again next time from the stored cursor.
                tracing::warn!(account = %id, "WB sent a page without a forward cursor");
                break;
            };
            let (events, skipped) = mapping::messages(&page.events);
            report.events += page.events.len() as u64;
            report.skipped += skipped as u64;
            let batch = IngestPage {
                events,
                next_cursor: next,
            };
            let ingest = self.store.ingest_page(id, &batch);
            let outcome = if report.pages < max_pages {
                let (outcome, prefetched) = tokio::join!(ingest, client.events(Some(next)));
                fetched = Some(prefetched);
                outcome?
            } else {
                ingest.await?
            };
            report.inserted += outcome.inserted;
            report.duplicates += outcome.duplicates;
            report.chats_created += outcome.chats_created;
            cursor = Some(next);
            progress(Progress::Page {
                account: id,
                report,
            });
            let waits = client.budget().wait_stats();
            if waits.waits > 0 {
                progress(Progress::Waiting {
                    account: id,
                    waits: waits.waits,
                    waited: waits.waited,
                });
            }
        }
        if merge_due || report.chats_created > 0 {
            // Enrichment only: chats already exist from events. A failure here is not a
            // failed poll (the messages are stored); it is retried at the next poll.
            match client.chats().await {
                Ok(chats) => {
                    let snapshots = mapping::chat_snapshots(&chats.chats);
                    self.store.merge_chats(id, &snapshots).await?;
                }
                Err(e) if e.is_auth() => return Err(e.into()),
                Err(e) => tracing::debug!(account = %id, error = %e, "chats merge skipped"),
            }
        }
        Ok(report)
    }

    /// Polls every pollable account (or one) once until each has nothing more.
    pub async fn sync_once(
        &self,
        account: Option<AccountId>,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Vec<(AccountId, Result<PollReport, SyncError>)>, StoreError> {
        let targets = self.store.accounts_to_poll().await?;
        let mut results = Vec::new();
        for target in targets
            .into_iter()
            .filter(|t| account.is_none_or(|a| a == t.account.id))
        {
            let mut total = PollReport::default();
            let outcome = loop {
                match self.poll_account(&target, progress).await {
                    Ok(r) => {
                        total.pages += r.pages;
                        total.events += r.events;
                        total.inserted += r.inserted;
                        total.duplicates += r.duplicates;
                        total.skipped += r.skipped;
                        total.chats_created += r.chats_created;
                        if !r.more {
                            break Ok(total);
                        }
                    }
                    Err(e) => break Err(e),
                }
            };
            results.push((target.account.id, outcome));
        }
        Ok(results)
    }

    /// Polls all accounts on their schedules until `stop` is cancelled.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let slots: Arc<Mutex<HashMap<AccountId, Slot>>> = Arc::default();
        let permits = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let mut rng = StdRng::from_rng(&mut rand::rng());
        let mut targets: Vec<PollTarget> = Vec::new();
        let mut refreshed: Option<Instant> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            let now = Instant::now();
            if refreshed.is_none_or(|r| now.duration_since(r) >= self.config.refresh_every) {
                match self.store.accounts_to_poll().await {
                    Ok(t) => {
                        targets = t;
                        refreshed = Some(now);
                        let mut slots = lock(&slots);
                        slots.retain(|id, _| targets.iter().any(|t| t.account.id == *id));
                        for t in &targets {
                            slots.entry(t.account.id).or_insert_with(|| Slot {
                                // Spread the first polls over the first second.
                                due: now + Duration::from_millis(rand::random_range(0..1000)),
                                running: false,
                                empty_streak: 0,
                                last_activity: None,
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot read accounts to poll"),
                }
            }
            for target in &targets {
                let id = target.account.id;
                let backoff_until = target.sync.backoff_until_ms;
                {
                    let mut slots = lock(&slots);
                    let Some(slot) = slots.get_mut(&id) else {
                        continue;
                    };
                    if slot.running || slot.due > now {
                        continue;
                    }
                    if backoff_until.is_some_and(|b| b > now_ms())
                        && slot.empty_streak == 0
                        && slot.last_activity.is_none()
                    {
                        // A fresh process respects a backoff recorded by the previous one.
                        let wait =
                            u64::try_from(backoff_until.unwrap_or(0) - now_ms()).unwrap_or(0);
                        slot.due = now + Duration::from_millis(wait);
                        slot.empty_streak = 1;
                        continue;
                    }
                    slot.running = true;
                }
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    if let Some(slot) = lock(&slots).get_mut(&id) {
                        slot.running = false;
                    }
                    break;
                };
                let engine = Arc::clone(&self);
                let slots = Arc::clone(&slots);
                let target = target.clone();
                let seed: u64 = rand::Rng::random(&mut rng);
                tokio::spawn(async move {
                    let _permit = permit;
                    let result = engine.poll_account(&target, &mut |_| {}).await;
                    let open = lock(&engine.open)
                        .get(&id)
                        .is_some_and(|at| at.elapsed() < engine.config.cadence.active_window);
                    let mut slots = lock(&slots);
                    let Some(slot) = slots.get_mut(&id) else {
                        return;
                    };
                    let last = match &result {
                        Ok(r) if r.inserted > 0 || r.more => {
                            slot.empty_streak = 0;
                            slot.last_activity = Some(Instant::now());
                            LastPoll::Activity
                        }
                        Ok(_) => {
                            slot.empty_streak = slot.empty_streak.saturating_add(1);
                            LastPoll::Empty {
                                streak: slot.empty_streak,
                            }
                        }
                        Err(SyncError::RateLimited { retry_after }) => LastPoll::RateLimited {
                            retry_after: *retry_after,
                        },
                        Err(SyncError::TokenInvalid(_)) => {
                            // Not polled again until the token is replaced (the account then
                            // comes back as active and gets a fresh slot).
                            slot.due = Instant::now() + Duration::from_secs(24 * 3600);
                            slot.running = false;
                            return;
                        }
                        Err(_) => {
                            slot.empty_streak = slot.empty_streak.saturating_add(1);
                            LastPoll::Failed {
                                failures: slot.empty_streak,
                            }
                        }
                    };
                    let since = slot.last_activity.map(|a| a.elapsed());
                    let delay = engine.config.cadence.next_delay(
                        last,
                        since,
                        open,
                        &mut StdRng::seed_from_u64(seed),
                    );
                    slot.due = Instant::now() + delay;
                    slot.running = false;
                });
            }
        }
    }
}
