//! The operator's side of triage and the escalation scanner's reads.
//!
//! Ingest maintains each chat's automatic priority, review window and deadline (`ingest.rs`);
//! this module changes what operators change — a priority override, a snooze — and the
//! workspace-wide recomputation after the SLA settings change, always recomputing the deadline
//! (`due_at`), the queue position (`queue_at`) and the next escalation look
//! (`next_escalation_at`) with [`domain::triage::schedule`] in the same transaction, under the
//! row's write lock, so an ingest running at the same time cannot interleave. It also lists the
//! chats whose escalation is due. It must not decide what to escalate (that is
//! `domain::triage::escalation_plan`, called by the sync layer) nor know HTTP.

use std::time::Duration;

use domain::triage::deadline::{ChatTimes, ReviewWindow, first_escalation_at, schedule};
use domain::{AccountId, ChatRowId, Priority, Sla, WorkspaceId};

use crate::Store;
use crate::db::{Backend, WritePool, on_pool};
use crate::error::{Result, StoreError};
use crate::model::Chat;

/// The columns a schedule depends on, with the workspace's SLA and escalation lead.
#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: i64,
    awaiting_since: Option<i64>,
    priority: String,
    priority_override: Option<String>,
    review_opened_at: Option<i64>,
    review_replied_at: Option<i64>,
    snoozed_until: Option<i64>,
    due_at: Option<i64>,
    next_escalation_at: Option<i64>,
    sla_urgent_ms: i64,
    sla_high_ms: i64,
    sla_normal_ms: i64,
    escalation_lead_ms: i64,
}

/// A stored millisecond count as a `Duration` (negative reads as zero).
pub(crate) fn millis(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// A workspace's SLA from its stored `sla_*_ms` columns.
pub(crate) fn sla_from_ms(urgent: i64, high: i64, normal: i64) -> Sla {
    Sla {
        urgent: millis(urgent),
        high: millis(high),
        normal: millis(normal),
    }
}

impl ScheduleRow {
    fn priority(&self) -> Result<Priority> {
        self.priority
            .parse()
            .map_err(|e| StoreError::corrupt("priority", e))
    }

    fn sla(&self) -> Sla {
        sla_from_ms(self.sla_urgent_ms, self.sla_high_ms, self.sla_normal_ms)
    }

    fn priority_override(&self) -> Result<Option<Priority>> {
        self.priority_override
            .as_deref()
            .map(str::parse::<Priority>)
            .transpose()
            .map_err(|e| StoreError::corrupt("priority override", e))
    }

    /// The new `(due_at, queue_at, next_escalation_at)` with this override and snooze.
    fn recompute(
        &self,
        priority_override: Option<Priority>,
        snoozed_until: Option<i64>,
    ) -> Result<(Option<i64>, Option<i64>, Option<i64>)> {
        let plan = schedule(
            &ChatTimes {
                awaiting_since_ms: self.awaiting_since,
                priority: priority_override.unwrap_or(self.priority()?),
                review: self.review_opened_at.map(|opened_at_ms| ReviewWindow {
                    opened_at_ms,
                    buyer_replied_at_ms: self.review_replied_at,
                }),
                snoozed_until_ms: snoozed_until,
            },
            &self.sla(),
        );
        let next = if plan.due_at_ms != self.due_at || snoozed_until != self.snoozed_until {
            first_escalation_at(
                plan.due_at_ms,
                snoozed_until,
                millis(self.escalation_lead_ms),
                None,
            )
        } else {
            self.next_escalation_at
        };
        Ok((plan.due_at_ms, plan.queue_at_ms, next))
    }
}

macro_rules! schedule_select {
    ($where:literal) => {
        concat!(
            "SELECT c.id, c.awaiting_since, c.priority, c.priority_override, \
             c.review_opened_at, c.review_replied_at, c.snoozed_until, c.due_at, \
             c.next_escalation_at, w.sla_urgent_ms, w.sla_high_ms, w.sla_normal_ms, \
             w.escalation_lead_ms FROM chats c JOIN workspaces w ON w.id = c.workspace_id \
             WHERE ",
            $where
        )
    };
}

const WRITE_SCHEDULE: &str = "UPDATE chats SET priority_override = $2, snoozed_until = $3, \
     due_at = $4, queue_at = $5, next_escalation_at = $6 WHERE id = $1";

/// What an operator changes about a chat's place in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Override(Option<Priority>),
    Snooze(Option<i64>),
}

/// A chat whose escalation is due (see [`Store::due_escalations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationDue {
    pub chat: ChatRowId,
    pub workspace: WorkspaceId,
    pub account: AccountId,
    pub due_at_ms: Option<i64>,
    pub snoozed_until_ms: Option<i64>,
    pub review: Option<ReviewWindow>,
    /// The value of `next_escalation_at` that made it due; pass it back to
    /// [`Store::set_next_escalation`].
    pub next_escalation_at_ms: i64,
    pub escalation_lead: Duration,
}

#[derive(sqlx::FromRow)]
struct EscalationRow {
    id: i64,
    workspace_id: i64,
    account_id: i64,
    due_at: Option<i64>,
    snoozed_until: Option<i64>,
    review_opened_at: Option<i64>,
    review_replied_at: Option<i64>,
    next_escalation_at: i64,
    escalation_lead_ms: i64,
}

impl Store {
    /// Sets (or with `None` clears) the operator's priority for a chat; its deadline follows.
    pub async fn set_priority_override(
        &self,
        workspace: WorkspaceId,
        chat: ChatRowId,
        priority: Option<Priority>,
    ) -> Result<Chat> {
        self.change_schedule(workspace, chat, Change::Override(priority))
            .await?;
        self.find_chat(workspace, chat).await
    }

    /// Snoozes a chat until `until` (Unix ms), or wakes it with `None`: it sorts by the later
    /// of its deadline and the snooze, and escalation waits for the snooze to end. A new buyer
    /// message ends a snooze.
    pub async fn snooze_chat(
        &self,
        workspace: WorkspaceId,
        chat: ChatRowId,
        until: Option<i64>,
    ) -> Result<Chat> {
        self.change_schedule(workspace, chat, Change::Snooze(until))
            .await?;
        self.find_chat(workspace, chat).await
    }

    async fn change_schedule(
        &self,
        workspace: WorkspaceId,
        chat: ChatRowId,
        change: Change,
    ) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let select = match p.backend() {
                Backend::Sqlite => schedule_select!("c.id = $1 AND c.workspace_id = $2"),
                Backend::Postgres => {
                    schedule_select!("c.id = $1 AND c.workspace_id = $2 FOR UPDATE OF c")
                }
            };
            let row: ScheduleRow = sqlx::query_as(select)
                .bind(chat.get())
                .bind(workspace.get())
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::not_found("chat"))?;
            let mut over = row.priority_override()?;
            let mut snooze = row.snoozed_until;
            match change {
                Change::Override(p) => over = p,
                Change::Snooze(until) => snooze = until,
            }
            let (due, queue, next) = row.recompute(over, snooze)?;
            sqlx::query(WRITE_SCHEDULE)
                .bind(row.id)
                .bind(over.map(Priority::as_str))
                .bind(snooze)
                .bind(due)
                .bind(queue)
                .bind(next)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Recomputes the deadline of every waiting chat of a workspace, after its SLA or
    /// escalation lead changed. Returns how many chats were looked at.
    pub async fn reschedule_workspace(&self, workspace: WorkspaceId) -> Result<u64> {
        let mut n = 0u64;
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let select = match p.backend() {
                Backend::Sqlite => schedule_select!(
                    "c.workspace_id = $1 AND (c.awaiting_since IS NOT NULL OR c.due_at IS NOT NULL)"
                ),
                Backend::Postgres => schedule_select!(
                    "c.workspace_id = $1 AND (c.awaiting_since IS NOT NULL OR c.due_at IS NOT NULL) \
                     FOR UPDATE OF c"
                ),
            };
            let rows: Vec<ScheduleRow> = sqlx::query_as(select)
                .bind(workspace.get())
                .fetch_all(&mut *tx)
                .await?;
            for row in rows {
                let over = row.priority_override()?;
                let (due, queue, next) = row.recompute(over, row.snoozed_until)?;
                sqlx::query(WRITE_SCHEDULE)
                    .bind(row.id)
                    .bind(over.map(Priority::as_str))
                    .bind(row.snoozed_until)
                    .bind(due)
                    .bind(queue)
                    .bind(next)
                    .execute(&mut *tx)
                    .await?;
                n += 1;
            }
            tx.commit().await?;
        });
        Ok(n)
    }

    /// Chats whose `next_escalation_at` has come (oldest first), across all workspaces: the
    /// escalation scanner's work list.
    pub async fn due_escalations(&self, now_ms: i64, limit: u32) -> Result<Vec<EscalationDue>> {
        let rows: Vec<EscalationRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT c.id, c.workspace_id, c.account_id, c.due_at, c.snoozed_until, \
                 c.review_opened_at, c.review_replied_at, c.next_escalation_at, \
                 w.escalation_lead_ms FROM chats c JOIN workspaces w ON w.id = c.workspace_id \
                 WHERE c.next_escalation_at IS NOT NULL AND c.next_escalation_at <= $1 \
                 ORDER BY c.next_escalation_at LIMIT $2",
            )
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(EscalationDue {
                    chat: ChatRowId::new(r.id).map_err(|e| StoreError::corrupt("chat id", e))?,
                    workspace: WorkspaceId::new(r.workspace_id)
                        .map_err(|e| StoreError::corrupt("workspace id", e))?,
                    account: AccountId::new(r.account_id)
                        .map_err(|e| StoreError::corrupt("account id", e))?,
                    due_at_ms: r.due_at,
                    snoozed_until_ms: r.snoozed_until,
                    review: r.review_opened_at.map(|opened_at_ms| ReviewWindow {
                        opened_at_ms,
                        buyer_replied_at_ms: r.review_replied_at,
                    }),
                    next_escalation_at_ms: r.next_escalation_at,
                    escalation_lead: millis(r.escalation_lead_ms),
                })
            })
            .collect()
    }

    /// Moves a chat's next escalation look to `next` (or off with `None`) — only if it is still
    /// `seen`: when ingest or an operator rescheduled the chat meanwhile, theirs stands.
    /// Returns whether it was moved.
    pub async fn set_next_escalation(
        &self,
        chat: ChatRowId,
        seen: i64,
        next: Option<i64>,
    ) -> Result<bool> {
        let moved = on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE chats SET next_escalation_at = $3 \
                 WHERE id = $1 AND next_escalation_at = $2",
            )
            .bind(chat.get())
            .bind(seen)
            .bind(next)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(moved == 1)
    }
}
