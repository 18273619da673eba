//! Escalation delivery at rest: in-app notifications and the outgoing webhook queue.
//!
//! [`Store::fire_escalation`] is the one write that creates both, in one transaction: a
//! notification unique per (chat, kind, key) and, only when that row is new and the chat's
//! workspace has a webhook, one pending delivery carrying the JSON body to post. So a chat
//! notifies and posts at most once per escalation, however often the scanner asks. The body is
//! built by the caller's closure from an [`EscalationEvent`], because the wire format belongs
//! to the sync layer. This module owns neither the decision to escalate (the scanner) nor
//! HTTP (`sync::webhook` sends, signs and picks the retry times). Operator-facing reads are
//! scoped by workspace; the sender's calls work by delivery id.

use domain::triage::{EscalationKind, ReviewWindow};
use domain::{AccountId, ChatRowId, NotificationId, Priority, WebhookDeliveryId, WorkspaceId};

use crate::Store;
use crate::db::{WritePool, now_ms, on_pool};
use crate::error::{Result, StoreError};

/// One escalation as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    pub workspace_id: WorkspaceId,
    pub account_id: AccountId,
    pub chat_id: ChatRowId,
    pub kind: EscalationKind,
    /// What makes it unique within the chat and kind: the deadline, or the moment WB opened
    /// the negative-review chat.
    pub key_at_ms: i64,
    pub created_at_ms: i64,
    /// `None` while unread.
    pub read_at_ms: Option<i64>,
    /// The buyer's name as the chat shows it.
    pub client_name: Option<String>,
}

/// Everything a webhook body says about a new escalation, read from the chat row inside
/// [`Store::fire_escalation`]'s transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationEvent {
    pub notification_id: NotificationId,
    pub workspace_id: WorkspaceId,
    pub account_id: AccountId,
    pub chat_id: ChatRowId,
    pub kind: EscalationKind,
    pub key_at_ms: i64,
    /// When it fired (the caller's `now`).
    pub occurred_at_ms: i64,
    pub client_name: Option<String>,
    /// The priority in force: the operator's override, else the automatic one.
    pub priority: Priority,
    pub due_at_ms: Option<i64>,
    /// When a negative review gets published unless resolved; `None` outside such chats or
    /// while the buyer has not replied to WB's template.
    pub review_window_closes_at_ms: Option<i64>,
    pub last_message_text: Option<String>,
    pub last_message_at_ms: Option<i64>,
}

/// What [`Store::fire_escalation`] created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiredEscalation {
    pub notification: Notification,
    /// The queued webhook delivery; `None` when the workspace has no webhook.
    pub delivery: Option<WebhookDeliveryId>,
}

/// A webhook delivery due for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: WebhookDeliveryId,
    pub workspace_id: WorkspaceId,
    pub notification_id: NotificationId,
    /// The escalation's kind (the event type of the post).
    pub kind: EscalationKind,
    pub url: String,
    /// The JSON body, fixed when the escalation fired: every attempt posts the same bytes.
    pub body: String,
    /// Attempts made so far.
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    /// Why the latest attempt failed (Russian, for the operator).
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ChatFacts {
    workspace_id: i64,
    account_id: i64,
    client_name: Option<String>,
    priority: String,
    due_at: Option<i64>,
    review_opened_at: Option<i64>,
    review_replied_at: Option<i64>,
    last_message_text: Option<String>,
    last_message_at: Option<i64>,
    webhook_url: Option<String>,
}

#[derive(sqlx::FromRow)]
struct NotificationRow {
    id: i64,
    workspace_id: i64,
    account_id: i64,
    chat_id: i64,
    kind: String,
    key_at: i64,
    created_at: i64,
    read_at: Option<i64>,
    client_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    workspace_id: i64,
    notification_id: i64,
    kind: String,
    url: String,
    body: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
}

fn key<T>(
    what: &'static str,
    id: i64,
    f: impl FnOnce(i64) -> Result<T, domain::IdError>,
) -> Result<T> {
    f(id).map_err(|e| StoreError::corrupt(what, e))
}

fn kind(s: &str) -> Result<EscalationKind> {
    s.parse()
        .map_err(|e: String| StoreError::corrupt("escalation kind", e))
}

impl NotificationRow {
    fn into_model(self) -> Result<Notification> {
        Ok(Notification {
            id: key("notification id", self.id, NotificationId::new)?,
            workspace_id: key("workspace id", self.workspace_id, WorkspaceId::new)?,
            account_id: key("account id", self.account_id, AccountId::new)?,
            chat_id: key("chat row id", self.chat_id, ChatRowId::new)?,
            kind: kind(&self.kind)?,
            key_at_ms: self.key_at,
            created_at_ms: self.created_at,
            read_at_ms: self.read_at,
            client_name: self.client_name,
        })
    }
}

impl DeliveryRow {
    fn into_model(self) -> Result<WebhookDelivery> {
        Ok(WebhookDelivery {
            id: key("webhook delivery id", self.id, WebhookDeliveryId::new)?,
            workspace_id: key("workspace id", self.workspace_id, WorkspaceId::new)?,
            notification_id: key("notification id", self.notification_id, NotificationId::new)?,
            kind: kind(&self.kind)?,
            url: self.url,
            body: self.body,
            attempts: self.attempts,
            next_attempt_at_ms: self.next_attempt_at,
            last_error: self.last_error,
        })
    }
}

/// Largest page of notifications one call returns.
pub const MAX_NOTIFICATIONS: u32 = 500;

impl Store {
    /// Records that `chat` escalated (`kind`, keyed by `key_at_ms`) at `now_ms`, at most once
    /// ever: `None` when this escalation was recorded before. A new notification takes the
    /// chat's workspace and account; when that workspace has a webhook, a pending delivery
    /// with body `payload(&event)` is queued in the same transaction, due at once.
    /// `NotFound` when the chat does not exist.
    pub async fn fire_escalation(
        &self,
        chat: ChatRowId,
        kind: EscalationKind,
        key_at_ms: i64,
        now_ms: i64,
        payload: impl FnOnce(&EscalationEvent) -> String,
    ) -> Result<Option<FiredEscalation>> {
        on_pool!(&self.pool, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let facts: Option<ChatFacts> = sqlx::query_as(
                    "SELECT c.workspace_id, c.account_id, c.client_name, \
                     COALESCE(c.priority_override, c.priority) AS priority, c.due_at, \
                     c.review_opened_at, c.review_replied_at, c.last_message_text, \
                     c.last_message_at, w.webhook_url \
                     FROM chats c JOIN workspaces w ON w.id = c.workspace_id WHERE c.id = $1",
                )
                .bind(chat.get())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(facts) = facts else {
                    return Err(StoreError::not_found("chat"));
                };
                let id: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO notifications (workspace_id, account_id, chat_id, kind, key_at, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (chat_id, kind, key_at) DO NOTHING RETURNING id",
                )
                .bind(facts.workspace_id)
                .bind(facts.account_id)
                .bind(chat.get())
                .bind(kind.as_str())
                .bind(key_at_ms)
                .bind(now_ms)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(id) = id else {
                    // Fired before: nothing to do, and nothing was written.
                    return Ok(None);
                };
                let notification = Notification {
                    id: key("notification id", id, NotificationId::new)?,
                    workspace_id: key("workspace id", facts.workspace_id, WorkspaceId::new)?,
                    account_id: key("account id", facts.account_id, AccountId::new)?,
                    chat_id: chat,
                    kind,
                    key_at_ms,
                    created_at_ms: now_ms,
                    read_at_ms: None,
                    client_name: facts.client_name.clone(),
                };
                let delivery = match facts.webhook_url.as_deref() {
                    Some(url) => {
                        let event = EscalationEvent {
                            notification_id: notification.id,
                            workspace_id: notification.workspace_id,
                            account_id: notification.account_id,
                            chat_id: chat,
                            kind,
                            key_at_ms,
                            occurred_at_ms: now_ms,
                            client_name: facts.client_name.clone(),
                            priority: facts
                                .priority
                                .parse()
                                .map_err(|e| StoreError::corrupt("priority", e))?,
                            due_at_ms: facts.due_at,
                            review_window_closes_at_ms: facts.review_opened_at.and_then(|opened| {
                                ReviewWindow {
                                    opened_at_ms: opened,
                                    buyer_replied_at_ms: facts.review_replied_at,
                                }
                                .closes_at_ms()
                            }),
                            last_message_text: facts.last_message_text.clone(),
                            last_message_at_ms: facts.last_message_at,
                        };
                        let body = payload(&event);
                        let delivery: i64 = sqlx::query_scalar(
                            "INSERT INTO webhook_deliveries (workspace_id, notification_id, url, \
                             body, next_attempt_at, created_at) \
                             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                        )
                        .bind(facts.workspace_id)
                        .bind(id)
                        .bind(url)
                        .bind(body)
                        .bind(now_ms)
                        .fetch_one(&mut *tx)
                        .await?;
                        Some(key(
                            "webhook delivery id",
                            delivery,
                            WebhookDeliveryId::new,
                        )?)
                    }
                    None => None,
                };
                tx.commit().await?;
                Ok(Some(FiredEscalation {
                    notification,
                    delivery,
                }))
            }
            .await
        })
    }

    /// The workspace's notifications, newest first, at most `limit` (capped at
    /// [`MAX_NOTIFICATIONS`]); with `unread_only`, only those not marked read.
    pub async fn list_notifications(
        &self,
        workspace: WorkspaceId,
        unread_only: bool,
        limit: u32,
    ) -> Result<Vec<Notification>> {
        let rows: Vec<NotificationRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT n.id, n.workspace_id, n.account_id, n.chat_id, n.kind, n.key_at, \
                 n.created_at, n.read_at, c.client_name \
                 FROM notifications n JOIN chats c ON c.id = n.chat_id \
                 WHERE n.workspace_id = $1 AND (n.read_at IS NULL OR NOT $2) \
                 ORDER BY n.id DESC LIMIT $3",
            )
            .bind(workspace.get())
            .bind(unread_only)
            .bind(i64::from(limit.min(MAX_NOTIFICATIONS)))
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(NotificationRow::into_model).collect()
    }

    /// Marks every unread notification of the workspace up to and including `up_to` read;
    /// returns how many changed. Ids of other workspaces are simply not matched.
    pub async fn mark_notifications_read(
        &self,
        workspace: WorkspaceId,
        up_to: NotificationId,
    ) -> Result<u64> {
        let now_ms = now_ms();
        let done = on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE notifications SET read_at = $3 \
                 WHERE workspace_id = $1 AND id <= $2 AND read_at IS NULL",
            )
            .bind(workspace.get())
            .bind(up_to.get())
            .bind(now_ms)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(done)
    }

    /// How many notifications of the workspace are unread.
    pub async fn unread_notification_count(&self, workspace: WorkspaceId) -> Result<i64> {
        let n: i64 = on_pool!(&self.pool, |p| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM notifications WHERE workspace_id = $1 AND read_at IS NULL",
            )
            .bind(workspace.get())
            .fetch_one(p)
            .await?
        });
        Ok(n)
    }

    /// Pending deliveries whose next attempt is due at `now_ms`, oldest first (all
    /// workspaces: the sender serves them all).
    pub async fn due_webhook_deliveries(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let rows: Vec<DeliveryRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT d.id, d.workspace_id, d.notification_id, n.kind, d.url, d.body, \
                 d.attempts, d.next_attempt_at, d.last_error \
                 FROM webhook_deliveries d JOIN notifications n ON n.id = d.notification_id \
                 WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                 ORDER BY d.next_attempt_at, d.id LIMIT $2",
            )
            .bind(now_ms)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(DeliveryRow::into_model).collect()
    }

    /// The receiver accepted the delivery (2xx): it is never posted again. `false` when it
    /// was no longer pending.
    pub async fn mark_delivery_delivered(
        &self,
        id: WebhookDeliveryId,
        now_ms: i64,
    ) -> Result<bool> {
        let done = on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE webhook_deliveries SET state = 'delivered', delivered_at = $2, \
                 attempts = attempts + 1, last_error = NULL \
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id.get())
            .bind(now_ms)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// An attempt failed with `error`: records `attempts` (the count including this one) and
    /// when to try again, or with `next_attempt_at_ms: None` gives up (`failed`). `false` when
    /// the delivery was no longer pending.
    pub async fn mark_delivery_attempt_failed(
        &self,
        id: WebhookDeliveryId,
        attempts: i64,
        next_attempt_at_ms: Option<i64>,
        error: &str,
    ) -> Result<bool> {
        let done = on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE webhook_deliveries SET attempts = $2, last_error = $4, \
                 state = CASE WHEN $3 IS NULL THEN 'failed' ELSE 'pending' END, \
                 next_attempt_at = COALESCE($3, next_attempt_at) \
                 WHERE id = $1 AND state = 'pending'",
            )
            .bind(id.get())
            .bind(attempts)
            .bind(next_attempt_at_ms)
            .bind(error)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }
}
