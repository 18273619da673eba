//! Outgoing webhooks: escalations posted to the workspace's URL, signed, retried with backoff.
//!
//! This module owns the webhook's wire format — the JSON body ([`payload`], built when the
//! escalation fires and stored with the delivery, so every attempt posts the same bytes), the
//! headers and the signature ([`sign`]) — and the retry schedule ([`backoff`]). Each due
//! delivery is posted once per [`deliver_due`] call: a 2xx marks it delivered; anything else
//! (another status, a timeout, a refused connection) counts an attempt, stores the error for
//! the operator and schedules the next one, until [`DeliveryPolicy::max_attempts`] make it
//! `failed`. Time comes from the caller, so tests move it without sleeping. It must not decide
//! what escalates (the scanner calls [`store::Store::fire_escalation`] with [`payload`]) and
//! touches the store only through its delivery calls.
//!
//! The receiver checks `X-AgentIQ-Signature` = `sha256=` + hex HMAC-SHA256 under the shared
//! secret of `"{X-AgentIQ-Timestamp}.{body}"`, and should reject old timestamps (replays).
//! Delivery is at least once: a receiver that answered 2xx too late may see a delivery again
//! with the same `X-AgentIQ-Delivery`, and should ignore repeats by that id.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Duration;

use domain::WorkspaceId;
use domain::triage::EscalationKind;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;
use store::{EscalationEvent, Secret, Store, StoreError, WebhookDelivery};
use tokio_util::sync::CancellationToken;

/// The event type of a post: `X-AgentIQ-Event` and the body's `type`.
pub const EVENT_HEADER: &str = "x-agentiq-event";
/// Our id of the delivery; the same on every retry of it.
pub const DELIVERY_HEADER: &str = "x-agentiq-delivery";
/// Unix seconds when the attempt was signed.
pub const TIMESTAMP_HEADER: &str = "x-agentiq-timestamp";
/// `sha256=<hex>` of HMAC-SHA256(secret, "{timestamp}.{body}").
pub const SIGNATURE_HEADER: &str = "x-agentiq-signature";

/// Whole-request timeout of one attempt.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Waits after the 1st, 2nd, … failed attempt; after the last one, hourly.
const BACKOFF: &[Duration] = &[
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(3600),
];

/// Recorded on deliveries whose workspace's secret does not decrypt (the store's key changed).
const UNDECRYPTABLE: &str = "секрет вебхука не расшифровывается: задайте его заново в настройках";

/// What went wrong outside a single delivery (those are recorded on the delivery itself).
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The HTTP client could not be built.
    #[error("webhook HTTP client: {0}")]
    Client(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// How deliveries are attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// After this many failed attempts a delivery is given up (`failed`).
    pub max_attempts: i64,
    /// At most this many deliveries per [`deliver_due`] call.
    pub batch: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            batch: 100,
        }
    }
}

/// What one [`deliver_due`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Requests that left (or tried to).
    pub attempted: u64,
    pub delivered: u64,
    /// Failed attempts that will be retried.
    pub retrying: u64,
    /// Deliveries given up in this call.
    pub failed: u64,
}

/// The event type of an escalation kind: `chat.negative_review`, `chat.due_soon`,
/// `chat.breached`.
pub fn event_type(kind: EscalationKind) -> &'static str {
    match kind {
        EscalationKind::NegativeReview => "chat.negative_review",
        EscalationKind::DueSoon => "chat.due_soon",
        EscalationKind::Breached => "chat.breached",
    }
}

/// The JSON body of an escalation; pass it to [`store::Store::fire_escalation`]. `id` is the
/// notification's id (one delivery per notification); times are Unix milliseconds.
pub fn payload(event: &EscalationEvent) -> String {
    let last_message = event.last_message_at_ms.map(|at| {
        json!({
            "text": event.last_message_text.as_deref().unwrap_or_default(),
            "at": at,
        })
    });
    json!({
        "id": event.notification_id.get(),
        "type": event_type(event.kind),
        "occurredAt": event.occurred_at_ms,
        "workspaceId": event.workspace_id.get(),
        "chat": {
            "id": event.chat_id.get(),
            "accountId": event.account_id.get(),
            "clientName": event.client_name,
            "priority": event.priority.as_str(),
            "dueAt": event.due_at_ms,
            "reviewWindowClosesAt": event.review_window_closes_at_ms,
            "lastMessage": last_message,
        },
    })
    .to_string()
}

/// `sha256=` + lower-case hex of HMAC-SHA256 under `secret` of `"{timestamp_s}.{body}"`.
pub fn sign(secret: &str, timestamp_s: i64, body: &str) -> String {
    // HMAC accepts keys of any length (long ones are hashed), so this cannot fail.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC-SHA256 takes keys of any length")
    };
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 2 * digest.len());
    out.push_str("sha256=");
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// How long to wait after the `attempts`-th failed attempt (1-based): 10 s, 30 s, 2 min,
/// 10 min, 30 min, 1 h, then hourly.
pub fn backoff(attempts: i64) -> Duration {
    let i = usize::try_from(attempts.max(1) - 1).unwrap_or(usize::MAX);
    BACKOFF
        .get(i)
        .or(BACKOFF.last())
        .copied()
        .unwrap_or(Duration::from_secs(3600))
}

/// The HTTP client for webhooks: [`REQUEST_TIMEOUT`] per request, no redirects (a signed
/// post goes where it was configured or nowhere). Installs the process's TLS provider.
pub fn http_client() -> Result<reqwest::Client, WebhookError> {
    // reqwest is built without a default crypto provider; install ring once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("agentiq-webhook/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| WebhookError::Client(e.to_string()))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How one attempt ended.
enum Attempt {
    Delivered,
    Failed(String),
}

/// Posts one delivery, signed with `secret` at `timestamp_s`.
async fn post(
    http: &reqwest::Client,
    delivery: &WebhookDelivery,
    secret: &Secret,
    timestamp_s: i64,
) -> Attempt {
    let signature = sign(secret.expose(), timestamp_s, &delivery.body);
    let sent = http
        .post(&delivery.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_HEADER, event_type(delivery.kind))
        .header(DELIVERY_HEADER, delivery.id.to_string())
        .header(TIMESTAMP_HEADER, timestamp_s.to_string())
        .header(SIGNATURE_HEADER, signature)
        .body(delivery.body.clone())
        .send()
        .await;
    match sent {
        Ok(resp) if resp.status().is_success() => Attempt::Delivered,
        Ok(resp) => Attempt::Failed(format!("получатель ответил HTTP {}", resp.status())),
        Err(e) if e.is_timeout() => Attempt::Failed(format!(
            "получатель не ответил за {} с",
            REQUEST_TIMEOUT.as_secs()
        )),
        Err(e) if e.is_connect() => Attempt::Failed(format!(
            "не удалось соединиться с получателем: {}",
            e.without_url()
        )),
        Err(e) => Attempt::Failed(format!("запрос не удался: {}", e.without_url())),
    }
}

/// Posts every delivery due at `now_ms` once (concurrently, at most `policy.batch`) and
/// records each outcome. Errors of single deliveries are recorded on them; only a failing
/// store ends the call early.
pub async fn deliver_due(
    store: &Store,
    http: &reqwest::Client,
    now_ms: i64,
    policy: &DeliveryPolicy,
) -> Result<DeliveryStats, WebhookError> {
    let due = store.due_webhook_deliveries(now_ms, policy.batch).await?;
    let mut stats = DeliveryStats::default();
    if due.is_empty() {
        return Ok(stats);
    }
    let mut secrets: HashMap<WorkspaceId, Result<Option<Secret>, String>> = HashMap::new();
    for d in &due {
        if let Entry::Vacant(slot) = secrets.entry(d.workspace_id) {
            slot.insert(match store.webhook_secret(d.workspace_id).await {
                Ok(s) => Ok(s),
                Err(StoreError::Crypto(e)) => {
                    tracing::error!(workspace = %d.workspace_id, error = %e, "cannot decrypt a webhook secret");
                    Err(UNDECRYPTABLE.to_owned())
                }
                Err(e) => return Err(e.into()),
            });
        }
    }
    let timestamp_s = now_ms.div_euclid(1000);
    let mut attempts = tokio::task::JoinSet::new();
    for d in due {
        let outcome = match secrets.get(&d.workspace_id) {
            Some(Ok(Some(secret))) => {
                let (http, secret) = (http.clone(), secret.clone());
                attempts.spawn(async move {
                    let outcome = post(&http, &d, &secret, timestamp_s).await;
                    (d, outcome)
                });
                continue;
            }
            // The webhook was removed since the delivery was queued.
            Some(Ok(None)) | None => Attempt::Failed("вебхук отключён в настройках".to_owned()),
            Some(Err(e)) => Attempt::Failed(e.clone()),
        };
        record(store, &d, outcome, now_ms, policy, &mut stats).await?;
    }
    while let Some(joined) = attempts.join_next().await {
        match joined {
            Ok((d, outcome)) => record(store, &d, outcome, now_ms, policy, &mut stats).await?,
            // A panicked attempt leaves its row pending; it is tried again next round.
            Err(e) => tracing::error!(error = %e, "a webhook attempt died"),
        }
    }
    Ok(stats)
}

async fn record(
    store: &Store,
    d: &WebhookDelivery,
    outcome: Attempt,
    now_ms: i64,
    policy: &DeliveryPolicy,
    stats: &mut DeliveryStats,
) -> Result<(), WebhookError> {
    stats.attempted += 1;
    match outcome {
        Attempt::Delivered => {
            store.mark_delivery_delivered(d.id, now_ms).await?;
            stats.delivered += 1;
            tracing::debug!(delivery = %d.id, "webhook delivered");
        }
        Attempt::Failed(error) => {
            let attempts = d.attempts + 1;
            let next = (attempts < policy.max_attempts)
                .then(|| now_ms.saturating_add(ms(backoff(attempts))));
            store
                .mark_delivery_attempt_failed(d.id, attempts, next, &error)
                .await?;
            if next.is_some() {
                stats.retrying += 1;
                tracing::info!(delivery = %d.id, attempts, error = %error, "webhook attempt failed; will retry");
            } else {
                stats.failed += 1;
                tracing::warn!(delivery = %d.id, attempts, error = %error, "webhook delivery given up");
            }
        }
    }
    Ok(())
}

/// The wall clock in Unix ms: the `clock` of [`run_webhooks`] outside tests.
pub fn wall_clock_ms() -> i64 {
    crate::engine::now_ms()
}

/// How often the running service looks for due deliveries.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Delivers due webhooks every `interval` until `stop`; `clock` gives now in Unix ms.
pub async fn run_webhooks(
    store: Store,
    http: reqwest::Client,
    clock: impl Fn() -> i64,
    interval: Duration,
    policy: DeliveryPolicy,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return,
        }
        let round = tokio::select! {
            r = deliver_due(&store, &http, clock(), &policy) => r,
            () = stop.cancelled() => return,
        };
        match round {
            Ok(stats) if stats.attempted > 0 => {
                tracing::debug!(?stats, "webhook round");
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "webhook round failed"),
        }
    }
}

#[cfg(test)]
mod tests;
