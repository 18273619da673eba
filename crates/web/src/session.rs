//! Browser sessions: logging in and out, the session cookie, CSRF, login throttling.
//!
//! `POST /api/v1/session` `{"email","password"}` checks the password and answers
//! `{"csrfToken","email","expiresAt"}` with the cookie `aiq_session` (32 random bytes,
//! base64url; only their SHA-256 is stored), `HttpOnly; SameSite=Lax; Path=/`, valid for
//! [`SESSION_TTL`], and `Secure` when the request came over https (directly or, behind a
//! reverse proxy, as its `X-Forwarded-Proto: https` / `Forwarded: proto=https` says).
//! `DELETE /api/v1/session` logs out (the session row is deleted, the cookie cleared).
//!
//! CSRF: every session has its own random token, returned at login and embedded in each page
//! as `<meta name="csrf-token">`. A request authenticated by the cookie whose method is not
//! GET/HEAD/OPTIONS must repeat it in `X-CSRF-Token`, or it is refused with 403. Requests
//! authenticated with `Authorization: Bearer <API key>` are exempt: a browser never adds that
//! header by itself. `SameSite=Lax` is a second line of defence.
//!
//! Throttling: after [`MAX_LOGIN_FAILURES`] failed logins for one e-mail from one IP address
//! within [`LOGIN_WINDOW`], further attempts for that pair answer 429 (with `Retry-After`) until
//! the oldest failure leaves the window. The counters live in this process's memory: they reset
//! on restart and are not shared between several instances behind a load balancer (each
//! instance throttles on its own), which is acceptable against online guessing with argon2.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::sessions::Session;

use crate::AppState;
use crate::auth::{Operator, verify_password};
use crate::error::WebError;
use crate::extract::AppJson;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "aiq_session";
/// The header that carries the CSRF token on cookie-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lives (fixed from login; not extended by use).
pub const SESSION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Failed logins per (e-mail, IP) within [`LOGIN_WINDOW`] before 429.
pub const MAX_LOGIN_FAILURES: usize = 5;
/// The throttling window.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

const TOKEN_BYTES: usize = 32;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/session", post(login).delete(logout))
}

/// Failed login attempts per (e-mail, IP), in memory.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(MAX_LOGIN_FAILURES, LOGIN_WINDOW)
    }
}

impl LoginThrottle {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Some(seconds to wait)` when `key` is throttled now.
    fn blocked_for(&self, key: &str, now: Instant) -> Option<u64> {
        let mut map = self.lock();
        let entry = map.get_mut(key)?;
        while entry
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            entry.pop_front();
        }
        if entry.is_empty() {
            map.remove(key);
            return None;
        }
        (entry.len() >= self.max_failures).then(|| {
            let oldest = entry.front().copied().unwrap_or(now);
            self.window
                .saturating_sub(now.duration_since(oldest))
                .as_secs()
                .max(1)
        })
    }

    fn record_failure(&self, key: &str, now: Instant) {
        let mut map = self.lock();
        // Forget stale keys now and then so the map cannot grow without bound.
        if map.len() > 10_000 {
            let window = self.window;
            map.retain(|_, v| v.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        map.entry(key.to_owned()).or_default().push_back(now);
    }

    fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginBody {
    email: String,
    password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginJson {
    csrf_token: String,
    email: String,
    /// Unix ms.
    expires_at: i64,
}

/// A new random token: base64url (no padding) of 32 random bytes.
fn random_token() -> String {
    let bytes: [u8; TOKEN_BYTES] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The value of the `aiq_session` cookie, if the request has one of the right shape.
pub fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| {
            URL_SAFE_NO_PAD
                .decode(v)
                .is_ok_and(|b| b.len() == TOKEN_BYTES)
        })
}

/// Whether the request reached us over https (directly, or as a reverse proxy says).
pub fn is_https(parts_headers: &HeaderMap, uri: &axum::http::Uri) -> bool {
    if uri.scheme_str() == Some("https") {
        return true;
    }
    let forwarded_proto = parts_headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let forwarded = parts_headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|first| {
            first.split(';').any(|kv| {
                kv.trim().split_once('=').is_some_and(|(k, v)| {
                    k.eq_ignore_ascii_case("proto")
                        && v.trim_matches('"').eq_ignore_ascii_case("https")
                })
            })
        });
    forwarded_proto || forwarded
}

fn session_cookie(value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("aiq_session=; Max-Age=0"))
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The live session of a request's cookie, if any (no CSRF check: for pages and reads).
pub async fn session_of(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<Session>, WebError> {
    match cookie_token(headers) {
        Some(token) => Ok(state.store().find_session(&hash_token(token)).await?),
        None => Ok(None),
    }
}

/// Whether a method changes something (and so needs the CSRF token with a cookie).
fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn check_csrf(headers: &HeaderMap, session: &Session) -> Result<(), WebError> {
    let sent = headers
        .get(CSRF_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if constant_time_eq(sent, session.csrf_token.as_bytes()) {
        Ok(())
    } else {
        Err(WebError::Forbidden {
            code: "csrf",
            message: "Запрос отклонён: нет или неверен CSRF-токен (заголовок X-CSRF-Token). \
                      Обновите страницу и повторите."
                .to_owned(),
        })
    }
}

/// The [`Operator`] of a cookie-authenticated request: the session must be live, and a write
/// must carry the session's CSRF token.
pub(crate) async fn operator_from_cookie(
    parts: &Parts,
    state: &AppState,
    token: &str,
) -> Result<Operator, WebError> {
    let session = state
        .store()
        .find_session(&hash_token(token))
        .await?
        .ok_or(WebError::InvalidSession)?;
    if is_write(&parts.method) {
        check_csrf(&parts.headers, &session)?;
    }
    Ok(Operator {
        workspace_id: session.workspace_id,
        user_id: session.user_id,
    })
}

/// A PHC string of a password nobody has, so an unknown e-mail costs as much as a known one.
async fn dummy_hash() -> &'static str {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            crate::auth::hash_password(&random_token())
                .await
                .unwrap_or_default()
        })
        .await
}

/// `POST /api/v1/session`.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "session",
    security(()),
    request_body = LoginBody,
    responses(
        (status = 200, description = "Logged in: the HttpOnly cookie `aiq_session` is set; send `csrfToken` as `X-CSRF-Token` on cookie-authenticated writes", body = LoginJson),
        (status = 401, description = "Wrong e-mail or password", body = crate::openapi::ErrorJson),
        (status = 429, description = "Too many failed attempts for this e-mail from this address", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    req: Request,
) -> Result<Response, WebError> {
    let secure = is_https(req.headers(), req.uri());
    let ip: Option<IpAddr> = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let AppJson(body) = AppJson::<LoginBody>::from_request(req, &state).await?;
    let email = body.email.trim().to_lowercase();
    let key = format!(
        "{email}|{}",
        ip.map_or_else(|| "?".to_owned(), |i| i.to_string())
    );
    let throttle = state.login_throttle();
    if let Some(retry_after_secs) = throttle.blocked_for(&key, Instant::now()) {
        tracing::warn!(%email, ip = ?ip, "login throttled");
        return Err(WebError::TooManyRequests { retry_after_secs });
    }
    let user = state.store().find_user_by_email(&email).await?;
    let ok = match &user {
        Some(u) => verify_password(&body.password, &u.password_hash).await,
        None => {
            let _ = verify_password(&body.password, dummy_hash().await).await;
            false
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        throttle.record_failure(&key, Instant::now());
        return Err(WebError::WrongPassword);
    };
    throttle.clear(&key);
    let token = random_token();
    let csrf = random_token();
    let ttl_ms = i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX);
    let expires_at = now_ms().saturating_add(ttl_ms);
    state
        .store()
        .create_session(
            user.workspace_id,
            user.id,
            &hash_token(&token),
            &csrf,
            expires_at,
        )
        .await?;
    tracing::info!(user = %user.id, workspace = %user.workspace_id, "operator logged in");
    let mut response = Json(LoginJson {
        csrf_token: csrf,
        email: user.email,
        expires_at,
    })
    .into_response();
    let h = response.headers_mut();
    h.insert(
        header::SET_COOKIE,
        session_cookie(&token, SESSION_TTL.as_secs(), secure),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `DELETE /api/v1/session` → 204, the session deleted and the cookie cleared. Without a live
/// session it still clears the cookie; with one, the CSRF token is required.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "session",
    security(()),
    responses(
        (status = 204, description = "Logged out; the cookie is cleared"),
        (status = 403, description = "The session's CSRF token is missing or wrong", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn logout(
    State(state): State<AppState>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    if let Some(token) = cookie_token(&headers) {
        let hash = hash_token(token);
        if let Some(session) = state.store().find_session(&hash).await? {
            if is_write(&method) {
                check_csrf(&headers, &session)?;
            }
            state.store().delete_session(&hash).await?;
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, is_https(&headers, &uri)),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_counts_failures_per_key_within_the_window() {
        let t = LoginThrottle::new(3, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.blocked_for("a|1", start), None);
            t.record_failure("a|1", start);
        }
        assert!(t.blocked_for("a|1", start).is_some());
        assert_eq!(t.blocked_for("a|2", start), None);
        let later = start + Duration::from_secs(61);
        assert_eq!(t.blocked_for("a|1", later), None);
        t.record_failure("b|1", start);
        t.clear("b|1");
        assert_eq!(t.lock().get("b|1"), None);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let token = random_token();
        let mut h = HeaderMap::new();
        let v = format!("a=1; {SESSION_COOKIE}={token}; b=2");
        h.insert(header::COOKIE, HeaderValue::from_str(&v).expect("header"));
        assert_eq!(cookie_token(&h), Some(token.as_str()));
        let mut bad = HeaderMap::new();
        bad.insert(
            header::COOKIE,
            HeaderValue::from_static("aiq_session=short"),
        );
        assert_eq!(cookie_token(&bad), None);
    }

    #[test]
    fn https_detection() {
        let uri: axum::http::Uri = "/api/v1/session".parse().expect("uri");
        let mut h = HeaderMap::new();
        assert!(!is_https(&h, &uri));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(is_https(&h, &uri));
        let mut f = HeaderMap::new();
        f.insert(
            header::FORWARDED,
            HeaderValue::from_static("for=1.2.3.4;proto=https"),
        );
        assert!(is_https(&f, &uri));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
