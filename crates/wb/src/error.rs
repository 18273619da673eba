//! Typed errors of WB calls: one variant per answer WB documents (400, 401, 402, 403, 429,
//! 451), plus server errors, unexpected statuses, timeouts, network failures, undecodable
//! bodies and input rejected before any request was made.
//!
//! Classifiers tell callers what to do: [`WbError::is_transient`] (worth retrying later),
//! [`WbError::is_auth`] (the token is bad or lacks access: stop and tell a human) and
//! [`WbError::is_ambiguous`] (the request may have reached WB: for a send, the message may
//! exist — check `/events` before sending again). No variant ever holds the API token.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use http::StatusCode;

pub use crate::types::{AuthErrorBody, PaymentErrorBody, WbErrorBody};

/// The default wait after a 429 that carries no usable retry header.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// What went wrong with a WB call.
#[derive(Debug, thiserror::Error)]
pub enum WbError {
    /// 400: WB rejected the request (bad parameters, moderation of a message, unknown id).
    #[error("WB rejected the request (400): {}", describe(.0.title.as_deref(), .0.detail.as_deref().or(.0.error.as_deref())))]
    BadRequest(Box<WbErrorBody>),
    /// 401: the token is missing, malformed, expired or revoked.
    #[error("WB refused the token (401): {}", describe(.0.title.as_deref(), .0.detail.as_deref()))]
    Unauthorized(Box<AuthErrorBody>),
    /// 402: the method is only for services in WB's business-solutions catalogue.
    #[error("WB requires payment or a service token (402): {}", describe(.0.title.as_deref(), .0.detail.as_deref()))]
    PaymentRequired(Box<PaymentErrorBody>),
    /// 403: the token lacks the "Buyer chat" category or access to this seller.
    #[error("WB forbade the request (403): {}", describe(.0.title.as_deref(), .0.detail.as_deref()))]
    Forbidden(Box<AuthErrorBody>),
    /// 429: over WB's rate limit; wait `retry_after` before the next request of this token.
    #[error("WB rate limit hit (429), retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// 451: the file was blocked by WB's moderation.
    #[error("WB blocked the file (451): {}", describe(.0.title.as_deref(), .0.detail.as_deref()))]
    UnavailableForLegalReasons(Box<WbErrorBody>),
    /// 5xx.
    #[error("WB server error ({status})")]
    Server { status: u16 },
    /// Any other status this crate does not expect for the call.
    #[error("unexpected WB status {status}")]
    Unexpected { status: u16 },
    /// No answer in time. `maybe_sent` is false only when the connection was never made.
    #[error("WB request timed out")]
    Timeout {
        maybe_sent: bool,
        #[source]
        source: reqwest::Error,
    },
    /// The connection failed or was reset. `maybe_sent` is false only when the connection was
    /// never made.
    #[error("network error talking to WB")]
    Network {
        maybe_sent: bool,
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx answer whose body is not what the contract says.
    #[error("could not decode WB's answer to {what}")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// Rejected locally before any request: bad configuration or input WB would refuse.
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

fn describe(title: Option<&str>, detail: Option<&str>) -> String {
    match (title, detail) {
        (Some(t), Some(d)) => format!("{t}: {d}"),
        (Some(s), None) | (None, Some(s)) => s.to_owned(),
        (None, None) => "no details".to_owned(),
    }
}

impl WbError {
    /// Worth retrying later: 429, 5xx, network errors and timeouts.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Network { .. }
                | Self::Timeout { .. }
        )
    }

    /// The token is refused (401) or lacks access (403).
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Unauthorized(_) | Self::Forbidden(_))
    }

    /// The request may have reached WB and taken effect although we got no answer: a timeout
    /// or a connection failure after the connection was made. For `send_message` this means
    /// the message may have been sent; never retry such a send blindly.
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            Self::Timeout {
                maybe_sent: true,
                ..
            } | Self::Network {
                maybe_sent: true,
                ..
            }
        )
    }

    /// The HTTP status WB answered with, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::BadRequest(_) => Some(400),
            Self::Unauthorized(_) => Some(401),
            Self::PaymentRequired(_) => Some(402),
            Self::Forbidden(_) => Some(403),
            Self::RateLimited { .. } => Some(429),
            Self::UnavailableForLegalReasons(_) => Some(451),
            Self::Server { status } | Self::Unexpected { status } => Some(*status),
            Self::Timeout { .. }
            | Self::Network { .. }
            | Self::Decode { .. }
            | Self::InvalidInput(_) => None,
        }
    }

    /// For a 429: how long to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// Maps a transport error. The URL reqwest keeps holds no secret (the token travels in a
    /// header), so keeping the source is safe.
    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        let err = err.without_url();
        let maybe_sent = !err.is_connect();
        if err.is_timeout() {
            Self::Timeout {
                maybe_sent,
                source: err,
            }
        } else if err.is_builder() {
            Self::InvalidInput(err.to_string())
        } else {
            Self::Network {
                maybe_sent,
                source: err,
            }
        }
    }

    /// Maps a non-success answer (status, headers, body) to an error.
    pub(crate) fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        match status.as_u16() {
            400 => Self::BadRequest(lenient_body(body)),
            401 => Self::Unauthorized(lenient_body(body)),
            402 => Self::PaymentRequired(lenient_body(body)),
            403 => Self::Forbidden(lenient_body(body)),
            429 => Self::RateLimited {
                retry_after: retry_after_from(headers, SystemTime::now()),
            },
            451 => Self::UnavailableForLegalReasons(lenient_body(body)),
            s @ 500..=599 => Self::Server { status: s },
            s => Self::Unexpected { status: s },
        }
    }
}

/// Decodes an error body if it has the expected shape; anything else (HTML from a proxy, an
/// empty body) gives an all-`None` body rather than hiding the status.
fn lenient_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Box<T> {
    Box::new(serde_json::from_slice(body).unwrap_or_default())
}

/// The wait a 429 asks for: `X-Ratelimit-Retry` (seconds), else `Retry-After` (seconds or an
/// HTTP date), else [`DEFAULT_RETRY_AFTER`].
pub(crate) fn retry_after_from(headers: &HeaderMap, now: SystemTime) -> Duration {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(d) = header("x-ratelimit-retry").and_then(parse_seconds) {
        return d;
    }
    if let Some(value) = header("retry-after") {
        if let Some(d) = parse_seconds(value) {
            return d;
        }
        if let Ok(when) = httpdate::parse_http_date(value) {
            return when.duration_since(now).unwrap_or(Duration::ZERO);
        }
    }
    DEFAULT_RETRY_AFTER
}

fn parse_seconds(value: &str) -> Option<Duration> {
    let secs: f64 = value.parse().ok()?;
    if secs.is_finite() && secs >= 0.0 {
        // Bounded so a hostile value cannot overflow `Duration`.
        Some(Duration::from_secs_f64(secs.min(86_400.0)))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    //! Status mapping, classifiers and retry-header parsing.

    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("valid header value"));
        }
        h
    }

    #[test]
    fn retry_after_prefers_wb_header() {
        let now = SystemTime::now();
        let h = headers(&[("x-ratelimit-retry", "7"), ("retry-after", "3")]);
        assert_eq!(retry_after_from(&h, now), Duration::from_secs(7));
        let h = headers(&[("retry-after", "3")]);
        assert_eq!(retry_after_from(&h, now), Duration::from_secs(3));
        let h = headers(&[("x-ratelimit-retry", "soon")]);
        assert_eq!(retry_after_from(&h, now), DEFAULT_RETRY_AFTER);
        assert_eq!(
            retry_after_from(&HeaderMap::new(), now),
            DEFAULT_RETRY_AFTER
        );
    }

    #[test]
    fn retry_after_accepts_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("date");
        let h = headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:47 GMT")]);
        assert_eq!(retry_after_from(&h, now), Duration::from_secs(10));
        let h = headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:00 GMT")]);
        assert_eq!(retry_after_from(&h, now), Duration::ZERO);
    }

    #[test]
    fn maps_statuses_and_classifies() {
        let h = HeaderMap::new();
        let e = WbError::from_response(
            StatusCode::BAD_REQUEST,
            &h,
            br#"{"title":"bad","detail":"links are forbidden","requestId":"r1","error":"x"}"#,
        );
        match &e {
            WbError::BadRequest(b) => {
                assert_eq!(b.detail.as_deref(), Some("links are forbidden"));
                assert_eq!(b.request_id.as_deref(), Some("r1"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!e.is_transient() && !e.is_auth());
        assert!(e.to_string().contains("links are forbidden"));

        let e = WbError::from_response(StatusCode::UNAUTHORIZED, &h, b"<html>");
        assert!(matches!(e, WbError::Unauthorized(_)) && e.is_auth());
        let e = WbError::from_response(StatusCode::FORBIDDEN, &h, b"");
        assert!(e.is_auth());
        let e = WbError::from_response(StatusCode::PAYMENT_REQUIRED, &h, b"{}");
        assert!(matches!(e, WbError::PaymentRequired(_)) && !e.is_transient());
        let e = WbError::from_response(StatusCode::TOO_MANY_REQUESTS, &h, b"");
        assert!(e.is_transient() && e.retry_after() == Some(DEFAULT_RETRY_AFTER));
        let e = WbError::from_response(StatusCode::BAD_GATEWAY, &h, b"");
        assert!(matches!(e, WbError::Server { status: 502 }) && e.is_transient());
        let e = WbError::from_response(StatusCode::NOT_FOUND, &h, b"");
        assert!(matches!(e, WbError::Unexpected { status: 404 }) && !e.is_transient());
        assert_eq!(e.status(), Some(404));
    }
}
