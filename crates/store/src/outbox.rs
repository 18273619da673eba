//! The outbox: replies stored before they are sent, and the state machine the sender drives.
//!
//! `queued → sending → sent | failed | unknown`. A row is committed as `sending` (with the
//! moment the attempt began) *before* the request leaves, so a crash mid-send leaves evidence:
//! on start-up every `sending` row becomes `unknown`. An `unknown` row is resolved by its echo
//! — a seller message in the same chat with the same text, written after the first attempt
//! began and not yet claimed by another row — or re-queued when WB provably does not have it.
//! Operator-facing calls are scoped by workspace; the sender's calls work by row id.

use domain::{AccountId, ChatRowId, MessageRowId, OutboxId, OutboxState, ReplySign, WorkspaceId};

use crate::Store;
use crate::db::{WritePool, now_ms, on_pool};
use crate::error::{Result, StoreError, map_constraint};

/// A file attached to a reply (already checked by the guardrails).
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for OutboxFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxFile")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// One outbox row as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: OutboxId,
    pub workspace_id: WorkspaceId,
    pub account_id: AccountId,
    pub chat_id: ChatRowId,
    pub text: String,
    pub state: OutboxState,
    /// Why it failed (WB's reason for a rejection), or what made it `unknown`.
    pub error: Option<String>,
    pub attempts: i64,
    pub created_at_ms: i64,
    pub sent_at_ms: Option<i64>,
    /// The stored message this reply became (its echo), once found.
    pub message_id: Option<MessageRowId>,
    pub file_names: Vec<String>,
}

/// What the sender needs to send one row.
#[derive(Debug, Clone)]
pub struct OutboxJob {
    pub id: OutboxId,
    pub workspace_id: WorkspaceId,
    pub account_id: AccountId,
    pub chat_id: ChatRowId,
    /// `None` while the chat has no signature yet (the row waits).
    pub reply_sign: Option<ReplySign>,
    pub text: String,
    pub files: Vec<OutboxFile>,
    pub attempts: i64,
}

/// A row whose fate is unknown, with what resolving it needs.
#[derive(Debug, Clone)]
pub struct UnresolvedSend {
    pub id: OutboxId,
    pub account_id: AccountId,
    pub chat_id: ChatRowId,
    pub text: String,
    pub state: OutboxState,
    /// When the first attempt began: an echo is never older than this.
    pub first_sent_at_ms: i64,
    /// When the latest attempt began.
    pub send_started_at_ms: i64,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    workspace_id: i64,
    account_id: i64,
    chat_id: i64,
    text: String,
    state: String,
    error: Option<String>,
    attempts: i64,
    created_at: i64,
    sent_at: Option<i64>,
    message_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    workspace_id: i64,
    account_id: i64,
    chat_id: i64,
    reply_sign: Option<String>,
    text: String,
    attempts: i64,
}

#[derive(sqlx::FromRow)]
struct FileRow {
    name: String,
    content_type: String,
    bytes: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct UnresolvedRow {
    id: i64,
    account_id: i64,
    chat_id: i64,
    text: String,
    state: String,
    first_sent_at: Option<i64>,
    send_started_at: Option<i64>,
}

fn key<T>(
    what: &'static str,
    id: i64,
    f: impl FnOnce(i64) -> Result<T, domain::IdError>,
) -> Result<T> {
    f(id).map_err(|e| StoreError::corrupt(what, e))
}

fn state(s: &str) -> Result<OutboxState> {
    s.parse()
        .map_err(|e| StoreError::corrupt("outbox state", e))
}

impl EntryRow {
    fn into_entry(self, file_names: Vec<String>) -> Result<OutboxEntry> {
        Ok(OutboxEntry {
            id: key("outbox id", self.id, OutboxId::new)?,
            workspace_id: key("workspace id", self.workspace_id, WorkspaceId::new)?,
            account_id: key("account id", self.account_id, AccountId::new)?,
            chat_id: key("chat row id", self.chat_id, ChatRowId::new)?,
            text: self.text,
            state: state(&self.state)?,
            error: self.error,
            attempts: self.attempts,
            created_at_ms: self.created_at,
            sent_at_ms: self.sent_at,
            message_id: self
                .message_id
                .map(|m| key("message row id", m, MessageRowId::new))
                .transpose()?,
            file_names,
        })
    }
}

const ENTRY_COLUMNS: &str = "id, workspace_id, account_id, chat_id, text, state, error, attempts, \
     created_at, sent_at, message_id";

impl Store {
    /// Stores a reply to `chat` as `queued`. With an `idempotency_key` already used in this
    /// workspace, returns that row instead and `false` (no second row, nothing sent twice).
    /// `NotFound` when the chat is not in `workspace`.
    pub async fn enqueue_reply(
        &self,
        workspace: WorkspaceId,
        chat: ChatRowId,
        text: &str,
        files: &[OutboxFile],
        idempotency_key: Option<&str>,
    ) -> Result<(OutboxEntry, bool)> {
        if let Some(k) = idempotency_key
            && let Some(existing) = self.outbox_by_key(workspace, k).await?
        {
            return Ok((existing, false));
        }
        let now = now_ms();
        let inserted: Result<i64> = on_pool!(&self.pool, |p| {
            async {
                let mut tx = p.begin_write().await?;
                let account: Option<i64> = sqlx::query_scalar(
                    "SELECT account_id FROM chats WHERE id = $1 AND workspace_id = $2",
                )
                .bind(chat.get())
                .bind(workspace.get())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(account) = account else {
                    return Err(StoreError::not_found("chat"));
                };
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO outbox (workspace_id, account_id, chat_id, idempotency_key, text, \
                     state, created_at, updated_at, next_attempt_at) \
                     VALUES ($1, $2, $3, $4, $5, 'queued', $6, $6, $6) RETURNING id",
                )
                .bind(workspace.get())
                .bind(account)
                .bind(chat.get())
                .bind(idempotency_key)
                .bind(text)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| map_constraint(e, "idempotency key already used", "chat"))?;
                for (i, f) in files.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO outbox_files (outbox_id, position, name, content_type, bytes) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(id)
                    .bind(i64::try_from(i).unwrap_or(i64::MAX))
                    .bind(&f.name)
                    .bind(&f.content_type)
                    .bind(&f.bytes)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(id)
            }
            .await
        });
        match inserted {
            Ok(id) => {
                let id = key("outbox id", id, OutboxId::new)?;
                Ok((self.get_outbox(workspace, id).await?, true))
            }
            // Two requests with one key raced: the other one won; answer with its row.
            Err(StoreError::Conflict(_)) if idempotency_key.is_some() => {
                let k = idempotency_key.unwrap_or_default();
                let existing = self
                    .outbox_by_key(workspace, k)
                    .await?
                    .ok_or_else(|| StoreError::not_found("outbox row"))?;
                Ok((existing, false))
            }
            Err(e) => Err(e),
        }
    }

    async fn outbox_by_key(&self, workspace: WorkspaceId, k: &str) -> Result<Option<OutboxEntry>> {
        let id: Option<i64> = on_pool!(&self.pool, |p| {
            sqlx::query_scalar(
                "SELECT id FROM outbox WHERE workspace_id = $1 AND idempotency_key = $2",
            )
            .bind(workspace.get())
            .bind(k)
            .fetch_optional(p)
            .await?
        });
        match id {
            Some(id) => Ok(Some(
                self.get_outbox(workspace, key("outbox id", id, OutboxId::new)?)
                    .await?,
            )),
            None => Ok(None),
        }
    }

    /// One outbox row of `workspace`.
    pub async fn get_outbox(&self, workspace: WorkspaceId, id: OutboxId) -> Result<OutboxEntry> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE id = $1 AND workspace_id = $2");
        let (row, names): (Option<EntryRow>, Vec<String>) = on_pool!(&self.pool, |p| {
            let row: Option<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id.get())
                .bind(workspace.get())
                .fetch_optional(p)
                .await?;
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM outbox_files WHERE outbox_id = $1 ORDER BY position",
            )
            .bind(id.get())
            .fetch_all(p)
            .await?;
            (row, names)
        });
        row.ok_or_else(|| StoreError::not_found("outbox row"))?
            .into_entry(names)
    }

    /// Replies to one chat that have not become a stored message yet (newest last).
    pub async fn pending_replies(
        &self,
        workspace: WorkspaceId,
        chat: ChatRowId,
    ) -> Result<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM outbox WHERE chat_id = $1 AND workspace_id = $2 \
             AND message_id IS NULL ORDER BY id"
        );
        let rows: Vec<EntryRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(chat.get())
                .bind(workspace.get())
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(|r| r.into_entry(Vec::new())).collect()
    }

    /// At start-up: attempts interrupted by a crash may or may not have reached WB.
    pub async fn recover_interrupted_sends(&self) -> Result<u64> {
        let now = now_ms();
        let done = on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE outbox SET state = 'unknown', updated_at = $1, \
                 error = 'прервано перезапуском: проверяем, дошло ли сообщение' \
                 WHERE state = 'sending'",
            )
            .bind(now)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(done)
    }

    /// Queued rows whose time has come, oldest first, with their files and the chat's
    /// current signature.
    pub async fn due_replies(&self, limit: u32) -> Result<Vec<OutboxJob>> {
        let now = now_ms();
        let rows: Vec<JobRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT o.id, o.workspace_id, o.account_id, o.chat_id, c.reply_sign, o.text, o.attempts \
                 FROM outbox o JOIN chats c ON c.id = o.chat_id \
                 WHERE o.state = 'queued' AND o.next_attempt_at <= $1 ORDER BY o.id LIMIT $2",
            )
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?
        });
        let mut jobs = Vec::with_capacity(rows.len());
        for r in rows {
            let files: Vec<FileRow> = on_pool!(&self.pool, |p| {
                sqlx::query_as(
                    "SELECT name, content_type, bytes FROM outbox_files \
                     WHERE outbox_id = $1 ORDER BY position",
                )
                .bind(r.id)
                .fetch_all(p)
                .await?
            });
            jobs.push(OutboxJob {
                id: key("outbox id", r.id, OutboxId::new)?,
                workspace_id: key("workspace id", r.workspace_id, WorkspaceId::new)?,
                account_id: key("account id", r.account_id, AccountId::new)?,
                chat_id: key("chat row id", r.chat_id, ChatRowId::new)?,
                reply_sign: r.reply_sign.and_then(|s| ReplySign::parse(s).ok()),
                text: r.text,
                files: files
                    .into_iter()
                    .map(|f| OutboxFile {
                        name: f.name,
                        content_type: f.content_type,
                        bytes: f.bytes,
                    })
                    .collect(),
                attempts: r.attempts,
            });
        }
        Ok(jobs)
    }

    /// Commits the start of an attempt; `false` when the row is no longer `queued` (another
    /// sender took it). Only after this returns `true` may the request leave.
    pub async fn begin_send(&self, id: OutboxId) -> Result<bool> {
        let now = now_ms();
        let n = on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1, \
                 send_started_at = $2, first_sent_at = COALESCE(first_sent_at, $2), \
                 updated_at = $2, error = NULL \
                 WHERE id = $1 AND state = 'queued'",
            )
            .bind(id.get())
            .bind(now)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    async fn set_outbox(
        &self,
        id: OutboxId,
        from: &[OutboxState],
        to: OutboxState,
        error: Option<&str>,
        extra: Option<(&'static str, i64)>,
    ) -> Result<bool> {
        let now = now_ms();
        let from_list = from
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let extra_sql = extra.map_or(String::new(), |(col, _)| format!(", {col} = $5"));
        let sql = format!(
            "UPDATE outbox SET state = $2, error = $3, updated_at = $4{extra_sql} \
             WHERE id = $1 AND state IN ({from_list})"
        );
        let n = on_pool!(&self.pool, |p| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id.get())
                .bind(to.as_str())
                .bind(error)
                .bind(now);
            if let Some((_, v)) = extra {
                q = q.bind(v);
            }
            q.execute(p).await?.rows_affected()
        });
        Ok(n == 1)
    }

    /// WB answered 200.
    pub async fn mark_sent(&self, id: OutboxId, wb_add_time_ms: Option<i64>) -> Result<bool> {
        let now = now_ms();
        let n = on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE outbox SET state = 'sent', error = NULL, sent_at = $2, wb_add_time = $3, \
                 updated_at = $2 WHERE id = $1 AND state IN ('sending', 'unknown')",
            )
            .bind(id.get())
            .bind(now)
            .bind(wb_add_time_ms)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// WB refused it for good; `reason` is shown to the operator.
    pub async fn mark_failed(&self, id: OutboxId, reason: &str) -> Result<bool> {
        self.set_outbox(
            id,
            &[
                OutboxState::Queued,
                OutboxState::Sending,
                OutboxState::Unknown,
            ],
            OutboxState::Failed,
            Some(reason),
            None,
        )
        .await
    }

    /// The request left but no answer came.
    pub async fn mark_unknown(&self, id: OutboxId, reason: &str) -> Result<bool> {
        self.set_outbox(
            id,
            &[OutboxState::Sending],
            OutboxState::Unknown,
            Some(reason),
            None,
        )
        .await
    }

    /// Back to the queue: WB provably did not take it (429, refused connection, no echo).
    pub async fn requeue(&self, id: OutboxId, not_before_ms: i64, reason: &str) -> Result<bool> {
        self.set_outbox(
            id,
            &[
                OutboxState::Sending,
                OutboxState::Unknown,
                OutboxState::Queued,
            ],
            OutboxState::Queued,
            Some(reason),
            Some(("next_attempt_at", not_before_ms)),
        )
        .await
    }

    /// An operator asks to try a failed reply again.
    pub async fn retry_failed(&self, workspace: WorkspaceId, id: OutboxId) -> Result<OutboxEntry> {
        let entry = self.get_outbox(workspace, id).await?;
        if entry.state != OutboxState::Failed {
            return Err(StoreError::Conflict(format!(
                "only a failed reply can be retried; this one is {}",
                entry.state
            )));
        }
        // Straight from `failed` (which `requeue` does not accept: that one is the sender's).
        self.set_outbox(
            id,
            &[OutboxState::Failed],
            OutboxState::Queued,
            Some("повтор по запросу оператора"),
            Some(("next_attempt_at", now_ms())),
        )
        .await?;
        self.get_outbox(workspace, id).await
    }

    /// Rows whose delivery is not confirmed by an echo yet: `unknown` ones, and `sent` ones
    /// not linked to their message.
    pub async fn unresolved_sends(&self, limit: u32) -> Result<Vec<UnresolvedSend>> {
        let rows: Vec<UnresolvedRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT id, account_id, chat_id, text, state, first_sent_at, send_started_at \
                 FROM outbox WHERE (state = 'unknown' OR (state = 'sent' AND message_id IS NULL)) \
                 AND first_sent_at IS NOT NULL ORDER BY id LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(UnresolvedSend {
                    id: key("outbox id", r.id, OutboxId::new)?,
                    account_id: key("account id", r.account_id, AccountId::new)?,
                    chat_id: key("chat row id", r.chat_id, ChatRowId::new)?,
                    text: r.text,
                    state: state(&r.state)?,
                    first_sent_at_ms: r.first_sent_at.unwrap_or(0),
                    send_started_at_ms: r.send_started_at.or(r.first_sent_at).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Links a row to its echo — the oldest seller message in its chat with the same text,
    /// not older than `since_ms` and not claimed by another row — and marks it `sent`.
    /// Returns the message, or `None` when there is no echo (yet).
    pub async fn claim_echo(
        &self,
        id: OutboxId,
        chat: ChatRowId,
        text: &str,
        since_ms: i64,
    ) -> Result<Option<MessageRowId>> {
        let now = now_ms();
        let claimed: Option<i64> = on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let m: Option<i64> = sqlx::query_scalar(
                "SELECT m.id FROM messages m WHERE m.chat_id = $1 AND m.sender = 'seller' \
                 AND m.text = $2 AND m.add_timestamp >= $3 \
                 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id) \
                 ORDER BY m.add_timestamp, m.id LIMIT 1",
            )
            .bind(chat.get())
            .bind(text)
            .bind(since_ms)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(m) = m {
                sqlx::query(
                    "UPDATE outbox SET message_id = $2, state = 'sent', error = NULL, \
                     sent_at = COALESCE(sent_at, $3), updated_at = $3 \
                     WHERE id = $1 AND message_id IS NULL",
                )
                .bind(id.get())
                .bind(m)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            m
        });
        claimed
            .map(|m| key("message row id", m, MessageRowId::new))
            .transpose()
    }
}
