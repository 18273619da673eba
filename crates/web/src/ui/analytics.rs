//! The `/analytics` page: first-response times, the share answered within the SLA, breaches,
//! negative-review chats and the open queue of the operator's workspace, for a period of
//! Moscow days and optionally one account, with server-drawn SVG charts ([`super::charts`]).
//!
//! It owns the page's filter form and turning the store's figures into Russian text. It reads
//! the period like the JSON API does ([`crate::api::analytics::Period`]) and must not compute
//! figures of its own: they come from [`store::Store::analytics`].

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde::Deserialize;
use store::{Analytics, ResponseStats};

use super::view::duration_label;
use super::{Chrome, charts, page_session, render};
use crate::AppState;
use crate::api::analytics::{Period, iso_date, now_ms, parse_account};
use crate::error::WebError;

/// `/analytics` query: the GET form's fields.
#[derive(Debug, Default, Deserialize)]
pub(super) struct AnalyticsForm {
    from: Option<String>,
    to: Option<String>,
    account: Option<String>,
}

/// One option of the account filter.
#[derive(Debug)]
pub(super) struct AccountOption {
    id: String,
    name: String,
    selected: bool,
}

/// A summary tile: a caption, a big value and a note under it.
#[derive(Debug)]
pub(super) struct Tile {
    caption: &'static str,
    value: String,
    note: String,
    /// `good | bad | ""`: colours the value.
    tone: &'static str,
}

/// One account's line of the table.
#[derive(Debug)]
pub(super) struct AccountLine {
    name: String,
    answered: u64,
    median: String,
    p90: String,
    within_sla: String,
    breaches: u64,
    reviews: String,
}

/// One priority's line of the queue.
#[derive(Debug)]
pub(super) struct QueueLine {
    label: &'static str,
    waiting: u64,
    breached: u64,
    snoozed: u64,
}

#[derive(Debug, Template)]
#[template(path = "analytics.html")]
pub(super) struct AnalyticsPage {
    chrome: Chrome,
    from: String,
    to: String,
    accounts: Vec<AccountOption>,
    error: Option<String>,
    tiles: Vec<Tile>,
    times_svg: String,
    sla_svg: String,
    queue_svg: String,
    account_lines: Vec<AccountLine>,
    queue_lines: Vec<QueueLine>,
    queue_waiting: u64,
}

/// "—" for no value.
fn or_dash(v: Option<String>) -> String {
    v.unwrap_or_else(|| "—".to_owned())
}

fn duration(ms: Option<i64>) -> String {
    or_dash(ms.map(duration_label))
}

/// "87 %" of a share 0..1.
fn percent(share: Option<f64>) -> String {
    or_dash(share.map(|s| format!("{:.0}\u{a0}%", s * 100.0)))
}

fn tiles(a: &Analytics) -> Vec<Tile> {
    let t: &ResponseStats = &a.totals;
    let sla_tone = match t.within_sla {
        Some(s) if s >= 0.9 => "good",
        Some(_) => "bad",
        None => "",
    };
    vec![
        Tile {
            caption: "Медиана первого ответа",
            value: duration(t.median_ms),
            note: format!("ответов: {}", t.answered),
            tone: "",
        },
        Tile {
            caption: "p90 первого ответа",
            value: duration(t.p90_ms),
            note: "90 % ответов не дольше".to_owned(),
            tone: "",
        },
        Tile {
            caption: "Доля ответов в срок",
            value: percent(t.within_sla),
            note: "по SLA приоритета".to_owned(),
            tone: sla_tone,
        },
        Tile {
            caption: "Нарушения SLA",
            value: t.breaches.to_string(),
            note: "ответов после срока".to_owned(),
            tone: if t.breaches > 0 { "bad" } else { "" },
        },
        Tile {
            caption: "Негативные отзывы",
            value: format!("{} / {}", a.reviews.opened, a.reviews.answered_in_time),
            note: "открыто / отвечено вовремя".to_owned(),
            tone: if a.reviews.answered_in_time < a.reviews.opened {
                "bad"
            } else {
                ""
            },
        },
    ]
}

pub(super) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    Query(form): Query<AnalyticsForm>,
) -> Result<Response, WebError> {
    let s = match page_session(&headers, &uri, &state).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let now = now_ms();
    let all_accounts = state.store().list_accounts(s.workspace_id).await?;
    let mut error = None;
    // Bad input shows its message and falls back to the defaults, rather than an error page.
    let period = match Period::parse(form.from.as_deref(), form.to.as_deref(), now) {
        Ok(p) => p,
        Err(e) => {
            error = Some(e.message());
            Period::parse(None, None, now)?
        }
    };
    let account = match parse_account(form.account.as_deref()) {
        Ok(Some(id)) if all_accounts.iter().any(|a| a.id == id) => Some(id),
        Ok(None) => None,
        Ok(Some(_)) | Err(_) => {
            error = Some("Аккаунт не найден: показаны все аккаунты.".to_owned());
            None
        }
    };
    let a = state
        .store()
        .analytics(s.workspace_id, &period.query(account, now))
        .await?;
    let chart = |r: Result<String, charts::ChartError>| {
        r.map_err(|e| WebError::Internal(format!("analytics page: {e}")))
    };
    render(&AnalyticsPage {
        chrome: Chrome::of(&state, &s, "analytics").await?,
        from: iso_date(period.from),
        to: iso_date(period.to),
        accounts: all_accounts
            .iter()
            .map(|x| AccountOption {
                id: x.id.to_string(),
                name: x.name.clone(),
                selected: account == Some(x.id),
            })
            .collect(),
        error,
        tiles: tiles(&a),
        times_svg: chart(charts::response_times(&a.days))?,
        sla_svg: chart(charts::sla_share(&a.days))?,
        queue_svg: chart(charts::queue(&a.queue))?,
        account_lines: a
            .accounts
            .iter()
            .map(|x| AccountLine {
                name: x.name.clone(),
                answered: x.responses.answered,
                median: duration(x.responses.median_ms),
                p90: duration(x.responses.p90_ms),
                within_sla: percent(x.responses.within_sla),
                breaches: x.responses.breaches,
                reviews: format!("{} / {}", x.reviews.opened, x.reviews.answered_in_time),
            })
            .collect(),
        queue_lines: a
            .queue
            .iter()
            .map(|b| QueueLine {
                label: b.priority.label(),
                waiting: b.waiting,
                breached: b.breached,
                snoozed: b.snoozed,
            })
            .collect(),
        queue_waiting: a.queue.iter().map(|b| b.waiting).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_shares_read_in_russian() {
        assert_eq!(duration_label(45_000), "45 с");
        assert_eq!(duration_label(12 * 60_000 + 59_000), "12 мин");
        assert_eq!(duration_label(65 * 60_000), "1 ч 5 мин");
        assert_eq!(duration_label(120 * 60_000), "2 ч");
        assert_eq!(duration_label(51 * 3_600_000), "2 д 3 ч");
        assert_eq!(duration_label(-5), "0 с");
        assert_eq!(duration(None), "—");
        assert_eq!(percent(Some(0.875)), "88\u{a0}%");
        assert_eq!(percent(None), "—");
    }
}
