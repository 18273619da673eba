//! The sandbox's HTTP surface: WB's routes behind a gate, and the control routes.
//!
//! The gate does for WB's routes what WB's API gateway does, in WB's order: authenticate the
//! token (401), apply the seller's rate limit (429, `X-Ratelimit-*` headers), then the injected
//! faults; it also counts every request for `/_sandbox/stats`.

mod control;
mod errors;
mod wb;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::faults::FaultKind;
use crate::server::ConnCtl;
use crate::state::{RateVerdict, Sandbox};

pub(crate) use errors::{bad_request, gateway_error};

/// Which seller a gated request belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SellerIdx(pub usize);

/// Bodies larger than this are refused by the "gateway" before WB's own file checks; it leaves
/// room for WB's 30 MB of files so those get WB's 400 with a reason.
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The complete router of a sandbox.
pub fn router(sandbox: Sandbox) -> Router {
    let wb_routes = Router::new()
        .route("/api/v1/seller/chats", get(wb::chats))
        .route("/api/v1/seller/events", get(wb::events))
        .route(
            "/api/v1/seller/message",
            post(wb::send_message).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/api/v1/seller/download/{id}", get(wb::download))
        .route_layer(middleware::from_fn_with_state(sandbox.clone(), gate));
    Router::new()
        .merge(wb_routes)
        .nest("/_sandbox", control::router(sandbox.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sandbox)
}

async fn not_found() -> Response {
    gateway_error(StatusCode::NOT_FOUND, "not found", "no such route")
}

async fn method_not_allowed() -> Response {
    gateway_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed",
        "this route does not accept this method",
    )
}

/// The token from `Authorization`, bare or `Bearer`-prefixed.
pub(crate) fn token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value)
        .trim();
    (!token.is_empty()).then_some(token)
}

fn unauthorized() -> Response {
    gateway_error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "token is missing, malformed or unknown: send the API token of the seller in Authorization",
    )
}

async fn gate(State(sb): State<Sandbox>, mut req: Request, next: Next) -> Response {
    let route = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<MatchedPath>()
            .map_or("?", |p| p.as_str())
    );
    let Some(seller) = token(req.headers()).and_then(|t| sb.seller_of(t)) else {
        sb.record(&route, "401");
        return unauthorized();
    };
    let remaining = match sb.check_rate(seller) {
        RateVerdict::Allowed { remaining } => Some(remaining),
        RateVerdict::Unlimited => None,
        RateVerdict::Limited {
            retry,
            reset,
            limit,
        } => {
            sb.record(&route, "429");
            return too_many_requests(retry, reset, limit);
        }
    };
    if sb.fault_fires(FaultKind::TooManyRequests) {
        sb.record(&route, "429");
        let limit = sb.config().rate_limit.map_or(10, |l| l.burst);
        return too_many_requests(Duration::from_secs(1), Duration::from_secs(1), limit);
    }
    if sb.fault_fires(FaultKind::ServerError) {
        let status = {
            let statuses = [
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::BAD_GATEWAY,
                StatusCode::SERVICE_UNAVAILABLE,
            ];
            statuses[usize::from(rand::random::<u8>()) % statuses.len()]
        };
        sb.record(&route, status.as_str());
        return gateway_error(status, "internal error", "injected fault: server error");
    }
    if sb.fault_fires(FaultKind::Timeout) {
        sb.record(&route, "timeout");
        tokio::time::sleep(sb.config().timeout_hold).await;
        return gateway_error(
            StatusCode::GATEWAY_TIMEOUT,
            "gateway timeout",
            "injected fault: upstream did not answer",
        );
    }
    let drop_after = sb.fault_fires(FaultKind::DropAfterCommit);
    let conn = req.extensions().get::<ConnCtl>().cloned();
    req.extensions_mut().insert(SellerIdx(seller));
    let mut response = next.run(req).await;
    if drop_after && let Some(conn) = conn {
        sb.record(&route, "reset");
        conn.reset();
        // The connection is being torn down; never answer.
        std::future::pending::<()>().await;
    }
    sb.record(&route, response.status().as_str());
    if let Some(remaining) = remaining
        && let Ok(v) = HeaderValue::from_str(&remaining.to_string())
    {
        response.headers_mut().insert("x-ratelimit-remaining", v);
    }
    response
}

fn secs_ceil(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn too_many_requests(retry: Duration, reset: Duration, limit: u32) -> Response {
    let mut response = gateway_error(
        StatusCode::TOO_MANY_REQUESTS,
        "too many requests",
        "limited by the seller's request limit: retry after the number of seconds in X-Ratelimit-Retry",
    );
    let retry = secs_ceil(retry).max(1);
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-retry", retry),
        ("x-ratelimit-limit", u64::from(limit)),
        ("x-ratelimit-reset", secs_ceil(reset).max(retry)),
        ("retry-after", retry),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(name, v);
        }
    }
    response
}

/// The scheme and host a client used to reach us, for absolute URLs in bodies.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}
