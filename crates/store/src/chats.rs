//! Reading chats and messages for operators, marking chats read, and merging `/chats` in.
//!
//! Every read takes the workspace and filters by it: a chat id of another workspace is
//! `NotFound`, exactly like an id that does not exist.

use std::collections::HashMap;

use domain::triage::ReviewWindow;
use domain::{
    AccountId, AttachmentKind, AttachmentRowId, ChatId, ChatRowId, DownloadId, EventId, GoodCard,
    MessageRowId, ReplySign, Sender, TriageNote, WorkspaceId,
};

use crate::Store;
use crate::db::{WritePool, now_ms, on_pool};
use crate::error::{Result, StoreError};
use crate::model::{Attachment, Chat, ChatFilter, ChatSnapshot, MergeOutcome, Message};

macro_rules! chat_columns {
    () => {
        "id, workspace_id, account_id, wb_chat_id, reply_sign, client_name, nm_id, rid, price, \
         price_currency, size, last_message_text, last_message_at, last_buyer_message_at, \
         last_read_at, unread_count, first_seen_at, awaiting_since, priority, \
         priority_override, triage, review_opened_at, review_replied_at, snoozed_until, due_at, \
         queue_at"
    };
}

/// The inbox order: chats waiting for a seller reply first, least time left first (the
/// deadline, or the end of a snooze when later: `queue_at`), then the rest by latest
/// activity. Written exactly as the index `chats_workspace_queue` (migration 0008) is, so the
/// list reads the index in order and never sorts.
macro_rules! list_order {
    () => {
        " ORDER BY queue_at IS NULL, queue_at ASC, \
         COALESCE(last_message_at, first_seen_at) DESC, id DESC"
    };
}

#[derive(sqlx::FromRow)]
struct ChatRow {
    id: i64,
    workspace_id: i64,
    account_id: i64,
    wb_chat_id: String,
    reply_sign: Option<String>,
    client_name: Option<String>,
    nm_id: Option<i64>,
    rid: Option<String>,
    price: Option<i64>,
    price_currency: Option<String>,
    size: Option<String>,
    last_message_text: Option<String>,
    last_message_at: Option<i64>,
    last_buyer_message_at: Option<i64>,
    last_read_at: Option<i64>,
    unread_count: i64,
    first_seen_at: i64,
    awaiting_since: Option<i64>,
    priority: String,
    priority_override: Option<String>,
    triage: Option<String>,
    review_opened_at: Option<i64>,
    review_replied_at: Option<i64>,
    snoozed_until: Option<i64>,
    due_at: Option<i64>,
    queue_at: Option<i64>,
}

impl ChatRow {
    fn into_model(self) -> Result<Chat> {
        let card = GoodCard {
            nm_id: self.nm_id,
            rid: self.rid,
            price: self.price,
            price_currency: self.price_currency,
            size: self.size,
        };
        Ok(Chat {
            id: ChatRowId::new(self.id).map_err(|e| StoreError::corrupt("chat id", e))?,
            workspace_id: WorkspaceId::new(self.workspace_id)
                .map_err(|e| StoreError::corrupt("workspace id", e))?,
            account_id: AccountId::new(self.account_id)
                .map_err(|e| StoreError::corrupt("account id", e))?,
            chat_id: ChatId::parse(self.wb_chat_id)
                .map_err(|e| StoreError::corrupt("WB chat id", e))?,
            reply_sign: self
                .reply_sign
                .map(ReplySign::parse)
                .transpose()
                .map_err(|e| StoreError::corrupt("reply sign", e))?,
            client_name: self.client_name,
            good_card: (!card.is_empty()).then_some(card),
            last_message_text: self.last_message_text,
            last_message_at_ms: self.last_message_at,
            last_buyer_message_at_ms: self.last_buyer_message_at,
            last_read_at_ms: self.last_read_at,
            unread_count: self.unread_count,
            first_seen_at_ms: self.first_seen_at,
            awaiting_since_ms: self.awaiting_since,
            priority: self
                .priority
                .parse()
                .map_err(|e| StoreError::corrupt("priority", e))?,
            priority_override: self
                .priority_override
                .map(|p| p.parse())
                .transpose()
                .map_err(|e| StoreError::corrupt("priority override", e))?,
            // A note that does not parse (written by an older version) is only an explanation:
            // the chat is still listed, without it.
            triage: self
                .triage
                .and_then(|t| serde_json::from_str::<TriageNote>(&t).ok()),
            review: self.review_opened_at.map(|opened_at_ms| ReviewWindow {
                opened_at_ms,
                buyer_replied_at_ms: self.review_replied_at,
            }),
            snoozed_until_ms: self.snoozed_until,
            due_at_ms: self.due_at,
            queue_at_ms: self.queue_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    chat_id: i64,
    account_id: i64,
    event_id: String,
    sender: String,
    source: String,
    text: String,
    add_timestamp: i64,
    is_platform: bool,
}

impl MessageRow {
    fn into_model(self, attachments: Vec<Attachment>) -> Result<Message> {
        Ok(Message {
            id: MessageRowId::new(self.id).map_err(|e| StoreError::corrupt("message id", e))?,
            chat_id: ChatRowId::new(self.chat_id).map_err(|e| StoreError::corrupt("chat id", e))?,
            account_id: AccountId::new(self.account_id)
                .map_err(|e| StoreError::corrupt("account id", e))?,
            event_id: EventId::parse(self.event_id)
                .map_err(|e| StoreError::corrupt("event id", e))?,
            sender: self
                .sender
                .parse::<Sender>()
                .map_err(|e| StoreError::corrupt("sender", e))?,
            source: self.source,
            text: self.text,
            add_timestamp_ms: self.add_timestamp,
            is_platform: self.is_platform,
            attachments,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AttachmentRow {
    id: i64,
    message_id: i64,
    kind: String,
    download_id: Option<String>,
    name: Option<String>,
    content_type: Option<String>,
    size: Option<i64>,
    url: Option<String>,
}

/// The typed id, kind and download id of a stored attachment row (shared by every query that
/// reads attachments).
pub(crate) fn attachment_keys(
    id: i64,
    kind: &str,
    download_id: Option<String>,
) -> Result<(AttachmentRowId, AttachmentKind, Option<DownloadId>)> {
    Ok((
        AttachmentRowId::new(id).map_err(|e| StoreError::corrupt("attachment id", e))?,
        kind.parse::<AttachmentKind>()
            .map_err(|e| StoreError::corrupt("attachment kind", e))?,
        download_id
            .map(DownloadId::parse)
            .transpose()
            .map_err(|e| StoreError::corrupt("download id", e))?,
    ))
}

impl AttachmentRow {
    fn into_model(self) -> Result<Attachment> {
        let (id, kind, download_id) = attachment_keys(self.id, &self.kind, self.download_id)?;
        Ok(Attachment {
            id: Some(id),
            kind,
            download_id,
            name: self.name,
            content_type: self.content_type,
            size: self.size,
            url: self.url,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MergeTarget {
    id: i64,
    wb_chat_id: String,
    reply_sign: Option<String>,
    client_name: Option<String>,
    nm_id: Option<i64>,
    rid: Option<String>,
    price: Option<i64>,
    price_currency: Option<String>,
    size: Option<String>,
    last_message_at: Option<i64>,
}

const MERGE_SELECT: &str = "SELECT id, wb_chat_id, reply_sign, client_name, nm_id, rid, price, \
     price_currency, size, last_message_at FROM chats WHERE account_id = $1 AND wb_chat_id = $2";

/// Every chat of an account, read once per merge: a merge after a long backfill compares
/// tens of thousands of snapshots, and one statement per snapshot dominated its cost.
const MERGE_SELECT_ALL: &str = "SELECT id, wb_chat_id, reply_sign, client_name, nm_id, rid, \
     price, price_currency, size, last_message_at FROM chats WHERE account_id = $1";

const MERGE_INSERT: &str = "INSERT INTO chats (workspace_id, account_id, wb_chat_id, reply_sign, \
     client_name, nm_id, rid, price, price_currency, size, last_message_text, last_message_at, \
     unread_count, first_seen_at, reply_sign_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $14) \
     ON CONFLICT (account_id, wb_chat_id) DO NOTHING RETURNING id";

// `/chats` is authoritative for what it states: a given field replaces the stored one, a
// missing one keeps it; its signature is current as of now. The last message only moves
// forward in time.
const MERGE_UPDATE: &str = "UPDATE chats SET reply_sign = COALESCE($2, reply_sign), \
     reply_sign_at = CASE WHEN $2 IS NULL THEN reply_sign_at ELSE $12 END, \
     client_name = COALESCE($3, client_name), \
     nm_id = COALESCE($4, nm_id), rid = COALESCE($5, rid), price = COALESCE($6, price), \
     price_currency = COALESCE($7, price_currency), size = COALESCE($8, size), \
     last_message_text = CASE WHEN $9 AND (last_message_at IS NULL OR $10 > last_message_at) \
         THEN $11 ELSE last_message_text END, \
     last_message_at = CASE WHEN $9 AND (last_message_at IS NULL OR $10 > last_message_at) \
         THEN $10 ELSE last_message_at END \
     WHERE id = $1";

/// The filters every chat listing applies: `$1` workspace, `$2` account or NULL, `$3` unread only.
macro_rules! list_where {
    ($urgent:literal) => {
        concat!(
            "workspace_id = $1 AND ($2 IS NULL OR account_id = $2) \
             AND (NOT $3 OR unread_count > 0) AND (NOT ",
            $urgent,
            " OR (queue_at IS NOT NULL AND COALESCE(priority_override, priority) = 'urgent'))"
        )
    };
}

/// Whether the text column contains the search needle in one of its case variants
/// (`$6`..`$9`, see [`SearchPatterns`]). NULL columns do not match.
macro_rules! search_matches {
    ($col:literal) => {
        concat!(
            "(LOWER(",
            $col,
            ") LIKE $6 ESCAPE '\\' OR ",
            $col,
            " LIKE $7 ESCAPE '\\' OR ",
            $col,
            " LIKE $8 ESCAPE '\\' OR ",
            $col,
            " LIKE $9 ESCAPE '\\')"
        )
    };
}

/// `LIKE` patterns (`%needle%`, with `\`, `%` and `_` escaped) of a search needle in the case
/// variants [`Store::list_chats`] tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SearchPatterns {
    pub lower: String,
    pub upper: String,
    pub first_capital: String,
    pub word_capitals: String,
}

impl SearchPatterns {
    pub(crate) fn new(needle: &str) -> Self {
        let lower = needle.to_lowercase();
        let mut first_capital = String::with_capacity(lower.len());
        let mut word_capitals = String::with_capacity(lower.len());
        let mut after_letter = false;
        for (i, c) in lower.chars().enumerate() {
            if i == 0 {
                first_capital.extend(c.to_uppercase());
            } else {
                first_capital.push(c);
            }
            if after_letter {
                word_capitals.push(c);
            } else {
                word_capitals.extend(c.to_uppercase());
            }
            after_letter = c.is_alphanumeric();
        }
        Self {
            upper: like_pattern(&needle.to_uppercase()),
            lower: like_pattern(&lower),
            first_capital: like_pattern(&first_capital),
            word_capitals: like_pattern(&word_capitals),
        }
    }
}

/// `%text%` with the `LIKE` metacharacters of `text` escaped by `\\`.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn changes<T: PartialEq + ?Sized>(new: Option<&T>, old: Option<&T>) -> bool {
    new.is_some_and(|n| Some(n) != old)
}

impl Store {
    /// Merges `/chats` into the account's chats: fills in `replySign`, the buyer's name, the
    /// product card and the last message, creating chats `/chats` knows before any event did.
    /// Never touches messages and never duplicates a chat. One transaction.
    ///
    /// Leaves `awaiting_since` alone: `/chats` does not say who wrote its last message, so
    /// only ingested messages decide whether a chat waits (a chat it creates does not).
    pub async fn merge_chats(
        &self,
        account: AccountId,
        snapshots: &[ChatSnapshot],
    ) -> Result<MergeOutcome> {
        let now = now_ms();
        let account_id = account.get();
        let mut outcome = MergeOutcome::default();
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let workspace_id: i64 =
                sqlx::query_scalar("SELECT workspace_id FROM accounts WHERE id = $1")
                    .bind(account_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::not_found("account"))?;
            let mut known: std::collections::HashMap<String, MergeTarget> =
                sqlx::query_as::<_, MergeTarget>(MERGE_SELECT_ALL)
                    .bind(account_id)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(|t| (t.wb_chat_id.clone(), t))
                    .collect();
            for snap in snapshots {
                let name = snap.client_name.as_deref().filter(|n| !n.trim().is_empty());
                let sign = snap.reply_sign.as_ref().map(|s| s.as_str());
                let card = snap.good_card.as_ref().filter(|c| !c.is_empty());
                let last = snap.last_message.as_ref();
                let existing: Option<MergeTarget> = known.remove(snap.chat_id.as_str());
                let existing = match existing {
                    Some(e) => e,
                    None => {
                        let created: Option<i64> = sqlx::query_scalar(MERGE_INSERT)
                            .bind(workspace_id)
                            .bind(account_id)
                            .bind(snap.chat_id.as_str())
                            .bind(sign)
                            .bind(name)
                            .bind(card.and_then(|c| c.nm_id))
                            .bind(card.and_then(|c| c.rid.as_deref()))
                            .bind(card.and_then(|c| c.price))
                            .bind(card.and_then(|c| c.price_currency.as_deref()))
                            .bind(card.and_then(|c| c.size.as_deref()))
                            .bind(last.map(|(text, _)| text.as_str()))
                            .bind(last.map(|(_, ts)| *ts))
                            .bind(now)
                            .bind(sign.map(|_| now))
                            .fetch_optional(&mut *tx)
                            .await?;
                        if created.is_some() {
                            outcome.created += 1;
                            continue;
                        }
                        sqlx::query_as::<_, MergeTarget>(MERGE_SELECT)
                            .bind(account_id)
                            .bind(snap.chat_id.as_str())
                            .fetch_one(&mut *tx)
                            .await?
                    }
                };
                let newer_last =
                    last.is_some_and(|(_, ts)| existing.last_message_at.is_none_or(|at| *ts > at));
                let changed = changes(sign, existing.reply_sign.as_deref())
                    || changes(name, existing.client_name.as_deref())
                    || card.is_some_and(|c| {
                        changes(c.nm_id.as_ref(), existing.nm_id.as_ref())
                            || changes(c.rid.as_deref(), existing.rid.as_deref())
                            || changes(c.price.as_ref(), existing.price.as_ref())
                            || changes(
                                c.price_currency.as_deref(),
                                existing.price_currency.as_deref(),
                            )
                            || changes(c.size.as_deref(), existing.size.as_deref())
                    })
                    || newer_last;
                if !changed {
                    continue;
                }
                sqlx::query(MERGE_UPDATE)
                    .bind(existing.id)
                    .bind(sign)
                    .bind(name)
                    .bind(card.and_then(|c| c.nm_id))
                    .bind(card.and_then(|c| c.rid.as_deref()))
                    .bind(card.and_then(|c| c.price))
                    .bind(card.and_then(|c| c.price_currency.as_deref()))
                    .bind(card.and_then(|c| c.size.as_deref()))
                    .bind(last.is_some())
                    .bind(last.map_or(0, |(_, ts)| *ts))
                    .bind(last.map(|(text, _)| text.as_str()))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                outcome.updated += 1;
            }
            sqlx::query("UPDATE sync_state SET chats_merged_at = $2 WHERE account_id = $1")
                .bind(account_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(outcome)
    }

    /// The workspace's chats by urgency: those waiting for a seller reply first (see
    /// [`Chat::awaiting_since_ms`]), longest-waiting first; then the rest by latest activity,
    /// newest first (ties: newest chat first). Served in index order, without a sort.
    ///
    /// With a search, a chat matches when its buyer name, its last message or any of its
    /// messages contains the needle. Case is ignored for Latin letters on both backends, and
    /// for every alphabet on PostgreSQL with a UTF-8 `LC_CTYPE` (`LOWER`). SQLite's `LOWER`
    /// and `LIKE` fold ASCII only, so for Cyrillic the needle is also tried lower-case,
    /// upper-case, with its first letter capitalised and with every word capitalised: what
    /// people type ("иван" finds "Иван", "ИВАН", "иван"; "иван петров" finds "Иван Петров"),
    /// though not arbitrary mixed case such as "иВАН".
    pub async fn list_chats(
        &self,
        workspace: WorkspaceId,
        filter: &ChatFilter,
    ) -> Result<Vec<Chat>> {
        let limit = i64::from(filter.limit.clamp(1, 1000));
        let offset = i64::from(filter.offset);
        let search = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(SearchPatterns::new);
        let rows: Vec<ChatRow> = on_pool!(&self.pool, |p| {
            match &search {
                None => {
                    sqlx::query_as(concat!(
                        "SELECT ",
                        chat_columns!(),
                        " FROM chats WHERE ",
                        list_where!("$6"),
                        list_order!(),
                        " LIMIT $4 OFFSET $5"
                    ))
                    .bind(workspace.get())
                    .bind(filter.account.map(AccountId::get))
                    .bind(filter.unread_only)
                    .bind(limit)
                    .bind(offset)
                    .bind(filter.urgent_only)
                    .fetch_all(p)
                    .await?
                }
                Some(s) => {
                    sqlx::query_as(concat!(
                        "SELECT ",
                        chat_columns!(),
                        " FROM chats WHERE ",
                        list_where!("$10"),
                        " AND (",
                        search_matches!("chats.client_name"),
                        " OR ",
                        search_matches!("chats.last_message_text"),
                        " OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = chats.id AND ",
                        search_matches!("m.text"),
                        "))",
                        list_order!(),
                        " LIMIT $4 OFFSET $5"
                    ))
                    .bind(workspace.get())
                    .bind(filter.account.map(AccountId::get))
                    .bind(filter.unread_only)
                    .bind(limit)
                    .bind(offset)
                    .bind(&s.lower)
                    .bind(&s.upper)
                    .bind(&s.first_capital)
                    .bind(&s.word_capitals)
                    .bind(filter.urgent_only)
                    .fetch_all(p)
                    .await?
                }
            }
        });
        rows.into_iter().map(ChatRow::into_model).collect()
    }

    /// One chat of the workspace.
    pub async fn find_chat(&self, workspace: WorkspaceId, chat: ChatRowId) -> Result<Chat> {
        let row: Option<ChatRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                chat_columns!(),
                " FROM chats WHERE id = $1 AND workspace_id = $2"
            ))
            .bind(chat.get())
            .bind(workspace.get())
            .fetch_optional(p)
            .await?
        });
        row.ok_or(StoreError::not_found("chat"))?.into_model()
    }

    /// A chat of the workspace by its account and WB chat id, if stored.
    pub async fn find_chat_by_wb_id(
        &self,
        workspace: WorkspaceId,
        account: AccountId,
        chat_id: &ChatId,
    ) -> Result<Option<Chat>> {
        let row: Option<ChatRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                chat_columns!(),
                " FROM chats WHERE account_id = $1 AND wb_chat_id = $2 AND workspace_id = $3"
            ))
            .bind(account.get())
            .bind(chat_id.as_str())
            .bind(workspace.get())
            .fetch_optional(p)
            .await?
        });
        row.map(ChatRow::into_model).transpose()
    }

    /// Every message of a chat of the workspace, oldest first, with attachments.
    pub async fn list_messages(
        &self,
        workspace: WorkspaceId,
        chat: ChatRowId,
    ) -> Result<Vec<Message>> {
        let (rows, attachments): (Vec<MessageRow>, Vec<AttachmentRow>) = on_pool!(
            &self.pool,
            |p| {
                let mut conn = p.acquire().await?;
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM chats WHERE id = $1 AND workspace_id = $2")
                        .bind(chat.get())
                        .bind(workspace.get())
                        .fetch_optional(&mut *conn)
                        .await?;
                if found.is_none() {
                    return Err(StoreError::not_found("chat"));
                }
                let rows = sqlx::query_as(
                "SELECT id, chat_id, account_id, event_id, sender, source, text, add_timestamp, \
                 is_platform FROM messages WHERE chat_id = $1 AND workspace_id = $2 \
                 ORDER BY add_timestamp, id",
            )
            .bind(chat.get())
            .bind(workspace.get())
            .fetch_all(&mut *conn)
            .await?;
                let attachments = sqlx::query_as(
                "SELECT a.id, a.message_id, a.kind, a.download_id, a.name, a.content_type, a.size, a.url \
                 FROM attachments a JOIN messages m ON m.id = a.message_id \
                 WHERE m.chat_id = $1 AND a.workspace_id = $2 ORDER BY a.id",
            )
            .bind(chat.get())
            .bind(workspace.get())
            .fetch_all(&mut *conn)
            .await?;
                (rows, attachments)
            }
        );
        let mut by_message: HashMap<i64, Vec<Attachment>> = HashMap::new();
        for a in attachments {
            let message_id = a.message_id;
            by_message
                .entry(message_id)
                .or_default()
                .push(a.into_model()?);
        }
        rows.into_iter()
            .map(|r| {
                let atts = by_message.remove(&r.id).unwrap_or_default();
                r.into_model(atts)
            })
            .collect()
    }

    /// Marks a chat of the workspace read up to its newest message: unread count 0.
    pub async fn mark_read(&self, workspace: WorkspaceId, chat: ChatRowId) -> Result<()> {
        let done = on_pool!(&self.pool, |p| {
            sqlx::query(
                "UPDATE chats SET unread_count = 0, last_read_at = CASE \
                 WHEN last_message_at IS NOT NULL \
                     AND (last_read_at IS NULL OR last_message_at > last_read_at) \
                 THEN last_message_at ELSE last_read_at END \
                 WHERE id = $1 AND workspace_id = $2",
            )
            .bind(chat.get())
            .bind(workspace.get())
            .execute(p)
            .await?
            .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::not_found("chat"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_patterns() {
        let p = SearchPatterns::new("иван петров");
        assert_eq!(p.lower, "%иван петров%");
        assert_eq!(p.upper, "%ИВАН ПЕТРОВ%");
        assert_eq!(p.first_capital, "%Иван петров%");
        assert_eq!(p.word_capitals, "%Иван Петров%");
        let p = SearchPatterns::new("50%_a\\b");
        assert_eq!(p.lower, "%50\\%\\_a\\\\b%");
        assert_eq!(SearchPatterns::new("ЁЖ").first_capital, "%Ёж%");
    }
}
