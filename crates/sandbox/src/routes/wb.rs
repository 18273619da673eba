//! WB's four buyer-chat routes, as WB answers them.

use std::collections::HashMap;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Extension, Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use rand::Rng;

use super::{SellerIdx, bad_request, base_url};
use crate::faults::FaultKind;
use crate::model::{DownloadOutcome, rfc3339_ms};
use crate::state::{Sandbox, lock, now_ms};
use crate::wire;

pub(super) async fn chats(
    State(sb): State<Sandbox>,
    Extension(SellerIdx(seller)): Extension<SellerIdx>,
) -> Response {
    if sb.fault_fires(FaultKind::EmptyChats) {
        return Json(wire::ChatsResponse {
            result: Vec::new(),
            errors: Vec::new(),
        })
        .into_response();
    }
    let world = lock(&sb.inner.world);
    let s = &world.sellers[seller];
    let mut started: Vec<_> = s.chats.iter().filter(|c| c.last_event.is_some()).collect();
    // Most recently active first, as WB's portal lists them.
    started.sort_by_key(|c| std::cmp::Reverse(c.last_event));
    let result = started.into_iter().map(|c| s.chat_wire(c)).collect();
    Json(wire::ChatsResponse {
        result,
        errors: Vec::new(),
    })
    .into_response()
}

pub(super) async fn events(
    State(sb): State<Sandbox>,
    Extension(SellerIdx(seller)): Extension<SellerIdx>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let next = match query.get("next").map(|n| n.trim()) {
        None | Some("") => None,
        Some(n) => match n.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                return bad_request(
                    StatusCode::BAD_REQUEST,
                    "invalid query",
                    "next must be a non-negative integer: Unix time in milliseconds",
                );
            }
        },
    };
    let duplicate = sb.fault_fires(FaultKind::DuplicateEvents);
    let base = base_url(&headers);
    let world = lock(&sb.inner.world);
    let s = &world.sellers[seller];
    let page = s.events_after(next, sb.config().page_size);
    let mut events: Vec<wire::Event> = page.iter().map(|e| s.event_wire(e, &base)).collect();
    if duplicate && !events.is_empty() {
        // WB repeats events: the one before this page again, and one of this page twice.
        let first_ts = page[0].ts;
        if let Some(prev) = s.events.iter().rev().find(|e| e.ts < first_ts) {
            events.insert(0, s.event_wire(prev, &base));
        }
        let i = rand::rng().random_range(0..events.len());
        let copy = events[i].clone();
        events.insert(i, copy);
    }
    let next_out = page.last().map_or(next.unwrap_or(0), |e| e.ts);
    let result = wire::EventsResult {
        next: next_out,
        newest_event_time: page.last().map(|e| rfc3339_ms(e.ts)),
        oldest_event_time: page.first().map(|e| rfc3339_ms(e.ts)),
        total_events: events.len(),
        events,
    };
    Json(wire::EventsResponse {
        result,
        errors: Vec::new(),
    })
    .into_response()
}

fn send_rejected(detail: &str) -> Response {
    bad_request(StatusCode::BAD_REQUEST, "Bad Request", detail)
}

pub(super) async fn send_message(
    State(sb): State<Sandbox>,
    Extension(SellerIdx(seller)): Extension<SellerIdx>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(e) => {
            return send_rejected(&format!(
                "the body must be multipart/form-data with replySign, message and file fields: {e}"
            ));
        }
    };
    let mut reply_sign: Option<String> = None;
    let mut text = String::new();
    let mut files: Vec<(String, Bytes)> = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return send_rejected(&format!("malformed multipart body: {e}")),
        };
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "replySign" => match field.text().await {
                Ok(t) => reply_sign = Some(t),
                Err(e) => return send_rejected(&format!("replySign is unreadable: {e}")),
            },
            "message" => match field.text().await {
                Ok(t) => text = t,
                Err(e) => return send_rejected(&format!("message is unreadable: {e}")),
            },
            "file" => {
                let file_name = field.file_name().unwrap_or("file").to_owned();
                match field.bytes().await {
                    Ok(b) => files.push((file_name, b)),
                    Err(e) => return send_rejected(&format!("file is unreadable: {e}")),
                }
            }
            // WB ignores fields it does not know.
            _ => {}
        }
    }
    let Some(reply_sign) = reply_sign.filter(|s| !s.trim().is_empty()) else {
        return send_rejected("replySign is required");
    };
    if reply_sign.chars().count() > 255 {
        return send_rejected("replySign is longer than 255 characters");
    }
    let mut world = lock(&sb.inner.world);
    let s = &mut world.sellers[seller];
    match s.send(&reply_sign, &text, &files, now_ms()) {
        Ok(idx) => {
            let e = &s.events[idx];
            Json(wire::MessageResponse {
                result: wire::MessageResult {
                    add_time: e.ts,
                    chat_id: s.chats[e.chat].chat_id.clone(),
                    sign: reply_sign,
                },
                errors: Vec::new(),
            })
            .into_response()
        }
        Err(rejection) => send_rejected(&rejection.detail),
    }
}

pub(super) async fn download(
    State(sb): State<Sandbox>,
    Extension(SellerIdx(seller)): Extension<SellerIdx>,
    Path(id): Path<String>,
) -> Response {
    let outcome = lock(&sb.inner.world).sellers[seller].download(&id);
    match outcome {
        DownloadOutcome::Ready(blob) => {
            let mut response = blob.bytes.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(blob.kind.content_type()),
            );
            response
        }
        DownloadOutcome::Pending { retry_seconds } => (
            StatusCode::ACCEPTED,
            Json(wire::DownloadPending {
                moderation_state: "pending",
                retry_seconds,
            }),
        )
            .into_response(),
        DownloadOutcome::Blocked => bad_request(
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            "Unavailable for Legal Reasons",
            "moderation error",
        ),
        DownloadOutcome::NotFound => bad_request(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            "file not found: unknown downloadID",
        ),
    }
}
