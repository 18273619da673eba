//! The HTTP client of WB's buyer-chat API: `GET /api/v1/seller/chats`, `GET …/events`,
//! `POST …/message` (multipart) and `GET …/download/{id}`, with the token sent bare in
//! `Authorization` (no `Bearer`), every attempt drawing from the seller's [`RateBudget`]
//! first, and the idempotent GETs retried on transient errors.
//!
//! Retry policy: GETs take `Priority::Poll` cells and are retried up to
//! `RetryConfig::max_attempts` in total on 429, 5xx, timeouts and network errors, with
//! exponential backoff and jitter (`backon`), except that a 429's own delay replaces the
//! computed one (and pauses the whole budget); there is no sleep after the last attempt. The
//! message `POST` takes a `Priority::Send` cell and is never retried: a timeout or a reset after
//! the request went out comes back as an error whose `is_ambiguous()` is true (the message may
//! exist; look in `/events` before sending again). The client neither stores nor interprets
//! anything; the token never reaches a log line, an error or `Debug` output.

use std::fmt;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use domain::{ChatId, DownloadId, ReplySign};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use reqwest::multipart::{Form, Part};
use url::Url;

use crate::error::WbError;
use crate::limiter::{BudgetRegistry, DEFAULT_POLL_RESERVE, Priority, RateBudget, wb_chat_quota};
use crate::types::{
    Chat, ChatsResponse, DownloadPendingBody, Event, EventsResponse, MessageResponse,
};
use governor::Quota;

/// WB's production host for the chat API (there is no chat sandbox host).
pub const DEFAULT_BASE_URL: &str = "https://buyer-chat-api.wildberries.ru";

/// Longest message text WB accepts, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// A seller's API token. `Debug` never shows it and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token; surrounding whitespace (a pasted newline) is dropped.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into().trim().to_owned())
    }

    /// The token itself, for the `Authorization` header and nothing else.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// How GETs are retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in total, the first included (at least 1).
    pub max_attempts: u32,
    /// First backoff delay (before jitter).
    pub min_delay: Duration,
    /// Largest backoff delay (before jitter).
    pub max_delay: Duration,
    /// A 429 asking for a longer wait than this is returned to the caller instead of slept
    /// through inside the call.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Everything a [`Client`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Default [`DEFAULT_BASE_URL`]; the sandbox's URL in tests and demos.
    pub base_url: String,
    pub token: ApiToken,
    /// Whole-request timeout. Default 30 s.
    pub timeout: Duration,
    /// Connection timeout. Default 10 s.
    pub connect_timeout: Duration,
    pub retry: RetryConfig,
    /// Quota of a budget created by [`Client::from_registry`]. Default: WB's 10 per 10 s.
    pub quota: Quota,
    /// Cells polls leave for sends in a budget created by [`Client::from_registry`].
    pub poll_reserve: u32,
}

impl ClientConfig {
    /// Defaults for WB production with `token`.
    pub fn new(token: ApiToken) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryConfig::default(),
            quota: wb_chat_quota(),
            poll_reserve: DEFAULT_POLL_RESERVE,
        }
    }
}

/// A file to attach to a message (JPEG, PNG or PDF; WB allows ≤ 5 MB each, ≤ 30 MB together).
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Bytes,
}

impl fmt::Debug for OutgoingFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingFile")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The answer of `/chats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChatsPage {
    pub chats: Vec<Chat>,
    /// WB's `errors` list (strings).
    pub errors: Vec<String>,
}

/// One page of `/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventsPage {
    /// The `next` this page was asked with.
    pub requested: Option<i64>,
    /// The `next` to ask the following page with (Unix ms).
    pub next: Option<i64>,
    pub newest_event_time: Option<String>,
    pub oldest_event_time: Option<String>,
    pub total_events: Option<i64>,
    pub events: Vec<Event>,
    pub errors: Vec<String>,
}

impl EventsPage {
    /// WB has nothing more: `totalEvents` is 0 (or absent on an empty page).
    pub fn is_last(&self) -> bool {
        match self.total_events {
            Some(n) => n <= 0,
            None => self.events.is_empty(),
        }
    }
}

/// The answer of a sent message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendResult {
    /// Unix ms.
    pub add_time: Option<i64>,
    pub chat_id: Option<ChatId>,
    pub sign: Option<String>,
    /// File upload errors WB reported (the text may still have been sent).
    pub errors: Vec<String>,
}

/// The answer of a download.
#[derive(Clone, PartialEq)]
pub enum Download {
    /// The file's bytes.
    Ready {
        bytes: Bytes,
        content_type: Option<String>,
    },
    /// Still in moderation (202): ask again after `retry_after`.
    Pending {
        retry_after: Duration,
        moderation_state: String,
    },
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ready {
                bytes,
                content_type,
            } => f
                .debug_struct("Ready")
                .field("len", &bytes.len())
                .field("content_type", content_type)
                .finish(),
            Self::Pending {
                retry_after,
                moderation_state,
            } => f
                .debug_struct("Pending")
                .field("retry_after", retry_after)
                .field("moderation_state", moderation_state)
                .finish(),
        }
    }
}

/// A successful (2xx) answer, before interpretation.
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// A connection pool for WB clients; cheap to clone. Timeouts are set per request, so clients
/// with different timeouts can share one.
#[derive(Debug, Clone)]
pub struct HttpPool(reqwest::Client);

impl HttpPool {
    pub fn new(connect_timeout: Duration) -> Result<Self, WbError> {
        // reqwest is built without a default crypto provider; install ring once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(8)
            .user_agent(concat!("agentiq-wb/", env!("CARGO_PKG_VERSION")))
            .build()
            .map(Self)
            .map_err(|e| WbError::InvalidInput(format!("HTTP client: {e}")))
    }
}

/// A WB client for one token. Cheap to clone; clones share the connection pool and budget.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    timeout: Duration,
    base: Url,
    auth: HeaderValue,
    retry: RetryConfig,
    budget: RateBudget,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("auth", &"<redacted>")
            .field("retry", &self.retry)
            .field("budget", &self.budget)
            .finish()
    }
}

impl Client {
    /// A client drawing from `budget` (share one budget per token: see [`BudgetRegistry`]).
    /// `config.quota`/`poll_reserve` are not used here: the budget has its own.
    pub fn new(config: ClientConfig, budget: RateBudget) -> Result<Self, WbError> {
        let pool = HttpPool::new(config.connect_timeout)?;
        Self::with_pool(config, budget, &pool)
    }

    /// [`Client::new`] on a shared connection pool: a process talking for many sellers keeps
    /// one pool (one TLS configuration, reused connections) instead of one per seller.
    pub fn with_pool(
        config: ClientConfig,
        budget: RateBudget,
        pool: &HttpPool,
    ) -> Result<Self, WbError> {
        let http = pool.0.clone();

        let mut base = Url::parse(config.base_url.trim())
            .map_err(|e| WbError::InvalidInput(format!("base URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(WbError::InvalidInput(
                "base URL must be an http(s) URL".to_owned(),
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        base.set_fragment(None);

        let token = config.token.expose_secret();
        if token.is_empty() {
            return Err(WbError::InvalidInput("the API token is empty".to_owned()));
        }
        let mut auth = HeaderValue::from_str(token).map_err(|_| {
            WbError::InvalidInput("the API token has characters not allowed in a header".into())
        })?;
        auth.set_sensitive(true);

        let mut retry = config.retry;
        retry.max_attempts = retry.max_attempts.max(1);
        Ok(Self {
            http,
            timeout: config.timeout,
            base,
            auth,
            retry,
            budget,
        })
    }

    /// A client drawing from the registry's budget for `config.token` (created with
    /// `config.quota` and `config.poll_reserve` if the token has none yet).
    pub fn from_registry(config: ClientConfig, registry: &BudgetRegistry) -> Result<Self, WbError> {
        let budget = registry.budget_with(&config.token, config.quota, config.poll_reserve);
        Self::new(config, budget)
    }

    /// The budget this client draws from.
    pub fn budget(&self) -> &RateBudget {
        &self.budget
    }

    /// `GET /api/v1/seller/chats`.
    #[tracing::instrument(skip_all)]
    pub async fn chats(&self) -> Result<ChatsPage, WbError> {
        let url = self.url(&["chats"]);
        let raw = self.get(&url, None).await?;
        let resp: ChatsResponse = decode("chats", &raw.body)?;
        Ok(ChatsPage {
            chats: resp.result,
            errors: resp.errors,
        })
    }

    /// `GET /api/v1/seller/events[?next=…]`: one page.
    #[tracing::instrument(skip_all, fields(next = ?next))]
    pub async fn events(&self, next: Option<i64>) -> Result<EventsPage, WbError> {
        let url = self.url(&["events"]);
        let raw = self.get(&url, next.map(|n| ("next", n))).await?;
        let resp: EventsResponse = decode("events", &raw.body)?;
        let result = resp.result.unwrap_or_default();
        Ok(EventsPage {
            requested: next,
            next: result.next,
            newest_event_time: result.newest_event_time,
            oldest_event_time: result.oldest_event_time,
            total_events: result.total_events,
            events: result.events,
            errors: resp.errors,
        })
    }

    /// Pages through `/events` from `next` until WB says there is nothing more.
    pub fn events_all(&self, next: Option<i64>) -> EventsPager {
        EventsPager {
            client: self.clone(),
            cursor: next,
            done: false,
        }
    }

    /// `POST /api/v1/seller/message` (multipart `replySign`, `message`, repeated `file`).
    /// Never retried; see [`WbError::is_ambiguous`]. If WB answers 2xx with a body this crate
    /// cannot read, the message was accepted: the result then has no fields (logged at warn).
    #[tracing::instrument(skip_all, fields(
        text_chars = text.map(|t| t.chars().count()),
        files = files.len(),
    ))]
    pub async fn send_message(
        &self,
        reply_sign: &ReplySign,
        text: Option<&str>,
        files: Vec<OutgoingFile>,
    ) -> Result<SendResult, WbError> {
        let text = text.filter(|t| !t.trim().is_empty());
        if text.is_none() && files.is_empty() {
            return Err(WbError::InvalidInput(
                "a message needs text or at least one file".to_owned(),
            ));
        }
        if let Some(t) = text
            && t.chars().count() > MAX_MESSAGE_CHARS
        {
            return Err(WbError::InvalidInput(format!(
                "a message has at most {MAX_MESSAGE_CHARS} characters"
            )));
        }
        let mut form = Form::new().text("replySign", reply_sign.as_str().to_owned());
        if let Some(t) = text {
            form = form.text("message", t.to_owned());
        }
        for file in files {
            let len = u64::try_from(file.bytes.len()).unwrap_or(u64::MAX);
            let part = Part::stream_with_length(file.bytes, len)
                .file_name(file.name)
                .mime_str(&file.content_type)
                .map_err(|_| {
                    WbError::InvalidInput(format!("bad content type {:?}", file.content_type))
                })?;
            form = form.part("file", part);
        }

        let url = self.url(&["message"]);
        let request = self
            .http
            .post(url)
            .timeout(self.timeout)
            .header(AUTHORIZATION, self.auth.clone())
            .multipart(form);
        let raw = self.attempt(request, Priority::Send).await?;
        match serde_json::from_slice::<MessageResponse>(&raw.body) {
            Ok(resp) => {
                let result = resp.result.unwrap_or_default();
                Ok(SendResult {
                    add_time: result.add_time,
                    chat_id: result.chat_id,
                    sign: result.sign,
                    errors: resp.errors,
                })
            }
            Err(err) => {
                tracing::warn!(status = raw.status.as_u16(), error = %err,
                    "WB accepted the message but its answer could not be decoded");
                Ok(SendResult::default())
            }
        }
    }

    /// `GET /api/v1/seller/download/{id}`. A file blocked by moderation (451) is
    /// `WbError::UnavailableForLegalReasons`.
    #[tracing::instrument(skip_all, fields(download_id = %id))]
    pub async fn download(&self, id: &DownloadId) -> Result<Download, WbError> {
        let url = self.url(&["download", id.as_str()]);
        let raw = self.get(&url, None).await?;
        match raw.status {
            StatusCode::OK => Ok(Download::Ready {
                content_type: raw
                    .headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                bytes: raw.body,
            }),
            StatusCode::ACCEPTED => {
                let body: DownloadPendingBody = decode("download", &raw.body)?;
                let secs = if body.retry_seconds.is_finite() {
                    body.retry_seconds.clamp(0.0, 86_400.0)
                } else {
                    0.0
                };
                Ok(Download::Pending {
                    retry_after: Duration::from_secs_f64(secs),
                    moderation_state: body.moderation_state,
                })
            }
            other => Err(WbError::Unexpected {
                status: other.as_u16(),
            }),
        }
    }

    /// `{base}/api/v1/seller/{segments…}`, each segment percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty()
                .extend(["api", "v1", "seller"])
                .extend(segments);
        }
        url
    }

    /// A GET with retries on transient errors.
    async fn get(&self, url: &Url, query: Option<(&str, i64)>) -> Result<Raw, WbError> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(usize::try_from(self.retry.max_attempts.saturating_sub(1)).unwrap_or(0))
            .with_jitter()
            .build();
        let mut attempt: u32 = 1;
        loop {
            let mut request = self
                .http
                .get(url.clone())
                .timeout(self.timeout)
                .header(AUTHORIZATION, self.auth.clone());
            if let Some(q) = query {
                request = request.query(&[q]);
            }
            let err = match self.attempt(request, Priority::Poll).await {
                Ok(raw) => return Ok(raw),
                Err(err) if err.is_transient() => err,
                Err(err) => return Err(err),
            };
            let Some(backoff_delay) = backoff.next() else {
                return Err(err);
            };
            let delay = match err.retry_after() {
                Some(wait) if wait > self.retry.max_retry_after => return Err(err),
                Some(wait) => wait,
                None => backoff_delay,
            };
            tracing::warn!(attempt, ?delay, error = %err, "transient WB error; retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One request: take a cell, send, read the body, map the status.
    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
        priority: Priority,
    ) -> Result<Raw, WbError> {
        self.budget.acquire(priority).await;
        let response = request.send().await.map_err(WbError::from_reqwest)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(WbError::from_reqwest)?;
        if status.is_success() {
            return Ok(Raw {
                status,
                headers,
                body,
            });
        }
        let err = WbError::from_response(status, &headers, &body);
        if let Some(wait) = err.retry_after() {
            self.budget.hold_off(wait);
        }
        tracing::debug!(status = status.as_u16(), error = %err, "WB answered with an error");
        Err(err)
    }
}

fn decode<T: serde::de::DeserializeOwned>(what: &'static str, body: &[u8]) -> Result<T, WbError> {
    serde_json::from_slice(body).map_err(|source| WbError::Decode { what, source })
}

/// Pages through `/events` (from [`Client::events_all`]). Each call to
/// [`next_page`](Self::next_page) fetches one page; the cursor advances only on success, so
/// after an error calling again asks for the same page. The last page (`totalEvents == 0`) is
/// returned too (it carries the final `next`), then `None`. If WB's `next` ever fails to move
/// forward the pager stops rather than loop.
#[derive(Debug)]
pub struct EventsPager {
    client: Client,
    cursor: Option<i64>,
    done: bool,
}

impl EventsPager {
    /// The `next` the following page will be asked with.
    pub fn cursor(&self) -> Option<i64> {
        self.cursor
    }

    /// Whether the pager has returned its last page.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The following page, or `None` when done.
    pub async fn next_page(&mut self) -> Option<Result<EventsPage, WbError>> {
        if self.done {
            return None;
        }
        let page = match self.client.events(self.cursor).await {
            Ok(page) => page,
            Err(err) => return Some(Err(err)),
        };
        match page.next {
            Some(n) if self.cursor.is_none_or(|c| n > c) => self.cursor = Some(n),
            _ if page.is_last() => {}
            _ => {
                tracing::warn!(requested = ?self.cursor, next = ?page.next,
                    "WB's events cursor did not advance; stopping");
                self.done = true;
            }
        }
        if page.is_last() {
            self.done = true;
        }
        Some(Ok(page))
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
