//! Replies: `POST /api/v1/chats/{id}/messages` puts a reply in the outbox (after the
//! guardrails), `GET /api/v1/outbox/{id}` tells where it stands, `POST /api/v1/outbox/{id}/retry`
//! re-queues a failed one. Nothing here talks to WB: the sync layer's sender delivers.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::guardrails::{self, Violation};
use domain::{ChatRowId, OutboxId};
use serde::{Deserialize, Serialize};
use store::{OutboxEntry, OutboxFile};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Operator;
use crate::error::WebError;
use crate::extract::{AppJson, AppPath};

/// Requests with files may carry WB's 30 MB of attachments plus the form's overhead.
pub const MAX_REPLY_BYTES: usize = 32 * 1024 * 1024;

/// The longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/outbox/{id}", get(status))
        .route("/api/v1/outbox/{id}/retry", post(retry))
}

/// A reply's state, as `GET /api/v1/outbox/{id}` and the send route answer it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxJson {
    pub id: i64,
    pub chat_id: i64,
    /// `queued | sending | sent | failed | unknown`.
    #[schema(value_type = String)]
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub text: String,
    pub files: Vec<String>,
    pub attempts: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    /// The stored message this reply became, once its echo arrived from WB.
    pub message_id: Option<i64>,
}

impl From<OutboxEntry> for OutboxJson {
    fn from(e: OutboxEntry) -> Self {
        Self {
            id: e.id.get(),
            chat_id: e.chat_id.get(),
            state: e.state.as_str(),
            error: e.error,
            text: e.text,
            files: e.file_names,
            attempts: e.attempts,
            created_at: e.created_at_ms,
            sent_at: e.sent_at_ms,
            message_id: e.message_id.map(|m| m.get()),
        }
    }
}

/// One guardrail violation; `start`/`end` are UTF-16 offsets into the text (as JavaScript
/// counts), `file` the index of an offending file.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReplyViolationJson)]
pub struct ViolationJson {
    #[schema(value_type = String)]
    pub kind: &'static str,
    pub start: usize,
    pub end: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<usize>,
    pub message: String,
}

pub fn violations_json(text: &str, violations: &[Violation]) -> Vec<ViolationJson> {
    violations
        .iter()
        .map(|v| {
            let span = v.utf16_span(text);
            ViolationJson {
                kind: v.kind.as_str(),
                start: span.start,
                end: span.end,
                file: v.file,
                message: v.message.clone(),
            }
        })
        .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextReply {
    text: String,
}

/// A reply as the client sent it: JSON `{"text"}`, or multipart with a `text` field and
/// `file` parts.
struct Reply {
    text: String,
    files: Vec<OutboxFile>,
}

async fn read_reply(state: &AppState, req: Request) -> Result<Reply, WebError> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let AppJson(body) = AppJson::<TextReply>::from_request(req, state).await?;
        return Ok(Reply {
            text: body.text,
            files: Vec::new(),
        });
    }
    let mut form = Multipart::from_request(req, state).await.map_err(|e| {
        WebError::bad_request_detail(
            "invalid_multipart",
            "Не удалось прочитать форму: ожидается multipart/form-data с полем text и файлами file.",
            e.body_text(),
        )
    })?;
    let mut text = String::new();
    let mut files = Vec::new();
    loop {
        let field = form.next_field().await.map_err(|e| {
            WebError::bad_request_detail(
                "invalid_multipart",
                "Форма оборвалась или слишком велика (не больше 30 МБ файлов).",
                e.body_text(),
            )
        })?;
        let Some(field) = field else { break };
        match field.name().unwrap_or_default() {
            "text" => {
                text = field.text().await.map_err(|e| {
                    WebError::bad_request_detail(
                        "invalid_multipart",
                        "Поле text не читается.",
                        e.body_text(),
                    )
                })?;
            }
            "file" => {
                let name = field.file_name().unwrap_or("file").to_owned();
                let bytes = field.bytes().await.map_err(|e| {
                    WebError::bad_request_detail(
                        "invalid_multipart",
                        "Файл не читается или слишком велик (не больше 5 МБ).",
                        e.body_text(),
                    )
                })?;
                // The declared type is not trusted; the guardrails reject anything unsniffable.
                let content_type = match guardrails::sniff(&bytes) {
                    Some(guardrails::FileType::Jpeg) => "image/jpeg",
                    Some(guardrails::FileType::Png) => "image/png",
                    Some(guardrails::FileType::Pdf) => "application/pdf",
                    None => "application/octet-stream",
                }
                .to_owned();
                files.push(OutboxFile {
                    name,
                    content_type,
                    bytes: bytes.to_vec(),
                });
            }
            other => {
                return Err(WebError::invalid(
                    "unknown_field",
                    format!("Неизвестное поле формы «{other}»: ожидаются text и file."),
                ));
            }
        }
    }
    Ok(Reply { text, files })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, WebError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
        .ok_or_else(|| {
            WebError::bad_request(
                "invalid_idempotency_key",
                "Заголовок Idempotency-Key должен быть непустой ASCII-строкой не длиннее 200 символов.",
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// `POST /api/v1/chats/{id}/messages` → 202 `{"id","state",…}`; guardrail violations → 422
/// `{"violations":[…]}`; a repeated `Idempotency-Key` answers the first reply (200) and
/// creates nothing.
#[utoipa::path(
    post,
    path = "/api/v1/chats/{id}/messages",
    tag = "replies",
    params(
        ("id" = i64, Path, description = "Chat id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe key: a repeated key answers the first reply (200) and queues nothing"),
    ),
    request_body(
        content = TextReply,
        description = "JSON `{\"text\"}`, or `multipart/form-data` with a `text` field and `file` parts (JPEG, PNG, PDF; up to 5 MB each, 30 MB together)",
    ),
    responses(
        (status = 202, description = "Queued in the outbox", body = OutboxJson),
        (status = 200, description = "The reply already queued with this Idempotency-Key", body = OutboxJson),
        (status = 422, description = "The reply breaks the guardrails; nothing was queued", body = crate::openapi::GuardrailsRejectionJson),
        (status = 400, description = "A malformed id, body or Idempotency-Key", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such chat in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
        (status = 415, description = "Neither JSON nor multipart", body = crate::openapi::ErrorJson),
    )
)]
pub async fn send(
    State(state): State<AppState>,
    op: Operator,
    AppPath(id): AppPath<String>,
    req: Request,
) -> Result<Response, WebError> {
    let chat: ChatRowId = id.parse().map_err(|_| {
        WebError::bad_request(
            "invalid_id",
            "Неверный идентификатор чата: ожидается положительное целое число.",
        )
    })?;
    let key = idempotency_key(req.headers())?;
    // The chat must be ours before anything else is looked at.
    let found = state.store.find_chat(op.workspace_id, chat).await?;
    let reply = read_reply(&state, req).await?;
    let pairs: Vec<(&str, &[u8])> = reply
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.bytes.as_slice()))
        .collect();
    let violations = guardrails::check_message(&reply.text, &pairs);
    if !violations.is_empty() {
        let body = serde_json::json!({
            "error": "guardrails",
            "message": "Сообщение не отправлено: исправьте отмеченные места.",
            "violations": violations_json(&reply.text, &violations),
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    let (entry, created) = state
        .store
        .enqueue_reply(
            op.workspace_id,
            chat,
            &reply.text,
            &reply.files,
            key.as_deref(),
        )
        .await?;
    if let Some(engine) = &state.engine {
        engine.mark_open(found.account_id);
    }
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(OutboxJson::from(entry))).into_response())
}

fn parse_outbox_id(raw: &str) -> Result<OutboxId, WebError> {
    raw.parse().map_err(|_| {
        WebError::bad_request(
            "invalid_id",
            "Неверный идентификатор ответа: ожидается положительное целое число.",
        )
    })
}

/// `GET /api/v1/outbox/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/outbox/{id}",
    tag = "replies",
    params(("id" = i64, Path, description = "Outbox id (the `id` the send route answered)")),
    responses(
        (status = 200, description = "Where the reply stands", body = OutboxJson),
        (status = 400, description = "A malformed id", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such reply in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn status(
    State(state): State<AppState>,
    op: Operator,
    AppPath(id): AppPath<String>,
) -> Result<Json<OutboxJson>, WebError> {
    let id = parse_outbox_id(&id)?;
    Ok(Json(
        state.store.get_outbox(op.workspace_id, id).await?.into(),
    ))
}

/// `POST /api/v1/outbox/{id}/retry` → the reply queued again (only a `failed` one).
#[utoipa::path(
    post,
    path = "/api/v1/outbox/{id}/retry",
    tag = "replies",
    params(("id" = i64, Path, description = "Outbox id")),
    responses(
        (status = 200, description = "Queued again", body = OutboxJson),
        (status = 400, description = "A malformed id", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such reply in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
        (status = 409, description = "The reply is not `failed`", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn retry(
    State(state): State<AppState>,
    op: Operator,
    AppPath(id): AppPath<String>,
) -> Result<Json<OutboxJson>, WebError> {
    let id = parse_outbox_id(&id)?;
    Ok(Json(
        state.store.retry_failed(op.workspace_id, id).await?.into(),
    ))
}
