//! The operator's HTML UI, in Russian: server-rendered askama pages plus one small hand-written
//! script (`static/app.js`) and one stylesheet (`static/app.css`), both compiled into the
//! binary. No build step, no third-party JS or CSS.
//!
//! Pages: `/` (to `/inbox` or `/login`), `/login`, `/inbox`, `/chats/{id}`, `/accounts`,
//! `/analytics` (figures and SVG charts drawn on the server, no script needed),
//! `/notifications` (escalations, newest first) and `/settings` (SLA and webhook). Each
//! page needs the session cookie (else a redirect to `/login`) and embeds the session's CSRF
//! token as `<meta name="csrf-token">`; the script sends it in `X-CSRF-Token` with every write
//! to the JSON API. Live updates: the script listens to `/api/v1/stream` and re-fetches the
//! parts of the page that change — `/inbox/rows`, `/chats/{id}/feed`, `/accounts/rows`,
//! `/notifications/rows` are
//! HTML fragments rendered by the same templates as the pages (so escaping and formatting live
//! in one place, and they can show what the JSON API does not carry, such as how long a buyer
//! has been waiting). Everything else goes through the JSON API (`/api/v1/…`).

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use domain::{AccountId, ChatRowId, Sender};
use serde::Deserialize;
use store::sessions::Session;
use store::{Account, Chat, ChatFilter, Message, OutboxEntry};

use crate::AppState;
use crate::error::WebError;
use crate::extract::AppPath;
use crate::session::session_of;

mod analytics;
mod charts;
mod notifications;
mod settings;
mod view;

use view::{AccountRow, ChatRow, FeedItem};

/// How many chats the inbox shows (the newest by activity; paging comes with triage).
pub const INBOX_LIMIT: u32 = 60;
/// Longest reply, in Unicode scalar values (the guardrails say the same).
pub const MAX_REPLY_CHARS: usize = 1000;

const APP_JS: &str = include_str!("../../static/app.js");
const APP_CSS: &str = include_str!("../../static/app.css");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/login", get(login_page))
        .route("/inbox", get(inbox_page))
        .route("/inbox/rows", get(inbox_rows))
        .route("/chats/{id}", get(chat_page))
        .route("/chats/{id}/feed", get(chat_feed))
        .route("/accounts", get(accounts_page))
        .route("/accounts/rows", get(accounts_rows))
        .route("/analytics", get(analytics::page))
        .route("/notifications", get(notifications::page))
        .route("/notifications/rows", get(notifications::fragment))
        .route("/settings", get(settings::page))
        .route("/static/app.js", get(app_js))
        .route("/static/app.css", get(app_css))
}

// ------------------------------------------------------------------------------ responses

/// An HTML answer with the headers every page gets: a strict CSP (only our own script and
/// stylesheet), no framing, no caching of operator data.
fn html(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn render(t: &impl Template) -> Result<Response, WebError> {
    t.render()
        .map(html)
        .map_err(|e| WebError::Internal(format!("rendering a page: {e}")))
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn app_js() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

async fn app_css() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}

/// The session of a page request, or the redirect to the login page (back here afterwards).
async fn page_session(
    headers: &HeaderMap,
    uri: &Uri,
    state: &AppState,
) -> Result<Result<Session, Response>, WebError> {
    Ok(match session_of(headers, state).await? {
        Some(s) => Ok(s),
        None => {
            let next = uri
                .path_and_query()
                .map_or("/inbox", |p| p.as_str())
                .to_owned();
            let target = format!("/login?next={}", encode_component(&next));
            Err(Redirect::to(&target).into_response())
        }
    })
}

/// The session of a fragment request (401 without one: the script then goes to `/login`).
async fn fragment_session(headers: &HeaderMap, state: &AppState) -> Result<Session, WebError> {
    session_of(headers, state)
        .await?
        .ok_or(WebError::InvalidSession)
}

fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ------------------------------------------------------------------------------ pages

/// What every page's header needs.
#[derive(Debug)]
pub struct Chrome {
    pub csrf: String,
    pub email: String,
    /// `inbox | chat | accounts | analytics | notifications | settings | login` (the script
    /// picks its behaviour by it).
    pub page: &'static str,
    /// The header's badge: the workspace's unread escalation notifications.
    pub unread_notifications: i64,
}

impl Chrome {
    /// The header of a signed-in page: one cheap count query for the notifications badge.
    async fn of(state: &AppState, s: &Session, page: &'static str) -> Result<Self, WebError> {
        let unread_notifications = state
            .store()
            .unread_notification_count(s.workspace_id)
            .await?;
        Ok(Self {
            csrf: s.csrf_token.clone(),
            email: s.email.clone(),
            page,
            unread_notifications,
        })
    }
}

async fn root(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, WebError> {
    Ok(match session_of(&headers, &state).await? {
        Some(_) => Redirect::to("/inbox").into_response(),
        None => Redirect::to("/login").into_response(),
    })
}

#[derive(Debug, Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Only local paths are followed after login (no open redirects).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/inbox".to_owned(),
    }
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, WebError> {
    let next = safe_next(q.next.as_deref());
    if session_of(&headers, &state).await?.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    render(&LoginPage {
        chrome: Chrome {
            csrf: String::new(),
            email: String::new(),
            page: "login",
            unread_notifications: 0,
        },
        next,
    })
}

/// `/inbox` query: `filter=all|unread`, `account=<id>`, `q=<search>`.
#[derive(Debug, Default, Deserialize)]
struct InboxQuery {
    filter: Option<String>,
    account: Option<String>,
    q: Option<String>,
}

/// One filter link of the inbox.
#[derive(Debug)]
struct FilterLink {
    label: String,
    href: String,
    active: bool,
}

#[derive(Debug, Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    filters: Vec<FilterLink>,
    accounts: Vec<FilterLink>,
    q: String,
    filter: String,
    account: String,
    rows: Vec<ChatRow>,
    total_unread: i64,
}

#[derive(Debug, Template)]
#[template(path = "inbox_rows.html")]
struct InboxRows {
    rows: Vec<ChatRow>,
}

struct InboxData {
    rows: Vec<ChatRow>,
    accounts: Vec<Account>,
    /// `all | unread | urgent`.
    filter: &'static str,
    account: Option<AccountId>,
    q: String,
}

async fn inbox_data(state: &AppState, s: &Session, q: &InboxQuery) -> Result<InboxData, WebError> {
    let accounts = state.store().list_accounts(s.workspace_id).await?;
    let account = q
        .account
        .as_deref()
        .and_then(|a| a.trim().parse::<i64>().ok())
        .and_then(|a| accounts.iter().find(|x| x.id.get() == a))
        .map(|a| a.id);
    let filter = match q.filter.as_deref() {
        Some("unread") => "unread",
        Some("urgent") => "urgent",
        _ => "all",
    };
    let search = q.q.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let chats = state
        .store()
        .list_chats(
            s.workspace_id,
            &ChatFilter {
                account,
                unread_only: filter == "unread",
                urgent_only: filter == "urgent",
                search: (!search.is_empty()).then(|| search.clone()),
                limit: INBOX_LIMIT,
                ..ChatFilter::default()
            },
        )
        .await?;
    let names: HashMap<AccountId, &str> =
        accounts.iter().map(|a| (a.id, a.name.as_str())).collect();
    let now = state.clock().now_ms();
    let lead = crate::api::triage::workspace_lead(state, s.workspace_id).await?;
    // The store lists by time left to answer (the SLA deadline, or a snooze's end).
    let rows = chats
        .into_iter()
        .map(|c| {
            let name = names.get(&c.account_id).copied().unwrap_or("?");
            ChatRow::new(c, name, accounts.len() > 1, now, lead)
        })
        .collect();
    Ok(InboxData {
        rows,
        accounts,
        filter,
        account,
        q: search,
    })
}

fn inbox_href(filter: &str, account: Option<AccountId>, q: &str) -> String {
    let mut parts = Vec::new();
    if filter != "all" {
        parts.push(format!("filter={filter}"));
    }
    if let Some(a) = account {
        parts.push(format!("account={a}"));
    }
    if !q.is_empty() {
        parts.push(format!("q={}", encode_component(q)));
    }
    if parts.is_empty() {
        "/inbox".to_owned()
    } else {
        format!("/inbox?{}", parts.join("&"))
    }
}

async fn inbox_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<InboxQuery>,
) -> Result<Response, WebError> {
    let s = match page_session(&headers, &uri, &state).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let d = inbox_data(&state, &s, &q).await?;
    let filters = vec![
        FilterLink {
            label: "Все".to_owned(),
            href: inbox_href("all", d.account, &d.q),
            active: d.filter == "all",
        },
        FilterLink {
            label: "Срочные".to_owned(),
            href: inbox_href("urgent", d.account, &d.q),
            active: d.filter == "urgent",
        },
        FilterLink {
            label: "Непрочитанные".to_owned(),
            href: inbox_href("unread", d.account, &d.q),
            active: d.filter == "unread",
        },
    ];
    let mut accounts = vec![FilterLink {
        label: "Все аккаунты".to_owned(),
        href: inbox_href(d.filter, None, &d.q),
        active: d.account.is_none(),
    }];
    accounts.extend(d.accounts.iter().map(|a| FilterLink {
        label: a.name.clone(),
        href: inbox_href(d.filter, Some(a.id), &d.q),
        active: d.account == Some(a.id),
    }));
    let total_unread = d.rows.iter().map(|r| r.unread).sum();
    render(&InboxPage {
        chrome: Chrome::of(&state, &s, "inbox").await?,
        filters,
        accounts,
        filter: d.filter.to_owned(),
        account: d.account.map(|a| a.to_string()).unwrap_or_default(),
        q: d.q,
        rows: d.rows,
        total_unread,
    })
}

async fn inbox_rows(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<InboxQuery>,
) -> Result<Response, WebError> {
    let s = fragment_session(&headers, &state).await?;
    let d = inbox_data(&state, &s, &q).await?;
    render(&InboxRows { rows: d.rows })
}

#[derive(Debug, Template)]
#[template(path = "chat.html")]
struct ChatPage {
    chrome: Chrome,
    chat: ChatRow,
    items: Vec<FeedItem>,
    max_chars: usize,
}

#[derive(Debug, Template)]
#[template(path = "chat_feed.html")]
struct ChatFeed {
    items: Vec<FeedItem>,
}

fn parse_chat_id(raw: &str) -> Result<ChatRowId, WebError> {
    raw.parse().map_err(|_| WebError::NotFound { what: "chat" })
}

async fn feed_items(state: &AppState, s: &Session, chat: &Chat) -> Result<Vec<FeedItem>, WebError> {
    let messages: Vec<Message> = state.store().list_messages(s.workspace_id, chat.id).await?;
    let pending: Vec<OutboxEntry> = state
        .store()
        .pending_replies(s.workspace_id, chat.id)
        .await?;
    if let Some(engine) = state.engine() {
        engine.mark_open(chat.account_id);
    }
    let now = state.clock().now_ms();
    let mut items: Vec<FeedItem> = messages
        .into_iter()
        .map(|m| FeedItem::message(m, now))
        .collect();
    items.extend(pending.into_iter().map(|p| FeedItem::pending(p, now)));
    Ok(items)
}

async fn chat_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    AppPath(id): AppPath<String>,
) -> Result<Response, WebError> {
    let s = match page_session(&headers, &uri, &state).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let id = parse_chat_id(&id)?;
    let chat = state.store().find_chat(s.workspace_id, id).await?;
    let account = state
        .store()
        .get_account(s.workspace_id, chat.account_id)
        .await?;
    let items = feed_items(&state, &s, &chat).await?;
    render(&ChatPage {
        chrome: Chrome::of(&state, &s, "chat").await?,
        chat: ChatRow::new(
            chat,
            &account.name,
            true,
            state.clock().now_ms(),
            crate::api::triage::workspace_lead(&state, s.workspace_id).await?,
        ),
        items,
        max_chars: MAX_REPLY_CHARS,
    })
}

async fn chat_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    AppPath(id): AppPath<String>,
) -> Result<Response, WebError> {
    let s = fragment_session(&headers, &state).await?;
    let id = parse_chat_id(&id)?;
    let chat = state.store().find_chat(s.workspace_id, id).await?;
    let items = feed_items(&state, &s, &chat).await?;
    render(&ChatFeed { items })
}

#[derive(Debug, Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    rows: Vec<AccountRow>,
}

#[derive(Debug, Template)]
#[template(path = "accounts_rows.html")]
struct AccountsRows {
    rows: Vec<AccountRow>,
}

async fn account_rows(state: &AppState, s: &Session) -> Result<Vec<AccountRow>, WebError> {
    let now = state.clock().now_ms();
    Ok(state
        .store()
        .list_accounts(s.workspace_id)
        .await?
        .into_iter()
        .map(|a| AccountRow::new(a, now))
        .collect())
}

async fn accounts_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, WebError> {
    let s = match page_session(&headers, &uri, &state).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let rows = account_rows(&state, &s).await?;
    render(&AccountsPage {
        chrome: Chrome::of(&state, &s, "accounts").await?,
        rows,
    })
}

async fn accounts_rows(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let s = fragment_session(&headers, &state).await?;
    let rows = account_rows(&state, &s).await?;
    render(&AccountsRows { rows })
}

/// Who wrote a message, as the UI's CSS class and label.
fn sender_view(sender: Sender) -> (&'static str, &'static str) {
    match sender {
        Sender::Client => ("buyer", "Покупатель"),
        Sender::Seller => ("seller", "Продавец"),
        Sender::Wb => ("wb", "Wildberries"),
    }
}

#[cfg(test)]
mod tests {
    use super::view::age_label;
    use super::*;

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next(Some("/chats/5")), "/chats/5");
        assert_eq!(safe_next(Some("//evil.example")), "/inbox");
        assert_eq!(safe_next(Some("https://evil.example")), "/inbox");
        assert_eq!(safe_next(Some("/\\evil")), "/inbox");
        assert_eq!(safe_next(None), "/inbox");
    }

    #[test]
    fn inbox_links_and_ages() {
        assert_eq!(inbox_href("all", None, ""), "/inbox");
        let a = AccountId::new(3).ok();
        assert_eq!(
            inbox_href("unread", a, "размер M"),
            "/inbox?filter=unread&account=3&q=%D1%80%D0%B0%D0%B7%D0%BC%D0%B5%D1%80%20M"
        );
        assert_eq!(age_label(30_000), "только что");
        assert_eq!(age_label(5 * 60_000), "5 мин");
        assert_eq!(age_label(125 * 60_000), "2 ч 5 мин");
        assert_eq!(age_label(3 * 24 * 3_600_000 + 1), "3 д");
    }
}
