//! A chat's triage as the API shows it, and what operators change about it.
//!
//! [`TriageJson`] is part of every chat of `GET /api/v1/chats`: priority (in force, automatic,
//! override) with the reasons that decided it, deadline, time left and standing at the app's
//! clock, snooze, and WB's negative-review window. `PUT /api/v1/chats/{id}/priority` overrides
//! the priority (or returns it to automatic), `PUT /api/v1/chats/{id}/snooze` snoozes a chat
//! until a time (or wakes it). The deadline arithmetic is `domain::triage`'s; the store
//! recomputes it under the row's lock. Nothing here calls WB.

use axum::extract::State;
use axum::routing::put;
use axum::{Json, Router};
use domain::triage::deadline::{Standing, standing};
use domain::{Priority, TriageNote};
use serde::{Deserialize, Serialize};
use store::Chat;
use utoipa::ToSchema;

use crate::api::chats::{ChatJson, parse_chat_id};
use crate::error::WebError;
use crate::extract::{AppJson, AppPath};
use crate::{AppState, Operator};

/// Snoozes longer than this are refused (a chat is not parked for more than 30 days).
pub const MAX_SNOOZE_MS: i64 = 30 * 24 * 3_600_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/chats/{id}/priority", put(set_priority))
        .route("/api/v1/chats/{id}/snooze", put(snooze))
}

/// Where a chat stands in the queue and why.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriageJson {
    /// The priority in force: `urgent | high | normal` (the override, else the automatic one).
    #[schema(value_type = String)]
    pub priority: &'static str,
    /// The automatic priority.
    #[schema(value_type = String)]
    pub auto_priority: &'static str,
    /// The operator's override, if any.
    #[schema(value_type = Option<String>)]
    pub priority_override: Option<&'static str>,
    /// What the deciding buyer message is about (`return_refund`, `defect_damage`,
    /// `wrong_item_or_size`, `delivery`, `pre_purchase`, `thanks`, `other`), if one was
    /// classified.
    #[schema(value_type = Option<String>)]
    pub intent: Option<&'static str>,
    /// `angry | neutral | positive`.
    #[schema(value_type = Option<String>)]
    pub tone: Option<&'static str>,
    /// Every rule that fired, the priority rule first: what the operator reads to trust it.
    pub reasons: Vec<ReasonJson>,
    /// The answer is due by then (Unix ms); `null` when nothing waits.
    pub due_at: Option<i64>,
    /// `dueAt` minus now at the server's clock (negative once breached).
    pub time_left_ms: Option<i64>,
    /// `answered | on_time | due_soon | breached | snoozed`.
    #[schema(value_type = String)]
    pub standing: &'static str,
    pub snoozed_until: Option<i64>,
    /// WB's negative-review window when WB opened this chat over a review under 4 stars.
    pub review: Option<ReviewJson>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReasonJson {
    /// Stable rule id (`priority_complaint`, `intent_delivery`, `anger_caps`, …).
    pub rule: String,
    /// The words it matched (normalised).
    pub matched: String,
    /// In Russian, for the operator.
    pub explanation: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewJson {
    /// When WB's template arrived.
    pub opened_at: i64,
    /// The buyer's first reply to it: the 72 hours start here.
    pub buyer_replied_at: Option<i64>,
    /// When the review is published unless resolved; `null` until the buyer replies.
    pub closes_at: Option<i64>,
    /// Whether the window is still open at the server's clock.
    pub open: bool,
}

impl TriageJson {
    /// `lead`: the workspace's escalation lead (a chat is due soon within it).
    pub fn new(c: &Chat, now_ms: i64, lead: std::time::Duration) -> Self {
        let note: Option<&TriageNote> = c.triage.as_ref();
        let st = standing(c.due_at_ms, c.snoozed_until_ms, now_ms, lead);
        Self {
            priority: c.effective_priority().as_str(),
            auto_priority: c.priority.as_str(),
            priority_override: c.priority_override.map(Priority::as_str),
            intent: note.and_then(|n| n.intent).map(|i| i.as_str()),
            tone: note.and_then(|n| n.tone).map(|t| t.as_str()),
            reasons: note
                .map(|n| {
                    n.reasons
                        .iter()
                        .map(|r| ReasonJson {
                            rule: r.rule.clone(),
                            matched: r.matched.clone(),
                            explanation: r.explanation.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            due_at: c.due_at_ms,
            time_left_ms: c.due_at_ms.map(|d| d - now_ms),
            standing: match st {
                Standing::Answered => "answered",
                other => other.as_str(),
            },
            snoozed_until: c.snoozed_until_ms,
            review: c.review.map(|r| ReviewJson {
                opened_at: r.opened_at_ms,
                buyer_replied_at: r.buyer_replied_at_ms,
                closes_at: r.closes_at_ms(),
                open: r.is_open(now_ms),
            }),
        }
    }
}

/// The workspace's escalation lead: how close to its deadline a chat counts as due soon.
pub(crate) async fn workspace_lead(
    state: &AppState,
    workspace: domain::WorkspaceId,
) -> Result<std::time::Duration, WebError> {
    Ok(state
        .store()
        .triage_settings(workspace)
        .await?
        .escalation_lead)
}

/// `PUT /api/v1/chats/{id}/priority` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PriorityBody {
    /// `urgent | high | normal`, or `null` to return to the automatic priority.
    #[schema(value_type = Option<String>)]
    pub priority: Option<String>,
}

/// `PUT /api/v1/chats/{id}/snooze` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SnoozeBody {
    /// Unix ms to snooze until (in the future, at most 30 days ahead), or `null` to wake the
    /// chat now.
    pub until: Option<i64>,
}

/// `PUT /api/v1/chats/{id}/priority` → the chat with its new deadline.
#[utoipa::path(
    put,
    path = "/api/v1/chats/{id}/priority",
    tag = "chats",
    params(("id" = i64, Path, description = "Chat id")),
    request_body = PriorityBody,
    responses(
        (status = 200, description = "The chat, with the deadline of the new priority", body = ChatJson),
        (status = 400, description = "A malformed id or an unknown priority", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such chat in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn set_priority(
    State(state): State<AppState>,
    op: Operator,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<PriorityBody>,
) -> Result<Json<ChatJson>, WebError> {
    let id = parse_chat_id(&id)?;
    let priority = body
        .priority
        .as_deref()
        .map(|p| {
            p.parse::<Priority>().map_err(|_| {
                WebError::bad_request(
                    "invalid_priority",
                    "Приоритет может быть urgent, high, normal или null (автоматически).",
                )
            })
        })
        .transpose()?;
    let chat = state
        .store()
        .set_priority_override(op.workspace_id, id, priority)
        .await?;
    let lead = workspace_lead(&state, op.workspace_id).await?;
    Ok(Json(ChatJson::new(chat, state.clock().now_ms(), lead)))
}

/// `PUT /api/v1/chats/{id}/snooze` → the chat, snoozed or awake.
#[utoipa::path(
    put,
    path = "/api/v1/chats/{id}/snooze",
    tag = "chats",
    params(("id" = i64, Path, description = "Chat id")),
    request_body = SnoozeBody,
    responses(
        (status = 200, description = "The chat with its snooze", body = ChatJson),
        (status = 400, description = "A malformed id, or a time in the past or too far ahead", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such chat in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn snooze(
    State(state): State<AppState>,
    op: Operator,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<SnoozeBody>,
) -> Result<Json<ChatJson>, WebError> {
    let id = parse_chat_id(&id)?;
    let now = state.clock().now_ms();
    if let Some(until) = body.until {
        if until <= now {
            return Err(WebError::bad_request(
                "invalid_snooze",
                "Отложить можно только до момента в будущем.",
            ));
        }
        if until - now > MAX_SNOOZE_MS {
            return Err(WebError::bad_request(
                "invalid_snooze",
                "Отложить можно не больше чем на 30 дней.",
            ));
        }
    }
    let chat = state
        .store()
        .snooze_chat(op.workspace_id, id, body.until)
        .await?;
    let lead = workspace_lead(&state, op.workspace_id).await?;
    Ok(Json(ChatJson::new(chat, now, lead)))
}
