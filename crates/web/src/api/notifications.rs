//! The workspace's escalation notifications: list them (newest first) and mark them read.
//!
//! Notifications are created by the escalation scanner through the store; this module only
//! shows them to the operator and records what was read. It never creates, deletes or posts
//! anything (webhooks are the sync layer's), and every query is scoped by the operator's
//! workspace.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::{AccountId, ChatRowId, NotificationId};
use serde::{Deserialize, Serialize};
use store::Notification;
use utoipa::ToSchema;

use crate::error::WebError;
use crate::extract::{AppJson, AppQuery};
use crate::{AppState, Operator};

/// Page size when `limit` is absent.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest `limit` accepted.
pub const MAX_LIMIT: u32 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/notifications", get(list))
        .route("/api/v1/notifications/read", post(mark_read))
}

/// `GET /api/v1/notifications` query, parsed here so each bad value gets its own message.
#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    unread: Option<String>,
    limit: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationListJson {
    pub notifications: Vec<NotificationJson>,
    /// How many notifications of the workspace are unread (all of them, not just this page).
    pub unread: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationJson {
    #[schema(value_type = i64)]
    pub id: NotificationId,
    /// The chat it is about: the `{id}` of `/api/v1/chats/{id}/…`.
    #[schema(value_type = i64)]
    pub chat_id: ChatRowId,
    #[schema(value_type = i64)]
    pub account_id: AccountId,
    /// `negative_review | due_soon | breached`.
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// What the operator reads, in Russian.
    #[schema(value_type = String)]
    pub title: &'static str,
    /// Unix ms: the deadline (`due_soon`, `breached`) or when WB opened the review chat.
    pub key_at: i64,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms; `null` while unread.
    pub read_at: Option<i64>,
    pub client_name: Option<String>,
}

impl From<Notification> for NotificationJson {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            chat_id: n.chat_id,
            account_id: n.account_id,
            kind: n.kind.as_str(),
            title: n.kind.title(),
            key_at: n.key_at_ms,
            created_at: n.created_at_ms,
            read_at: n.read_at_ms,
            client_name: n.client_name,
        }
    }
}

/// `POST /api/v1/notifications/read` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct MarkRead {
    /// Every notification with this id or a smaller one is marked read.
    #[schema(value_type = i64)]
    up_to: NotificationId,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MarkedReadJson {
    /// How many notifications this call marked read.
    pub marked: u64,
    /// How many are still unread.
    pub unread: i64,
}

fn parse_unread(raw: Option<&str>) -> Result<bool, WebError> {
    match raw.map(str::trim).unwrap_or("false") {
        "" | "false" | "0" => Ok(false),
        "true" | "1" => Ok(true),
        _ => Err(WebError::bad_request(
            "invalid_unread",
            "Параметр unread может быть true или false.",
        )),
    }
}

fn parse_limit(raw: Option<&str>) -> Result<u32, WebError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(DEFAULT_LIMIT);
    };
    raw.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| {
            WebError::bad_request(
                "invalid_limit",
                format!("Параметр limit должен быть целым числом от 1 до {MAX_LIMIT}."),
            )
        })
}

/// `GET /api/v1/notifications` → the workspace's notifications, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "notifications",
    params(
        ("unread" = Option<bool>, Query, description = "`true`: only unread ones"),
        ("limit" = Option<u32>, Query, description = "Page size, 1..=200 (default 50)"),
    ),
    responses(
        (status = 200, description = "Notifications, newest first, and the unread count", body = NotificationListJson),
        (status = 400, description = "A malformed query", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    op: Operator,
    AppQuery(query): AppQuery<ListQuery>,
) -> Result<Json<NotificationListJson>, WebError> {
    let unread_only = parse_unread(query.unread.as_deref())?;
    let limit = parse_limit(query.limit.as_deref())?;
    let notifications = state
        .store
        .list_notifications(op.workspace_id, unread_only, limit)
        .await?;
    let unread = state
        .store
        .unread_notification_count(op.workspace_id)
        .await?;
    Ok(Json(NotificationListJson {
        notifications: notifications.into_iter().map(Into::into).collect(),
        unread,
    }))
}

/// `POST /api/v1/notifications/read` → marks notifications up to `upTo` read.
#[utoipa::path(
    post,
    path = "/api/v1/notifications/read",
    tag = "notifications",
    request_body = MarkRead,
    responses(
        (status = 200, description = "Marked read; how many, and how many are left unread", body = MarkedReadJson),
        (status = 400, description = "Malformed JSON", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 403, description = "A cookie-authenticated write without the CSRF token", body = crate::openapi::ErrorJson),
        (status = 415, description = "Not JSON", body = crate::openapi::ErrorJson),
        (status = 422, description = "`upTo` missing or not a positive integer", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn mark_read(
    State(state): State<AppState>,
    op: Operator,
    AppJson(body): AppJson<MarkRead>,
) -> Result<Json<MarkedReadJson>, WebError> {
    let marked = state
        .store
        .mark_notifications_read(op.workspace_id, body.up_to)
        .await?;
    let unread = state
        .store
        .unread_notification_count(op.workspace_id)
        .await?;
    Ok(Json(MarkedReadJson { marked, unread }))
}
