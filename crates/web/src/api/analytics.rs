//! `GET /api/v1/analytics`: response analytics of the operator's workspace over a period of
//! Moscow calendar days, in total, per account and per day, plus the open queue now.
//!
//! It owns reading the period and account from the query (also for the `/analytics` page,
//! through [`Period`]) and the JSON shape. The numbers themselves are the store's
//! ([`store::Store::analytics`]); this module must not compute any of them.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use domain::AccountId;
use serde::{Deserialize, Serialize};
use store::{
    Analytics, AnalyticsQuery, MOSCOW_UTC_OFFSET_MINUTES, QueueBucket, ResponseStats, ReviewStats,
};
use time::{Date, Month};
use utoipa::ToSchema;

use crate::api::accounts::parse_account_id;
use crate::error::WebError;
use crate::extract::AppQuery;
use crate::{AppState, Operator};

/// Days in the default period (ending today).
pub const DEFAULT_DAYS: i64 = 14;
/// Longest period accepted, in days.
pub const MAX_DAYS: i64 = 366;

const DAY_MS: i64 = 86_400_000;
/// 1970-01-01 as a Julian day number.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/analytics", get(show))
}

/// `GET /api/v1/analytics` query, as text: each bad value gets its own message.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnalyticsParams {
    from: Option<String>,
    to: Option<String>,
    account_id: Option<String>,
}

/// A period of whole Moscow calendar days, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    pub from: Date,
    pub to: Date,
}

impl Period {
    /// `from`/`to` as `YYYY-MM-DD` (blank or absent: the last [`DEFAULT_DAYS`] days up to
    /// today in Moscow, or that many days around the one given).
    pub(crate) fn parse(
        from: Option<&str>,
        to: Option<&str>,
        now_ms: i64,
    ) -> Result<Self, WebError> {
        let from = parse_date("from", from)?;
        let to = parse_date("to", to)?;
        let span = DEFAULT_DAYS - 1;
        let (from, to) = match (from, to) {
            (Some(f), Some(t)) => (f, t),
            (Some(f), None) => (f, add_days(f, span)?),
            (None, Some(t)) => (add_days(t, -span)?, t),
            (None, None) => {
                let today = moscow_day(now_ms)?;
                (add_days(today, -span)?, today)
            }
        };
        if from > to {
            return Err(WebError::bad_request(
                "invalid_period",
                "Дата начала периода (from) позже даты окончания (to).",
            ));
        }
        if day_number(to) - day_number(from) + 1 > MAX_DAYS {
            return Err(WebError::bad_request(
                "invalid_period",
                format!("Период не может быть длиннее {MAX_DAYS} дней."),
            ));
        }
        Ok(Self { from, to })
    }

    /// The store's query: from the first day's Moscow midnight to the one after the last day.
    pub(crate) fn query(self, account: Option<AccountId>, now_ms: i64) -> AnalyticsQuery {
        let offset_ms = i64::from(MOSCOW_UTC_OFFSET_MINUTES) * 60_000;
        AnalyticsQuery {
            from_ms: day_number(self.from) * DAY_MS - offset_ms,
            to_ms: (day_number(self.to) + 1) * DAY_MS - offset_ms,
            account,
            now_ms,
            utc_offset_minutes: MOSCOW_UTC_OFFSET_MINUTES,
        }
    }
}

/// `YYYY-MM-DD`.
pub(crate) fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn parse_date(name: &str, raw: Option<&str>) -> Result<Option<Date>, WebError> {
    let raw = match raw.map(str::trim) {
        None | Some("") => return Ok(None),
        Some(r) => r,
    };
    let bad = || {
        WebError::bad_request(
            "invalid_date",
            format!("Параметр {name} должен быть датой в формате ГГГГ-ММ-ДД, например 2026-03-01."),
        )
    };
    let mut parts = raw.splitn(3, '-');
    let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let y: i32 = y.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    let d: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(m).map_err(|_| bad())?;
    Date::from_calendar_date(y, month, d)
        .map(Some)
        .map_err(|_| bad())
}

/// Days since 1970-01-01.
fn day_number(d: Date) -> i64 {
    i64::from(d.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY
}

fn from_day_number(n: i64) -> Result<Date, WebError> {
    i32::try_from(n + UNIX_EPOCH_JULIAN_DAY)
        .ok()
        .and_then(|j| Date::from_julian_day(j).ok())
        .ok_or_else(|| WebError::bad_request("invalid_date", "Дата вне допустимого диапазона."))
}

fn add_days(d: Date, days: i64) -> Result<Date, WebError> {
    from_day_number(day_number(d) + days)
}

/// The Moscow calendar day of a moment.
pub(crate) fn moscow_day(ms: i64) -> Result<Date, WebError> {
    let offset_ms = i64::from(MOSCOW_UTC_OFFSET_MINUTES) * 60_000;
    from_day_number(ms.saturating_add(offset_ms).div_euclid(DAY_MS))
}

/// Now, Unix ms.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsJson {
    /// First day of the period, `YYYY-MM-DD` (Moscow time).
    pub from: String,
    /// Last day of the period, included.
    pub to: String,
    /// The account asked for, or `null` for all.
    #[schema(value_type = Option<i64>)]
    pub account_id: Option<AccountId>,
    /// Days are Moscow calendar days: this offset from UTC.
    pub utc_offset_minutes: i32,
    /// Waits that began in the period and were answered.
    pub totals: ResponseStatsJson,
    /// Negative-review chats WB opened in the period.
    pub reviews: ReviewStatsJson,
    /// Every account (or the one asked for), also those without answers.
    pub accounts: Vec<AccountStatsJson>,
    /// Every day of the period, oldest first.
    pub days: Vec<DayStatsJson>,
    /// Chats waiting for an answer now, by effective priority, most urgent first.
    pub queue: Vec<QueueJson>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResponseStatsJson {
    /// Answered waits.
    pub answered: u64,
    /// Median time to the first answer, ms (nearest rank); `null` without answers.
    pub median_ms: Option<i64>,
    /// 90th percentile of the same, ms (nearest rank).
    pub p90_ms: Option<i64>,
    /// Share answered by the deadline (or without one), 0..1; `null` without answers.
    pub within_sla: Option<f64>,
    /// Answered after the deadline.
    pub breaches: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReviewStatsJson {
    /// Chats WB opened over a negative review in the period.
    pub opened: u64,
    /// Of those, the ones whose first answer came by its deadline.
    pub answered_in_time: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountStatsJson {
    #[schema(value_type = i64)]
    pub id: AccountId,
    pub name: String,
    pub responses: ResponseStatsJson,
    pub reviews: ReviewStatsJson,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayStatsJson {
    /// `YYYY-MM-DD` (Moscow time); waits that began that day.
    pub date: String,
    pub responses: ResponseStatsJson,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueJson {
    /// `urgent | high | normal` (the operator's override wins over the automatic one).
    #[schema(value_type = String)]
    pub priority: &'static str,
    /// Chats waiting for an answer.
    pub waiting: u64,
    /// Of those, past their deadline.
    pub breached: u64,
    /// Of those, snoozed by an operator.
    pub snoozed: u64,
}

impl From<ResponseStats> for ResponseStatsJson {
    fn from(s: ResponseStats) -> Self {
        Self {
            answered: s.answered,
            median_ms: s.median_ms,
            p90_ms: s.p90_ms,
            within_sla: s.within_sla,
            breaches: s.breaches,
        }
    }
}

impl From<ReviewStats> for ReviewStatsJson {
    fn from(s: ReviewStats) -> Self {
        Self {
            opened: s.opened,
            answered_in_time: s.answered_in_time,
        }
    }
}

impl From<QueueBucket> for QueueJson {
    fn from(b: QueueBucket) -> Self {
        Self {
            priority: b.priority.as_str(),
            waiting: b.waiting,
            breached: b.breached,
            snoozed: b.snoozed,
        }
    }
}

impl AnalyticsJson {
    fn new(period: Period, account: Option<AccountId>, a: Analytics) -> Self {
        Self {
            from: iso_date(period.from),
            to: iso_date(period.to),
            account_id: account,
            utc_offset_minutes: MOSCOW_UTC_OFFSET_MINUTES,
            totals: a.totals.into(),
            reviews: a.reviews.into(),
            accounts: a
                .accounts
                .into_iter()
                .map(|x| AccountStatsJson {
                    id: x.id,
                    name: x.name,
                    responses: x.responses.into(),
                    reviews: x.reviews.into(),
                })
                .collect(),
            days: a
                .days
                .into_iter()
                .map(|d| DayStatsJson {
                    date: d.date,
                    responses: d.responses.into(),
                })
                .collect(),
            queue: a.queue.into_iter().map(QueueJson::from).collect(),
        }
    }
}

/// The account of an `accountId`/`account` parameter (blank: all accounts).
pub(crate) fn parse_account(raw: Option<&str>) -> Result<Option<AccountId>, WebError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => parse_account_id(raw).map(Some),
    }
}

/// `GET /api/v1/analytics?from=YYYY-MM-DD&to=YYYY-MM-DD&accountId=`.
///
/// First-response time (median and 90th percentile), the share answered within the SLA and
/// the breaches of the waits that began in the period (Moscow calendar days, both ends
/// included; by default the last 14 days up to today), in total, per account and per day;
/// the negative-review chats WB opened in the period; and the chats waiting now.
#[utoipa::path(
    get,
    path = "/api/v1/analytics",
    tag = "analytics",
    params(
        ("from" = Option<String>, Query, description = "First day, `YYYY-MM-DD` (Moscow time); default: 13 days before `to`"),
        ("to" = Option<String>, Query, description = "Last day, included, `YYYY-MM-DD`; default: today in Moscow (or 13 days after `from`)"),
        ("accountId" = Option<i64>, Query, description = "Only this account"),
    ),
    responses(
        (status = 200, description = "The analytics of the period", body = AnalyticsJson),
        (status = 400, description = "A bad date, a reversed period or one longer than 366 days, a bad account id", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such account in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    op: Operator,
    AppQuery(q): AppQuery<AnalyticsParams>,
) -> Result<Json<AnalyticsJson>, WebError> {
    let now = now_ms();
    let period = Period::parse(q.from.as_deref(), q.to.as_deref(), now)?;
    let account = parse_account(q.account_id.as_deref())?;
    let analytics = state
        .store()
        .analytics(op.workspace_id, &period.query(account, now))
        .await?;
    Ok(Json(AnalyticsJson::new(period, account, analytics)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(from: Option<&str>, to: Option<&str>) -> Result<(String, String), String> {
        // 2026-03-10 22:30 UTC = 2026-03-11 01:30 in Moscow.
        let now = 1_773_181_800_000;
        Period::parse(from, to, now)
            .map(|p| (iso_date(p.from), iso_date(p.to)))
            .map_err(|e| e.code().to_owned())
    }

    fn ok(from: &str, to: &str) -> Result<(String, String), String> {
        Ok((from.to_owned(), to.to_owned()))
    }

    #[test]
    fn periods_default_to_the_last_two_weeks_in_moscow() {
        assert_eq!(period(None, None), ok("2026-02-26", "2026-03-11"));
        assert_eq!(period(Some(" "), Some("")), ok("2026-02-26", "2026-03-11"));
        assert_eq!(
            period(Some("2026-03-01"), None),
            ok("2026-03-01", "2026-03-14")
        );
        assert_eq!(
            period(None, Some("2026-01-05")),
            ok("2025-12-23", "2026-01-05")
        );
        assert_eq!(
            period(Some("2024-02-29"), Some("2024-02-29")),
            ok("2024-02-29", "2024-02-29")
        );
    }

    #[test]
    fn bad_periods_are_refused() {
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "26-03-01",
            "2026-3-1",
            "вчера",
            "2026-03-01x",
        ] {
            assert_eq!(
                period(Some(bad), None),
                Err("invalid_date".to_owned()),
                "{bad}"
            );
        }
        assert_eq!(
            period(Some("2026-03-02"), Some("2026-03-01")),
            Err("invalid_period".to_owned())
        );
        assert_eq!(
            period(Some("2025-01-01"), Some("2026-01-01")),
            ok("2025-01-01", "2026-01-01")
        );
        assert_eq!(
            period(Some("2024-01-01"), Some("2025-01-01")),
            Err("invalid_period".to_owned())
        );
    }

    #[test]
    fn a_period_covers_moscow_midnight_to_midnight() {
        let p = Period::parse(Some("2026-03-01"), Some("2026-03-01"), 0).ok();
        let q = p.map(|p| p.query(None, 0));
        assert_eq!(
            q.map(|q| (q.from_ms, q.to_ms)),
            Some((1_772_312_400_000, 1_772_398_800_000))
        );
    }
}
