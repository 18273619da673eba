//! Buyer files and images: `GET /api/v1/attachments/{id}` streams an attachment's bytes.
//!
//! The web layer never calls WB for them: it asks the sync engine, which serves them from its
//! content-addressed cache or downloads them through the account's WB client (waiting through
//! WB's moderation for a while). The `id` is the attachment's `id` in the messages JSON.
//!
//! Answers: 200 with the bytes (`Content-Type` as cached; images inline, other files as a
//! download); 202 `{"state": "pending", "retryAfter": <s>, "message"}` while WB still
//! moderates the file; 451 `{"error": "blocked", "message"}` when WB's moderation blocked it;
//! 404 for an id of another workspace; 502 when WB could not be asked.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::{AttachmentKind, AttachmentRowId};
use serde_json::json;
use sync::{FetchError, Fetched, ReadyFile};
use wb::WbError;

use crate::error::WebError;
use crate::extract::AppPath;
use crate::{AppState, Operator};

/// How long a browser may keep a served attachment (its bytes never change).
pub const MAX_AGE_SECS: u64 = 86_400;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/attachments/{id}", get(download))
}

/// `GET /api/v1/attachments/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/attachments/{id}",
    tag = "attachments",
    params(
        ("id" = i64, Path, description = "Attachment id (`attachments[].id` in the messages)"),
        ("If-None-Match" = Option<String>, Header, description = "The ETag of a cached copy"),
    ),
    responses(
        (status = 200, description = "The file's bytes, with its Content-Type; images inline, other files as a download"),
        (status = 202, description = "WB still moderates the file; retry after `retryAfter` seconds", body = crate::openapi::AttachmentPendingJson),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 451, description = "Blocked by WB's moderation", body = crate::openapi::ErrorJson),
        (status = 502, description = "WB could not be asked", body = crate::openapi::ErrorJson),
        (status = 400, description = "A malformed id", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such attachment in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn download(
    State(state): State<AppState>,
    op: Operator,
    headers: HeaderMap,
    AppPath(id): AppPath<String>,
) -> Result<Response, WebError> {
    let id: AttachmentRowId = id.parse().map_err(|_| {
        WebError::bad_request(
            "invalid_id",
            "Неверный идентификатор вложения: ожидается положительное целое число.",
        )
    })?;
    let Some(engine) = state.engine() else {
        // Still answer 404 for ids of other workspaces before saying the service is missing.
        state.store().find_attachment(op.workspace_id, id).await?;
        return Err(WebError::Internal(
            "attachments need the sync engine, which this process does not run".to_owned(),
        ));
    };
    match engine.fetch_attachment(op.workspace_id, id).await {
        Ok(Fetched::Ready(file)) => Ok(serve(file, id, &headers)),
        Ok(Fetched::Pending { retry_after }) => Ok(pending(retry_after.as_secs().max(1))),
        Ok(Fetched::Blocked) => Ok(blocked()),
        Err(FetchError::NotFound) => Err(WebError::NotFound { what: "attachment" }),
        Err(FetchError::NoDownloadId) => Err(WebError::NotFound {
            what: "attachment file",
        }),
        Err(FetchError::Wb(e)) => Ok(wb_unavailable(id, &e)),
        Err(FetchError::Store(e)) => Err(WebError::Store(e)),
        Err(e @ FetchError::Cache(_)) => Err(WebError::Internal(e.to_string())),
    }
}

fn serve(file: ReadyFile, id: AttachmentRowId, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", file.sha256);
    let mut response = if request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Body::from(file.bytes.clone()).into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&file.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    } else {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(sync::attachments::OCTET_STREAM),
        );
    }
    // Only images are shown inline; anything else (a PDF, or an "image" whose bytes say
    // otherwise) is offered as a download, so no file a buyer sent renders on our origin.
    let inline = file.kind == AttachmentKind::Image && file.content_type.starts_with("image/");
    let name = file
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(|| default_name(id, &file.content_type), ToOwned::to_owned);
    if let Ok(v) = HeaderValue::from_str(&content_disposition(inline, &name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={MAX_AGE_SECS}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "x-agentiq-cache",
        HeaderValue::from_static(if file.from_cache { "hit" } else { "miss" }),
    );
    response
}

/// `inline` or `attachment`, with the name as RFC 5987 UTF-8 (`filename*=UTF-8''…`) and an
/// ASCII fallback for old clients.
pub fn content_disposition(inline: bool, name: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String = name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        percent_encode(name)
    )
}

/// RFC 5987 `attr-char`s stay, every other byte becomes `%XX`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn default_name(id: AttachmentRowId, content_type: &str) -> String {
    let ext = match content_type {
        "image/jpeg" => ".jpg",
        "image/png" => ".png",
        "image/gif" => ".gif",
        "image/webp" => ".webp",
        "application/pdf" => ".pdf",
        _ => "",
    };
    format!("attachment-{id}{ext}")
}

fn pending(retry_after: u64) -> Response {
    let mut response = (
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "state": "pending",
            "retryAfter": retry_after,
            "message": format!(
                "Файл ещё проходит модерацию WB. Повторите запрос через {retry_after} с."
            ),
        })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn blocked() -> Response {
    (
        StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
        axum::Json(json!({
            "error": "blocked",
            "message": "Файл заблокирован модерацией WB",
        })),
    )
        .into_response()
}

fn wb_unavailable(id: AttachmentRowId, e: &WbError) -> Response {
    tracing::warn!(attachment = %id, error = %e, "attachment download failed");
    let message = match e {
        WbError::RateLimited { retry_after } => format!(
            "WB временно ограничил запросы с токеном этого аккаунта. Повторите через {} с.",
            retry_after.as_secs().max(1)
        ),
        e if e.is_auth() || matches!(e, WbError::PaymentRequired(_)) => {
            "WB не принял токен аккаунта, поэтому файл не скачать. Обновите токен в настройках \
             аккаунта."
                .to_owned()
        }
        _ => "Не удалось получить файл от WB. Повторите попытку через минуту.".to_owned(),
    };
    let mut response = (
        StatusCode::BAD_GATEWAY,
        axum::Json(json!({"error": "wb_unavailable", "message": message})),
    )
        .into_response();
    if let WbError::RateLimited { retry_after } = e {
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after.as_secs().max(1)),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions() {
        assert_eq!(
            content_disposition(false, "чек.pdf"),
            "attachment; filename=\"___.pdf\"; filename*=UTF-8''%D1%87%D0%B5%D0%BA.pdf"
        );
        assert_eq!(
            content_disposition(true, "photo 1.jpg"),
            "inline; filename=\"photo 1.jpg\"; filename*=UTF-8''photo%201.jpg"
        );
        assert_eq!(
            content_disposition(false, "a\"b\r\n.pdf"),
            "attachment; filename=\"a_b__.pdf\"; filename*=UTF-8''a%22b%0D%0A.pdf"
        );
    }
}
