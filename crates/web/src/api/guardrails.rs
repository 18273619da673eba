//! `POST /api/v1/guardrails/check`: the composer's live check of a draft reply.
//!
//! The rules are [`domain::guardrails`]; this module only speaks JSON. Request
//! `{"text": "..."}`; answer `200 {"violations": [{"kind", "start", "end", "message"}],
//! "chars": <Unicode characters in text>, "limit": 1000}`. A draft with violations is still a
//! successful check (200), not an error; the send route answers 422 with the same
//! `violations` shape ([`violations_json`]).
//!
//! # Offsets
//! `start`/`end` are **UTF-16 code units** (end exclusive), which is how JavaScript indexes
//! strings, so the composer can use them directly (`text.slice(start, end)`, selection
//! ranges). The domain reports Unicode-character offsets; the two differ after characters
//! outside the BMP, such as emoji. `chars` and `limit` count Unicode characters, the unit of
//! WB's limit (in JS: `[...text].length`). Violations about no part of the text (`empty`)
//! have `start = end = 0`.
//!
//! Files are not part of this check: the send route checks attachments with
//! [`domain::guardrails::check_message`]. Unknown fields in the body are ignored.

use axum::routing::post;
use axum::{Json, Router};
use domain::guardrails::{self, MAX_TEXT_CHARS, Violation, ViolationKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::WebError;
use crate::extract::AppJson;
use crate::{AppState, Operator};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/guardrails/check", post(check))
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CheckBody {
    /// The draft reply.
    text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckJson {
    pub violations: Vec<ViolationJson>,
    /// Unicode characters in the text.
    pub chars: usize,
    /// The most characters WB accepts.
    pub limit: usize,
}

/// One violation as the API shows it; offsets in UTF-16 code units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ViolationJson {
    /// What is wrong (`url`, `email`, `phone`, `messenger`, `too_long`, `empty`, …).
    #[schema(value_type = String)]
    pub kind: ViolationKind,
    pub start: usize,
    pub end: usize,
    pub message: String,
}

/// The API form of violations found in `text`: char offsets become UTF-16 offsets.
pub fn violations_json(text: &str, violations: &[Violation]) -> Vec<ViolationJson> {
    if violations.is_empty() {
        return Vec::new();
    }
    // utf16[i] = UTF-16 offset of the i-th char; one extra entry for the end of the text.
    let mut utf16 = Vec::with_capacity(text.len() + 1);
    let mut at = 0;
    for c in text.chars() {
        utf16.push(at);
        at += c.len_utf16();
    }
    utf16.push(at);
    let convert = |i: usize| utf16.get(i).copied().unwrap_or(at);
    violations
        .iter()
        .map(|v| ViolationJson {
            kind: v.kind,
            start: convert(v.start),
            end: convert(v.end),
            message: v.message.clone(),
        })
        .collect()
}

/// `POST /api/v1/guardrails/check` → 200 with what would stop this text from being sent.
#[utoipa::path(
    post,
    path = "/api/v1/guardrails/check",
    tag = "guardrails",
    request_body = CheckBody,
    responses(
        (status = 200, description = "The violations (an empty list when the text may be sent)", body = CheckJson),
        (status = 400, description = "Malformed JSON", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 415, description = "Not JSON", body = crate::openapi::ErrorJson),
        (status = 422, description = "No `text`", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn check(
    _op: Operator,
    AppJson(body): AppJson<CheckBody>,
) -> Result<Json<CheckJson>, WebError> {
    let violations = guardrails::check_text(&body.text);
    Ok(Json(CheckJson {
        violations: violations_json(&body.text, &violations),
        chars: body.text.chars().count(),
        limit: MAX_TEXT_CHARS,
    }))
}
