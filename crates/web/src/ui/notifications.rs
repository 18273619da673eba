//! `/notifications`: the workspace's escalation notifications, newest first, and
//! `/notifications/rows`, the list alone (the script re-fetches it when an escalation arrives).
//! Marking read goes through the JSON API (`POST /api/v1/notifications/read`).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use domain::triage::EscalationKind;
use store::Notification;
use store::sessions::Session;

use super::view::{age_label, moscow_time};
use super::{Chrome, fragment_session, page_session, render};
use crate::AppState;
use crate::error::WebError;

/// How many notifications the page shows.
pub const PAGE_LIMIT: u32 = 100;

/// One notification as the page prints it.
#[derive(Debug)]
pub struct NotificationRow {
    pub id: i64,
    pub href: String,
    pub title: &'static str,
    pub client: String,
    /// `breached | due_soon | negative_review` (the CSS class) and its Russian label.
    pub kind: &'static str,
    pub kind_label: &'static str,
    /// When it was raised: Moscow time, how long ago, and the instant for the tooltip.
    pub at: String,
    pub ago: String,
    pub at_ms: i64,
    pub unread: bool,
}

fn kind_label(kind: EscalationKind) -> &'static str {
    match kind {
        EscalationKind::Breached => "Просрочен",
        EscalationKind::DueSoon => "Скоро срок",
        EscalationKind::NegativeReview => "Негативный отзыв",
    }
}

impl NotificationRow {
    pub fn new(n: Notification, now: i64) -> Self {
        Self {
            id: n.id.get(),
            href: format!("/chats/{}", n.chat_id),
            title: n.kind.title(),
            client: n
                .client_name
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| "Покупатель".to_owned()),
            kind: n.kind.as_str(),
            kind_label: kind_label(n.kind),
            at: moscow_time(n.created_at_ms, now),
            ago: age_label(now - n.created_at_ms),
            at_ms: n.created_at_ms,
            unread: n.read_at_ms.is_none(),
        }
    }
}

#[derive(Debug, Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    rows: Vec<NotificationRow>,
    /// The newest id (what «Отметить все прочитанными» sends as `upTo`); 0 without any.
    newest: i64,
}

#[derive(Debug, Template)]
#[template(path = "notifications_rows.html")]
struct NotificationsRows {
    rows: Vec<NotificationRow>,
}

async fn rows(state: &AppState, s: &Session) -> Result<Vec<NotificationRow>, WebError> {
    let now = state.clock().now_ms();
    Ok(state
        .store()
        .list_notifications(s.workspace_id, false, PAGE_LIMIT)
        .await?
        .into_iter()
        .map(|n| NotificationRow::new(n, now))
        .collect())
}

pub(super) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, WebError> {
    let s = match page_session(&headers, &uri, &state).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let rows = rows(&state, &s).await?;
    render(&NotificationsPage {
        chrome: Chrome::of(&state, &s, "notifications").await?,
        newest: rows.first().map_or(0, |r| r.id),
        rows,
    })
}

pub(super) async fn fragment(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let s = fragment_session(&headers, &state).await?;
    let rows = rows(&state, &s).await?;
    render(&NotificationsRows { rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_russian_label() {
        for kind in [
            EscalationKind::Breached,
            EscalationKind::DueSoon,
            EscalationKind::NegativeReview,
        ] {
            assert!(!kind_label(kind).is_ascii());
        }
    }
}
