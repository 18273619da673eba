//! The outbox sender: delivers every queued reply exactly once.
//!
//! A row is committed as `sending` before its request leaves ([`store::Store::begin_send`]).
//! Then: 200 → `sent`; 400 and other final refusals → `failed` with WB's reason; 429 or a
//! connection that was never made → back to `queued` (WB provably has nothing); a timeout, a
//! reset or a 5xx after the request left → `unknown`. An `unknown` row (also every row a crash
//! left in `sending`) is resolved by its echo — the seller event in that chat with the same
//! text, not older than the first attempt — and re-sent only when no echo has arrived within
//! `outbox_resend_after` *and* a poll that began after the attempt has completed. Sends share
//! the token's rate budget with polls and go first (polls leave a reserve).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use domain::{AccountId, OutboxState};
use store::{OutboxJob, StoreError};
use tokio_util::sync::CancellationToken;
use wb::{OutgoingFile, WbError};

use crate::engine::{Engine, SyncError, lock, now_ms};

/// How a reply without a chat signature waits for one (the chat's `isNewChat` event or `/chats`).
const NO_SIGN_RETRY: Duration = Duration::from_secs(5);
/// A reply whose chat has had no signature for this long fails with an explanation.
const NO_SIGN_GIVE_UP_ATTEMPTS: i64 = 60;

/// What one attempt ended in (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    Sent,
    Failed(String),
    Unknown(String),
    Requeued(String),
    /// Another sender had already taken the row.
    Skipped,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// WB's words for a refusal, for the operator.
fn refusal(e: &WbError) -> String {
    match e {
        WbError::BadRequest(body) => {
            let detail = body
                .detail
                .as_deref()
                .or(body.error.as_deref())
                .or(body.title.as_deref())
                .unwrap_or("без пояснений");
            format!("WB отклонил сообщение: {detail}")
        }
        WbError::Unauthorized(_) | WbError::Forbidden(_) | WbError::PaymentRequired(_) => {
            "WB не принял токен аккаунта: замените токен и повторите отправку".to_owned()
        }
        WbError::InvalidInput(m) => format!("сообщение не может быть отправлено: {m}"),
        other => other.to_string(),
    }
}

impl Engine {
    /// Sends one queued reply. The row must be a fresh [`store::Store::due_replies`] job.
    pub async fn send_reply(&self, job: &OutboxJob) -> Result<SendOutcome, SyncError> {
        let store = self.store();
        let Some(sign) = &job.reply_sign else {
            if job.attempts >= NO_SIGN_GIVE_UP_ATTEMPTS {
                let reason = "у чата нет подписи WB (replySign): ответить в этот чат нельзя";
                store.mark_failed(job.id, reason).await?;
                return Ok(SendOutcome::Failed(reason.to_owned()));
            }
            // Count the wait as an attempt without sending anything.
            store
                .requeue(
                    job.id,
                    now_ms() + ms(NO_SIGN_RETRY),
                    "ждём подпись чата от WB (replySign)",
                )
                .await?;
            return Ok(SendOutcome::Requeued("no reply sign yet".into()));
        };
        let account = store.get_account(job.workspace_id, job.account_id).await?;
        let client = self.client_for(&account).await?;
        if !store.begin_send(job.id).await? {
            return Ok(SendOutcome::Skipped);
        }
        let files: Vec<OutgoingFile> = job
            .files
            .iter()
            .map(|f| OutgoingFile {
                name: f.name.clone(),
                content_type: f.content_type.clone(),
                bytes: Bytes::from(f.bytes.clone()),
            })
            .collect();
        let text = (!job.text.trim().is_empty()).then_some(job.text.as_str());
        let outcome = match client.send_message(sign, text, files).await {
            Ok(result) => {
                store.mark_sent(job.id, result.add_time).await?;
                SendOutcome::Sent
            }
            Err(WbError::RateLimited { retry_after }) => {
                let reason = "лимит запросов WB: отправим позже";
                store
                    .requeue(job.id, now_ms() + ms(retry_after), reason)
                    .await?;
                SendOutcome::Requeued(reason.into())
            }
            Err(
                e @ (WbError::Network {
                    maybe_sent: false, ..
                }
                | WbError::Timeout {
                    maybe_sent: false, ..
                }),
            ) => {
                let reason = format!("WB недоступен, сообщение не ушло: {e}");
                store
                    .requeue(
                        job.id,
                        now_ms() + ms(self.config.cadence.active * 2),
                        &reason,
                    )
                    .await?;
                SendOutcome::Requeued(reason)
            }
            Err(
                e @ (WbError::Timeout { .. }
                | WbError::Network { .. }
                | WbError::Server { .. }
                | WbError::Unexpected { .. }
                | WbError::Decode { .. }),
            ) => {
                // The request left; WB may have carried it out. The echo decides.
                let reason = format!("ответ WB не получен ({e}): проверяем, дошло ли сообщение");
                store.mark_unknown(job.id, &reason).await?;
                SendOutcome::Unknown(reason)
            }
            Err(e) => {
                let reason = refusal(&e);
                store.mark_failed(job.id, &reason).await?;
                SendOutcome::Failed(reason)
            }
        };
        tracing::info!(outbox = %job.id, account = %job.account_id, ?outcome, "reply attempt");
        Ok(outcome)
    }

    /// Resolves `unknown` rows by their echo, links `sent` rows to theirs, and re-queues the
    /// ones WB provably does not have. Returns how many rows changed.
    pub async fn resolve_unknown_replies(&self) -> Result<u64, StoreError> {
        let store = self.store();
        let mut changed = 0;
        for row in store.unresolved_sends(500).await? {
            // An echo carries WB's clock; allow a little skew against ours.
            let since = row.first_sent_at_ms - 5_000;
            if store
                .claim_echo(row.id, row.chat_id, &row.text, since)
                .await?
                .is_some()
            {
                changed += 1;
                continue;
            }
            if row.state != OutboxState::Unknown {
                continue;
            }
            let waited = now_ms() - row.send_started_at_ms;
            if waited < ms(self.config.outbox_resend_after) {
                continue;
            }
            // Only a poll that *began* after the attempt (plus a second of slack) and read WB's
            // feed to the end can prove the message is not at WB.
            let polled_after = self
                .complete_poll_began(row.account_id)
                .is_some_and(|t| t > row.send_started_at_ms + 1_000);
            if polled_after
                && store
                    .requeue(
                        row.id,
                        now_ms(),
                        "WB не получил сообщение: отправляем снова",
                    )
                    .await?
            {
                tracing::warn!(outbox = %row.id, "no echo after the attempt: re-sending");
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// Delivers replies until `stop`: at start every interrupted attempt becomes `unknown`;
    /// then due rows are sent (one at a time per account, accounts in parallel) and unknown
    /// ones resolved.
    pub async fn run_outbox(self: Arc<Self>, stop: CancellationToken) {
        match self.store().recover_interrupted_sends().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(rows = n, "replies interrupted by a restart: resolving"),
            Err(e) => tracing::error!(error = %e, "cannot recover interrupted replies"),
        }
        let busy: Arc<Mutex<HashSet<AccountId>>> = Arc::default();
        let mut tick = tokio::time::interval(self.config.outbox_tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            if let Err(e) = self.resolve_unknown_replies().await {
                tracing::error!(error = %e, "cannot resolve unknown replies");
            }
            let jobs = match self.store().due_replies(200).await {
                Ok(j) => j,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    continue;
                }
            };
            let mut per_account: Vec<(AccountId, Vec<OutboxJob>)> = Vec::new();
            for job in jobs {
                match per_account.iter_mut().find(|(a, _)| *a == job.account_id) {
                    Some((_, v)) => v.push(job),
                    None => per_account.push((job.account_id, vec![job])),
                }
            }
            for (account, jobs) in per_account {
                if !lock(&busy).insert(account) {
                    continue;
                }
                let engine = Arc::clone(&self);
                let busy = Arc::clone(&busy);
                tokio::spawn(async move {
                    for job in jobs {
                        if let Err(e) = engine.send_reply(&job).await {
                            tracing::error!(outbox = %job.id, error = %e, "reply attempt failed");
                        }
                    }
                    lock(&busy).remove(&account);
                });
            }
        }
    }
}
