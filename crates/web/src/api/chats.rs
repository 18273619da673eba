//! The inbox: chats of the workspace, the messages of one chat, marking a chat read.
//!
//! Reads only; replying arrives with the outbox (the web layer enqueues, the sender sends).
//! Opening a chat's messages tells the sync engine that an operator is looking at that
//! account, so it polls it at the fast cadence for a while.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::{AccountId, AttachmentRowId, ChatRowId, MessageRowId};
use serde::{Deserialize, Serialize};
use store::{Attachment, Chat, ChatFilter, Message};
use utoipa::ToSchema;

use crate::api::accounts::parse_account_id;
use crate::error::WebError;
use crate::extract::{AppPath, AppQuery};
use crate::{AppState, Operator};

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest `limit` accepted.
pub const MAX_LIMIT: u32 = 200;
/// Longest search text (`q`), in characters.
pub const MAX_SEARCH_CHARS: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/chats", get(list))
        .route(
            "/api/v1/chats/{id}/messages",
            get(messages)
                .post(super::replies::send)
                .layer(axum::extract::DefaultBodyLimit::max(
                    super::replies::MAX_REPLY_BYTES,
                )),
        )
        .route("/api/v1/chats/{id}/read", post(mark_read))
}

/// `GET /api/v1/chats` query. Everything arrives as text and is parsed here, so each bad
/// value gets its own message.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    account_id: Option<String>,
    filter: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    q: Option<String>,
}

/// Which chats to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    All,
    Unread,
    /// Waiting chats whose priority in force is urgent.
    Urgent,
}

impl Filter {
    fn parse(raw: Option<&str>) -> Result<Self, WebError> {
        match raw.map(str::trim).unwrap_or("all") {
            "" | "all" => Ok(Filter::All),
            "unread" => Ok(Filter::Unread),
            "urgent" => Ok(Filter::Urgent),
            _ => Err(WebError::bad_request(
                "invalid_filter",
                "Параметр filter может быть all, unread или urgent.",
            )),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatListJson {
    pub chats: Vec<ChatJson>,
    /// Pass as `cursor` for the next page; `null` on the last page. Opaque.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatJson {
    /// Our id: the `{id}` of `/api/v1/chats/{id}/…`.
    #[schema(value_type = i64)]
    pub id: ChatRowId,
    #[schema(value_type = i64)]
    pub account_id: AccountId,
    /// WB's chat id.
    pub chat_id: String,
    pub client_name: Option<String>,
    pub good_card: Option<GoodCardJson>,
    pub last_message: Option<LastMessageJson>,
    pub unread_count: i64,
    /// Whether a reply can be sent (WB's `replySign` is known).
    pub replyable: bool,
    /// Unix ms of the oldest buyer message (or WB's negative-review template) no seller
    /// message has answered yet: the chat waits for a reply since then. `null` when nothing
    /// waits.
    pub waiting_since: Option<i64>,
    /// Priority, deadline, standing and why. The list puts waiting chats first, least time
    /// left first (a snoozed chat by the end of its snooze when that is later).
    pub triage: super::triage::TriageJson,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GoodCardJson {
    pub nm_id: Option<i64>,
    pub rid: Option<String>,
    pub price: Option<i64>,
    pub price_currency: Option<String>,
    pub size: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LastMessageJson {
    pub text: String,
    /// Unix ms.
    pub at: i64,
}

impl ChatJson {
    /// The chat as the API shows it, with time left counted at `now_ms` (due soon within
    /// `lead` of the deadline).
    pub fn new(c: Chat, now_ms: i64, lead: std::time::Duration) -> Self {
        let triage = super::triage::TriageJson::new(&c, now_ms, lead);
        let last_message = match (c.last_message_text, c.last_message_at_ms) {
            (Some(text), Some(at)) => Some(LastMessageJson { text, at }),
            (None, Some(at)) => Some(LastMessageJson {
                text: String::new(),
                at,
            }),
            _ => None,
        };
        Self {
            id: c.id,
            account_id: c.account_id,
            chat_id: c.chat_id.into_string(),
            client_name: c.client_name,
            good_card: c.good_card.map(|g| GoodCardJson {
                nm_id: g.nm_id,
                rid: g.rid,
                price: g.price,
                price_currency: g.price_currency,
                size: g.size,
            }),
            last_message,
            unread_count: c.unread_count,
            replyable: c.reply_sign.is_some(),
            waiting_since: c.awaiting_since_ms,
            triage,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagesJson {
    pub messages: Vec<MessageJson>,
    /// Replies in the outbox not yet seen back from WB (queued, sending, unknown, failed, or
    /// sent but not echoed yet), oldest first.
    pending: Vec<super::replies::OutboxJson>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageJson {
    #[schema(value_type = i64)]
    pub id: MessageRowId,
    /// WB's event id.
    pub event_id: String,
    /// `client | seller | wb`.
    #[schema(value_type = String)]
    pub sender: &'static str,
    /// Where it was written (`seller-portal`, `seller-public-api`, `rusite`, `ios`, …).
    pub source: String,
    pub text: String,
    /// Unix ms (WB's `addTimestamp`).
    pub at: i64,
    /// Written by WB itself (e.g. the template opening a negative-review chat).
    pub is_platform: bool,
    pub attachments: Vec<AttachmentJson>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentJson {
    /// Our id: the `{id}` of `/api/v1/attachments/{id}`, which serves the bytes.
    #[schema(value_type = Option<i64>)]
    pub id: Option<AttachmentRowId>,
    /// `image | file`.
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub download_id: Option<String>,
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<i64>,
    pub url: Option<String>,
}

impl From<Attachment> for AttachmentJson {
    fn from(a: Attachment) -> Self {
        Self {
            id: a.id,
            kind: a.kind.as_str(),
            download_id: a.download_id.map(|d| d.into_string()),
            name: a.name,
            content_type: a.content_type,
            size: a.size,
            url: a.url,
        }
    }
}

impl From<Message> for MessageJson {
    fn from(m: Message) -> Self {
        Self {
            id: m.id,
            event_id: m.event_id.into_string(),
            sender: m.sender.as_str(),
            source: m.source,
            text: m.text,
            at: m.add_timestamp_ms,
            is_platform: m.is_platform,
            attachments: m
                .attachments
                .into_iter()
                .map(AttachmentJson::from)
                .collect(),
        }
    }
}

/// `GET /api/v1/chats?accountId=&filter=all|unread|urgent&limit=&cursor=`.
///
/// Ordered by urgency: chats waiting for a seller reply first, longest-waiting first
/// (`waitingSince` ascending), then the rest by latest activity, newest first (`urgent` lists
/// the same as `all` until triage's SLA filter exists). Pages are offset-based: a chat whose
/// position changes between two pages may be seen twice or skipped once; the live stream
/// covers that.
/// `q` searches the buyer's name and every message of the chat, ignoring case.
#[utoipa::path(
    get,
    path = "/api/v1/chats",
    tag = "chats",
    params(
        ("accountId" = Option<i64>, Query, description = "Only this account's chats"),
        ("filter" = Option<String>, Query, description = "`all` (default), `unread` or `urgent`"),
        ("limit" = Option<u32>, Query, description = "Page size, 1..=200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page"),
        ("q" = Option<String>, Query, description = "Search text (buyer name or any message), at most 200 characters; case is ignored"),
    ),
    responses(
        (status = 200, description = "One page of chats, latest activity first", body = ChatListJson),
        (status = 400, description = "A bad query parameter", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such account in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    op: Operator,
    AppQuery(q): AppQuery<ListQuery>,
) -> Result<Json<ChatListJson>, WebError> {
    let filter = Filter::parse(q.filter.as_deref())?;
    let limit = match q.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                WebError::bad_request(
                    "invalid_limit",
                    format!("Параметр limit должен быть целым числом от 1 до {MAX_LIMIT}."),
                )
            })?,
    };
    let offset = match q.cursor.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(raw) => decode_cursor(raw)?,
    };
    let account = match q.account_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            let id = parse_account_id(raw)?;
            // 404 for an account of another workspace, rather than an empty list.
            state.store.get_account(op.workspace_id, id).await?;
            Some(id)
        }
    };
    let search = match q.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) if raw.chars().count() > MAX_SEARCH_CHARS => {
            return Err(WebError::bad_request(
                "invalid_q",
                format!("Строка поиска q должна быть не длиннее {MAX_SEARCH_CHARS} символов."),
            ));
        }
        Some(raw) => Some(raw.to_owned()),
    };
    // One extra row tells whether another page exists.
    let mut chats = state
        .store
        .list_chats(
            op.workspace_id,
            &ChatFilter {
                account,
                unread_only: filter == Filter::Unread,
                urgent_only: filter == Filter::Urgent,
                search,
                limit: limit + 1,
                offset,
            },
        )
        .await?;
    let more = chats.len() > limit as usize;
    chats.truncate(limit as usize);
    let next_cursor = more.then(|| encode_cursor(offset.saturating_add(limit)));
    Ok(Json(ChatListJson {
        chats: {
            let now = state.clock().now_ms();
            let lead = super::triage::workspace_lead(&state, op.workspace_id).await?;
            chats
                .into_iter()
                .map(|c| ChatJson::new(c, now, lead))
                .collect()
        },
        next_cursor,
    }))
}

/// `GET /api/v1/chats/{id}/messages` → every message of the chat, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/chats/{id}/messages",
    tag = "chats",
    params(("id" = i64, Path, description = "Chat id")),
    responses(
        (status = 200, description = "The chat's messages, oldest first, and its pending replies", body = MessagesJson),
        (status = 400, description = "A malformed id", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such chat in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn messages(
    State(state): State<AppState>,
    op: Operator,
    AppPath(id): AppPath<String>,
) -> Result<Json<MessagesJson>, WebError> {
    let id = parse_chat_id(&id)?;
    let chat = state.store.find_chat(op.workspace_id, id).await?;
    let messages = state.store.list_messages(op.workspace_id, id).await?;
    if let Some(engine) = &state.engine {
        engine.mark_open(chat.account_id);
    }
    let pending = state.store.pending_replies(op.workspace_id, id).await?;
    Ok(Json(MessagesJson {
        messages: messages.into_iter().map(MessageJson::from).collect(),
        pending: pending.into_iter().map(Into::into).collect(),
    }))
}

/// `POST /api/v1/chats/{id}/read` → 204; the chat's unread count becomes 0.
#[utoipa::path(
    post,
    path = "/api/v1/chats/{id}/read",
    tag = "chats",
    params(("id" = i64, Path, description = "Chat id")),
    responses(
        (status = 204, description = "Marked read"),
        (status = 400, description = "A malformed id", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such chat in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn mark_read(
    State(state): State<AppState>,
    op: Operator,
    AppPath(id): AppPath<String>,
) -> Result<StatusCode, WebError> {
    let id = parse_chat_id(&id)?;
    state.store.mark_read(op.workspace_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) fn parse_chat_id(raw: &str) -> Result<ChatRowId, WebError> {
    raw.parse().map_err(|_| {
        WebError::bad_request(
            "invalid_id",
            "Неверный идентификатор чата: ожидается положительное целое число.",
        )
    })
}

/// Cursors are `o<offset>` today; clients must treat them as opaque so the encoding can
/// become keyset-based without breaking them.
fn encode_cursor(offset: u32) -> String {
    format!("o{offset}")
}

fn decode_cursor(raw: &str) -> Result<u32, WebError> {
    raw.strip_prefix('o')
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or_else(|| {
            WebError::bad_request(
                "invalid_cursor",
                "Параметр cursor повреждён: передайте nextCursor из предыдущего ответа без изменений.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(150)).ok(), Some(150));
        for bad in ["", "150", "o", "o-1", "ox"] {
            assert!(decode_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn filters() {
        assert_eq!(Filter::parse(None).ok(), Some(Filter::All));
        assert_eq!(Filter::parse(Some("unread")).ok(), Some(Filter::Unread));
        assert_eq!(Filter::parse(Some("urgent")).ok(), Some(Filter::Urgent));
        assert!(Filter::parse(Some("new")).is_err());
    }
}
