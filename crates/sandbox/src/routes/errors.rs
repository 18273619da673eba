//! WB-shaped error bodies.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::model::{rfc3339_ms, uuid_like};
use crate::state::now_ms;
use crate::wire::{BadRequestBody, GatewayErrorBody};

fn request_id() -> String {
    uuid_like(&mut rand::rng()).replace('-', "")
}

/// A 400 (or 451) with WB's body `{status, title, origin, detail, requestId, error}`.
pub(crate) fn bad_request(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = BadRequestBody {
        status: status.as_u16(),
        title: title.to_owned(),
        origin: "proxy-chats",
        detail: detail.to_owned(),
        request_id: request_id(),
        // WB's 451 body has no `error`; its 400 body repeats the reason there.
        error: (status == StatusCode::BAD_REQUEST).then(|| detail.to_owned()),
    };
    (status, Json(body)).into_response()
}

/// A gateway error (401, 403, 404, 429, 5xx) with WB's body shape.
pub(crate) fn gateway_error(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = GatewayErrorBody {
        title: title.to_owned(),
        detail: detail.to_owned(),
        code: format!("{:x}", rand::random::<u64>()),
        request_id: request_id(),
        origin: "s2s-api-auth-catalog",
        status: status.as_u16(),
        status_text: status.canonical_reason().unwrap_or("").to_owned(),
        timestamp: rfc3339_ms(now_ms()),
    };
    (status, Json(body)).into_response()
}
