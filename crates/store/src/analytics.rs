//! Response analytics: how fast and how often within the SLA a workspace answers its buyers,
//! per account and per day, how its negative-review chats fare, and what waits right now.
//!
//! It owns the read side of the `responses` table (one row per answered wait) and
//! [`Store::record_response`], the one write of it outside ingest, for tests and tools. It
//! reads `chats` (the open queue, review chats) and `accounts` (names) but never writes them,
//! and it must not decide what a response is: ingest records those in its own transaction.
//! Percentiles are computed here in Rust over the fetched durations, so both backends give the
//! same numbers. Every query is scoped by workspace.

use std::collections::{BTreeMap, HashMap};

use domain::{AccountId, ChatRowId, Priority, WorkspaceId};

use crate::Store;
use crate::db::on_pool;
use crate::error::{Result, StoreError};

/// Moscow time, UTC+3 all year: the default offset days are bucketed in.
pub const MOSCOW_UTC_OFFSET_MINUTES: i32 = 180;

/// The longest period [`Store::analytics`] accepts, in days (its per-day series is dense).
pub const MAX_ANALYTICS_DAYS: i64 = 400;

const DAY_MS: i64 = 86_400_000;

/// What [`Store::analytics`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyticsQuery {
    /// Responses whose wait began in `[from_ms, to_ms)` are counted, and review chats opened
    /// in it.
    pub from_ms: i64,
    pub to_ms: i64,
    /// Only this account (it must belong to the workspace); `None` for all of them.
    pub account: Option<AccountId>,
    /// "Now" for the open queue: which deadlines have passed, which snoozes still hold.
    pub now_ms: i64,
    /// Days are calendar days at this offset from UTC (see [`MOSCOW_UTC_OFFSET_MINUTES`]).
    pub utc_offset_minutes: i32,
}

/// One answered wait, as [`Store::record_response`] takes it. The account is the chat's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewResponse {
    pub chat_id: ChatRowId,
    /// When the buyer (or WB's review template) began to wait.
    pub waiting_since_ms: i64,
    /// The seller's first reply after that.
    pub answered_at_ms: i64,
    /// The priority in force when the wait was answered.
    pub priority: Priority,
    /// The deadline that applied; `None` when none did (then the answer counts as in time).
    pub due_at_ms: Option<i64>,
    /// The chat was opened by WB over a negative review.
    pub review: bool,
}

/// First-response figures of a set of answered waits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ResponseStats {
    /// How many waits were answered.
    pub answered: u64,
    /// Median time to the first answer (nearest rank: for an even count, the lower middle);
    /// `None` without answers.
    pub median_ms: Option<i64>,
    /// 90th percentile of the same (nearest rank).
    pub p90_ms: Option<i64>,
    /// Share answered by their deadline (or without one), `0.0..=1.0`; `None` without answers.
    pub within_sla: Option<f64>,
    /// Answered after their deadline.
    pub breaches: u64,
}

/// Negative-review chats opened in the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReviewStats {
    /// Chats whose WB review template arrived in the period.
    pub opened: u64,
    /// Of those, the ones whose first answered review wait was answered by its deadline.
    pub answered_in_time: u64,
}

/// One account's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountAnalytics {
    pub id: AccountId,
    pub name: String,
    pub responses: ResponseStats,
    pub reviews: ReviewStats,
}

/// One calendar day's figures (waits that began that day).
#[derive(Debug, Clone, PartialEq)]
pub struct DayAnalytics {
    /// `YYYY-MM-DD` at the query's offset.
    pub date: String,
    pub responses: ResponseStats,
}

/// Chats waiting now with one effective priority (the operator's override, else the
/// automatic one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueBucket {
    pub priority: Priority,
    /// Waiting for an answer (a deadline is set).
    pub waiting: u64,
    /// Of those, past their deadline.
    pub breached: u64,
    /// Of those, snoozed by an operator until later.
    pub snoozed: u64,
}

/// Everything the analytics page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Analytics {
    pub totals: ResponseStats,
    pub reviews: ReviewStats,
    /// Every account of the workspace (or the one asked for), by id, also those without
    /// answers.
    pub accounts: Vec<AccountAnalytics>,
    /// Every day of the period, oldest first, also those without answers.
    pub days: Vec<DayAnalytics>,
    /// One bucket per priority, most urgent first.
    pub queue: Vec<QueueBucket>,
}

#[derive(sqlx::FromRow)]
struct ResponseRow {
    account_id: i64,
    waiting_since: i64,
    answered_at: i64,
    due_at: Option<i64>,
}

impl ResponseRow {
    fn duration_ms(&self) -> i64 {
        (self.answered_at - self.waiting_since).max(0)
    }

    fn in_time(&self) -> bool {
        in_time(self.answered_at, self.due_at)
    }
}

/// The SLA rule: answered by the deadline, or there was none.
fn in_time(answered_at: i64, due_at: Option<i64>) -> bool {
    due_at.is_none_or(|due| answered_at <= due)
}

#[derive(sqlx::FromRow)]
struct ReviewRow {
    chat_id: i64,
    account_id: i64,
    waiting_since: Option<i64>,
    answered_at: Option<i64>,
    due_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct QueueRow {
    priority: String,
    waiting: i64,
    breached: i64,
    snoozed: i64,
}

const RESPONSES: &str = "SELECT account_id, waiting_since, answered_at, due_at FROM responses \
     WHERE workspace_id = $1 AND ($2 IS NULL OR account_id = $2) \
     AND waiting_since >= $3 AND waiting_since < $4";

/// Review chats opened in the period, each with every review wait answered (or one row of
/// NULLs when none was).
const REVIEWS: &str = "SELECT c.id AS chat_id, c.account_id, r.waiting_since, r.answered_at, \
     r.due_at FROM chats c \
     LEFT JOIN responses r ON r.chat_id = c.id AND r.review AND r.workspace_id = c.workspace_id \
     WHERE c.workspace_id = $1 AND ($2 IS NULL OR c.account_id = $2) \
     AND c.review_opened_at >= $3 AND c.review_opened_at < $4";

const QUEUE: &str = "SELECT COALESCE(priority_override, priority) AS priority, \
     COUNT(*) AS waiting, \
     SUM(CASE WHEN due_at < $3 THEN 1 ELSE 0 END) AS breached, \
     SUM(CASE WHEN snoozed_until > $3 THEN 1 ELSE 0 END) AS snoozed \
     FROM chats WHERE workspace_id = $1 AND ($2 IS NULL OR account_id = $2) \
     AND due_at IS NOT NULL GROUP BY COALESCE(priority_override, priority)";

const ACCOUNTS: &str = "SELECT id, name FROM accounts \
     WHERE workspace_id = $1 AND ($2 IS NULL OR id = $2) ORDER BY id";

const CHAT_ACCOUNT: &str = "SELECT account_id FROM chats WHERE id = $1 AND workspace_id = $2";

const INSERT_RESPONSE: &str = "INSERT INTO responses (workspace_id, account_id, chat_id, \
     waiting_since, answered_at, priority, due_at, review) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (chat_id, waiting_since) DO NOTHING";

impl Store {
    /// Response analytics of a workspace over a period (see [`Analytics`]). An account of
    /// another workspace is `NotFound`; a period that is empty, reversed or longer than
    /// [`MAX_ANALYTICS_DAYS`] is `InvalidQuery`.
    pub async fn analytics(&self, workspace: WorkspaceId, q: &AnalyticsQuery) -> Result<Analytics> {
        let span = q.to_ms.checked_sub(q.from_ms).unwrap_or(i64::MAX);
        if span <= 0 || span / DAY_MS > MAX_ANALYTICS_DAYS {
            return Err(StoreError::InvalidQuery(format!(
                "the period must be non-empty and at most {MAX_ANALYTICS_DAYS} days"
            )));
        }
        let ws = workspace.get();
        let account = q.account.map(AccountId::get);
        let (accounts, responses, reviews, queue) = on_pool!(&self.pool, |p| {
            let accounts: Vec<(i64, String)> = sqlx::query_as(ACCOUNTS)
                .bind(ws)
                .bind(account)
                .fetch_all(p)
                .await?;
            let responses: Vec<ResponseRow> = sqlx::query_as(RESPONSES)
                .bind(ws)
                .bind(account)
                .bind(q.from_ms)
                .bind(q.to_ms)
                .fetch_all(p)
                .await?;
            let reviews: Vec<ReviewRow> = sqlx::query_as(REVIEWS)
                .bind(ws)
                .bind(account)
                .bind(q.from_ms)
                .bind(q.to_ms)
                .fetch_all(p)
                .await?;
            let queue: Vec<QueueRow> = sqlx::query_as(QUEUE)
                .bind(ws)
                .bind(account)
                .bind(q.now_ms)
                .fetch_all(p)
                .await?;
            (accounts, responses, reviews, queue)
        });
        if account.is_some() && accounts.is_empty() {
            return Err(StoreError::not_found("account"));
        }

        let offset_ms = i64::from(q.utc_offset_minutes) * 60_000;
        let day_of = |ms: i64| ms.saturating_add(offset_ms).div_euclid(DAY_MS);
        let mut by_account: HashMap<i64, Vec<&ResponseRow>> = HashMap::new();
        let mut by_day: BTreeMap<i64, Vec<&ResponseRow>> = (day_of(q.from_ms)
            ..=day_of(q.to_ms - 1))
            .map(|d| (d, Vec::new()))
            .collect();
        for r in &responses {
            by_account.entry(r.account_id).or_default().push(r);
            by_day.entry(day_of(r.waiting_since)).or_default().push(r);
        }
        let review_stats = review_stats(&reviews);

        let mut out_accounts = Vec::with_capacity(accounts.len());
        for (id, name) in accounts {
            out_accounts.push(AccountAnalytics {
                id: AccountId::new(id).map_err(|e| StoreError::corrupt("account id", e))?,
                name,
                responses: response_stats(by_account.get(&id).map_or(&[], Vec::as_slice)),
                reviews: review_stats.get(&id).copied().unwrap_or_default(),
            });
        }
        let mut days = Vec::with_capacity(by_day.len());
        for (day, rows) in &by_day {
            days.push(DayAnalytics {
                date: date_label(*day)?,
                responses: response_stats(rows),
            });
        }
        let all: Vec<&ResponseRow> = responses.iter().collect();
        let reviews = review_stats
            .values()
            .fold(ReviewStats::default(), |acc, r| ReviewStats {
                opened: acc.opened + r.opened,
                answered_in_time: acc.answered_in_time + r.answered_in_time,
            });
        Ok(Analytics {
            totals: response_stats(&all),
            reviews,
            accounts: out_accounts,
            days,
            queue: queue_buckets(queue)?,
        })
    }

    /// Records one answered wait of a chat of `workspace`, unless one with the same start is
    /// recorded already. Used by tests and tools; ingest writes its own rows in the page's
    /// transaction. A chat of another workspace is `NotFound`.
    pub async fn record_response(&self, workspace: WorkspaceId, r: &NewResponse) -> Result<()> {
        on_pool!(&self.pool, |p| {
            let account: i64 = sqlx::query_scalar(CHAT_ACCOUNT)
                .bind(r.chat_id.get())
                .bind(workspace.get())
                .fetch_optional(p)
                .await?
                .ok_or(StoreError::not_found("chat"))?;
            sqlx::query(INSERT_RESPONSE)
                .bind(workspace.get())
                .bind(account)
                .bind(r.chat_id.get())
                .bind(r.waiting_since_ms)
                .bind(r.answered_at_ms)
                .bind(r.priority.as_str())
                .bind(r.due_at_ms)
                .bind(r.review)
                .execute(p)
                .await?;
        });
        Ok(())
    }
}

/// Counts, percentiles and the SLA share of some answered waits.
fn response_stats(rows: &[&ResponseRow]) -> ResponseStats {
    let mut durations: Vec<i64> = rows.iter().map(|r| r.duration_ms()).collect();
    durations.sort_unstable();
    let answered = rows.len() as u64;
    let within = rows.iter().filter(|r| r.in_time()).count() as u64;
    ResponseStats {
        answered,
        median_ms: nearest_rank(&durations, 50),
        p90_ms: nearest_rank(&durations, 90),
        within_sla: (answered > 0).then(|| within as f64 / answered as f64),
        breaches: answered - within,
    }
}

/// The `pct`-th percentile of sorted values by nearest rank: the smallest value with at least
/// `pct`% of the values at or below it.
fn nearest_rank(sorted: &[i64], pct: usize) -> Option<i64> {
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Per account: review chats opened, and those whose earliest answered review wait was in
/// time.
fn review_stats(rows: &[ReviewRow]) -> HashMap<i64, ReviewStats> {
    // chat → (account, earliest answered review wait: (waiting_since, in time)).
    let mut chats: HashMap<i64, (i64, Option<(i64, bool)>)> = HashMap::new();
    for r in rows {
        let entry = chats.entry(r.chat_id).or_insert((r.account_id, None));
        if let (Some(since), Some(answered)) = (r.waiting_since, r.answered_at) {
            let ok = in_time(answered, r.due_at);
            if entry.1.is_none_or(|(earliest, _)| since < earliest) {
                entry.1 = Some((since, ok));
            }
        }
    }
    let mut out: HashMap<i64, ReviewStats> = HashMap::new();
    for (account, first) in chats.into_values() {
        let s = out.entry(account).or_default();
        s.opened += 1;
        if first.is_some_and(|(_, ok)| ok) {
            s.answered_in_time += 1;
        }
    }
    out
}

fn queue_buckets(rows: Vec<QueueRow>) -> Result<Vec<QueueBucket>> {
    let mut buckets: Vec<QueueBucket> = Priority::ALL
        .iter()
        .map(|&priority| QueueBucket {
            priority,
            waiting: 0,
            breached: 0,
            snoozed: 0,
        })
        .collect();
    for row in rows {
        let priority = row
            .priority
            .parse::<Priority>()
            .map_err(|e| StoreError::corrupt("priority", e))?;
        let count = |n: i64| u64::try_from(n).map_err(|e| StoreError::corrupt("count", e));
        if let Some(b) = buckets.iter_mut().find(|b| b.priority == priority) {
            b.waiting += count(row.waiting)?;
            b.breached += count(row.breached)?;
            b.snoozed += count(row.snoozed)?;
        }
    }
    Ok(buckets)
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
fn date_label(day: i64) -> Result<String> {
    let (y, m, d) = civil_from_days(day);
    if !(0..=9999).contains(&y) {
        return Err(StoreError::InvalidQuery(format!(
            "day {day} is out of range"
        )));
    }
    Ok(format!("{y:04}-{m:02}-{d:02}"))
}

/// The proleptic Gregorian date of a day number (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    // d is 1..=31 and m 1..=12 by construction.
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(nearest_rank(&[], 50), None);
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 90), Some(4));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 50), Some(5));
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(nearest_rank(&eleven, 50), Some(6));
        assert_eq!(nearest_rank(&eleven, 90), Some(10));
    }

    #[test]
    fn day_numbers_to_dates() {
        assert_eq!(date_label(0).ok().as_deref(), Some("1970-01-01"));
        assert_eq!(date_label(-1).ok().as_deref(), Some("1969-12-31"));
        assert_eq!(date_label(19_782).ok().as_deref(), Some("2024-02-29"));
        assert_eq!(date_label(20_454).ok().as_deref(), Some("2026-01-01"));
        assert!(date_label(i64::from(i32::MAX)).is_err());
    }
}
