//! The escalation scanner: turns passing time into notifications.
//!
//! Ingest and operators keep each chat's `next_escalation_at` (when something may need
//! saying: a new negative-review chat, a deadline `lead` away, a deadline passed). Every tick
//! [`escalate_due`] takes the chats whose moment has come, asks
//! `domain::triage::escalation_plan` what is due at `now`, records each escalation through
//! `Store::fire_escalation` — at most once per (chat, kind, key), with its webhook delivery in
//! the same transaction — and moves the chat's next look (only if nobody rescheduled it
//! meanwhile). "Now" comes from a [`Clock`], so tests move time instead of sleeping. It must
//! not post webhooks itself ([`crate::webhook`] does) nor render anything.

use std::time::Duration;

use domain::triage::deadline::{EscalationInput, escalation_plan};
use store::{Clock, FiredEscalation, Store, StoreError};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::engine::Notice;

/// How often the scanner looks, by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Chats handled per store round trip.
const BATCH: u32 = 200;

/// What one [`escalate_due`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscalationStats {
    /// Chats whose moment had come.
    pub looked_at: u64,
    /// Escalations recorded now (each also queued for the webhook when one is set).
    pub fired: Vec<FiredEscalation>,
}

/// Fires every escalation due at `now_ms`. Safe to call repeatedly and from several places: a
/// (chat, kind, key) is recorded once.
pub async fn escalate_due(store: &Store, now_ms: i64) -> Result<EscalationStats, StoreError> {
    let mut stats = EscalationStats::default();
    loop {
        let due = store.due_escalations(now_ms, BATCH).await?;
        let full = due.len() == BATCH as usize;
        let mut moved = 0usize;
        for d in due {
            stats.looked_at += 1;
            let plan = escalation_plan(&EscalationInput {
                due_at_ms: d.due_at_ms,
                snoozed_until_ms: d.snoozed_until_ms,
                review: d.review,
                now_ms,
                lead: d.escalation_lead,
            });
            for (kind, key) in plan.fire {
                if let Some(fired) = store
                    .fire_escalation(d.chat, kind, key, now_ms, crate::webhook::payload)
                    .await?
                {
                    tracing::info!(
                        chat = %d.chat,
                        kind = kind.as_str(),
                        webhook = fired.delivery.is_some(),
                        "escalation"
                    );
                    stats.fired.push(fired);
                }
            }
            if store
                .set_next_escalation(d.chat, d.next_escalation_at_ms, plan.next_at_ms)
                .await?
            {
                moved += 1;
            }
        }
        // Another batch only when this one was full and made progress.
        if !full || moved == 0 {
            return Ok(stats);
        }
    }
}

/// Runs [`escalate_due`] every `interval` at `clock`'s time until `stop`, announcing each new
/// escalation on `notices` (the live stream shows it to the workspace's operators).
pub async fn run_escalations(
    store: Store,
    clock: Clock,
    interval: Duration,
    notices: Option<broadcast::Sender<Notice>>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        match escalate_due(&store, clock.now_ms()).await {
            Ok(stats) => {
                if let Some(tx) = &notices {
                    for f in stats.fired {
                        let n = f.notification;
                        // Nobody listening is fine.
                        let _ = tx.send(Notice::Escalation {
                            account: n.account_id,
                            chat: n.chat_id,
                            kind: n.kind,
                            client_name: n.client_name,
                        });
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "escalation scan failed; will retry"),
        }
    }
}
