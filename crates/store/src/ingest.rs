//! Storing a page of WB events: the central write of the sync engine.
//!
//! [`Store::ingest_page`] runs in one transaction (on SQLite a `BEGIN IMMEDIATE` one): it
//! creates the chats the events name (events are the source of truth; `/chats` only enriches),
//! keeps the newest `replySign` and the buyer's name, inserts each message with `ON CONFLICT
//! (account_id, event_id) DO NOTHING` so a repeated event — in the same page or any earlier one
//! — is counted and skipped, stores attachments only for messages inserted now, updates each
//! chat's last message, last buyer message, unread count and the time it has waited for a
//! seller reply since (`awaiting_since`, see `UPDATE_SUMMARIES`), triages the chats the page
//! touched — automatic priority with its reasons, WB's negative-review window, deadline, queue
//! position, next escalation look, and one `responses` row per wait the page answered (see
//! `triage_chat`) — and advances the account's cursor. Any error rolls all of it back, so the
//! cursor never runs ahead of the messages.
//!
//! Speed: a page costs a handful of statements whatever its size — one lookup of all its
//! chats, one multi-row insert of its messages, one of their attachments, one update of the
//! chat summaries (`UPDATE … FROM (VALUES …)`), one for the cursor — plus one insert per new
//! chat. Multi-row statements are built once per row count (up to [`CHUNK`]) and stay prepared
//! on each connection.

use std::collections::HashMap;
use std::sync::LazyLock;

use domain::triage::deadline::{
    ChatTimes, ReviewWindow, first_escalation_at, is_negative_review_template, schedule,
};
use domain::{AccountId, GoodCard, Priority, ReplySign, Sender, Sla, TriageNote};

use crate::Store;
use crate::db::{Backend, WritePool, now_ms, on_pool};
use crate::error::{Result, StoreError};
use crate::model::{IngestOutcome, IngestPage, NewMessage};

/// What the page says about one chat, and what it did to it.
struct PageChat<'a> {
    wb_chat_id: &'a str,
    reply_sign: Option<(i64, &'a ReplySign)>,
    client_name: Option<&'a str>,
    good_card: Option<&'a GoodCard>,
    row_id: i64,
    last_read_at: Option<i64>,
    last: Option<(i64, &'a str)>,
    last_buyer: Option<i64>,
    unread_inc: i64,
    /// The newest seller message inserted now.
    last_seller: Option<i64>,
    /// Buyer messages inserted now — and WB's negative-review template, which waits for the
    /// seller like a buyer message does: their times, for the waiting start (see
    /// [`PageChat::waiting_from`]).
    buyer_times: Vec<i64>,
    /// Every message inserted now, for triage (see [`Store::triage_page`]).
    timeline: Vec<(i64, Turn<'a>)>,
    /// The oldest negative-review template inserted now.
    review_template_at: Option<i64>,
    /// The chat as stored before this page (`None` for a chat created now).
    pre: Option<Pre>,
}

/// One inserted message, as triage sees it.
#[derive(Debug, Clone, Copy)]
enum Turn<'a> {
    Buyer(&'a str),
    Seller,
    /// WB's template opening a chat over a negative review.
    ReviewTemplate,
}

/// The triage state of a chat before the page (see migration 0008).
#[derive(Debug, Clone, Default)]
struct Pre {
    awaiting_since: Option<i64>,
    priority: Option<Priority>,
    triage: Option<String>,
    priority_override: Option<Priority>,
    review_opened_at: Option<i64>,
    review_replied_at: Option<i64>,
    snoozed_until: Option<i64>,
    due_at: Option<i64>,
    next_escalation_at: Option<i64>,
}

impl<'a> PageChat<'a> {
    fn new(ev: &'a NewMessage) -> Self {
        Self {
            wb_chat_id: ev.chat_id.as_str(),
            reply_sign: None,
            client_name: None,
            good_card: None,
            row_id: 0,
            last_read_at: None,
            last: None,
            last_buyer: None,
            unread_inc: 0,
            last_seller: None,
            buyer_times: Vec::new(),
            timeline: Vec::new(),
            review_template_at: None,
            pre: None,
        }
    }

    fn observe(&mut self, ev: &'a NewMessage) {
        if let Some(sign) = &ev.reply_sign {
            // The newest signature wins; WB rejects outdated ones.
            if self
                .reply_sign
                .is_none_or(|(ts, _)| ev.add_timestamp_ms >= ts)
            {
                self.reply_sign = Some((ev.add_timestamp_ms, sign));
            }
        }
        if let Some(name) = ev.client_name.as_deref().filter(|n| !n.trim().is_empty()) {
            self.client_name = Some(name);
        }
        if self.good_card.is_none() {
            self.good_card = ev.good_card.as_ref().filter(|c| !c.is_empty());
        }
    }

    fn count_inserted(&mut self, ev: &'a NewMessage) {
        let ts = ev.add_timestamp_ms;
        if self.last.is_none_or(|(last, _)| ts >= last) {
            self.last = Some((ts, ev.text.as_str()));
        }
        if ev.sender == Sender::Seller && self.last_seller.is_none_or(|last| ts > last) {
            self.last_seller = Some(ts);
        }
        match ev.sender {
            Sender::Client => self.timeline.push((ts, Turn::Buyer(ev.text.as_str()))),
            Sender::Seller => self.timeline.push((ts, Turn::Seller)),
            Sender::Wb if is_negative_review_template(&ev.text) => {
                self.timeline.push((ts, Turn::ReviewTemplate));
                self.buyer_times.push(ts);
                if self.review_template_at.is_none_or(|at| ts < at) {
                    self.review_template_at = Some(ts);
                }
            }
            Sender::Wb => {}
        }
        if ev.sender == Sender::Client {
            self.buyer_times.push(ts);
            if self.last_buyer.is_none_or(|last| ts > last) {
                self.last_buyer = Some(ts);
            }
            if self.last_read_at.is_none_or(|read| ts > read) {
                self.unread_inc += 1;
            }
        }
    }

    /// The oldest buyer message inserted now that no seller message inserted now answers
    /// (i.e. newer than the newest of them); `None` if there is none.
    fn waiting_from(&self) -> Option<i64> {
        self.buyer_times
            .iter()
            .copied()
            .filter(|ts| self.last_seller.is_none_or(|s| *ts > s))
            .min()
    }
}

#[derive(sqlx::FromRow)]
struct ExistingChat {
    id: i64,
    wb_chat_id: String,
    reply_sign: Option<String>,
    reply_sign_at: Option<i64>,
    client_name: Option<String>,
    nm_id: Option<i64>,
    rid: Option<String>,
    price: Option<i64>,
    price_currency: Option<String>,
    size: Option<String>,
    last_read_at: Option<i64>,
    awaiting_since: Option<i64>,
    priority: String,
    triage: Option<String>,
    priority_override: Option<String>,
    review_opened_at: Option<i64>,
    review_replied_at: Option<i64>,
    snoozed_until: Option<i64>,
    due_at: Option<i64>,
    next_escalation_at: Option<i64>,
}

impl ExistingChat {
    fn pre(&self) -> Pre {
        Pre {
            awaiting_since: self.awaiting_since,
            priority: self.priority.parse().ok(),
            triage: self.triage.clone(),
            priority_override: self
                .priority_override
                .as_deref()
                .and_then(|p| p.parse().ok()),
            review_opened_at: self.review_opened_at,
            review_replied_at: self.review_replied_at,
            snoozed_until: self.snoozed_until,
            due_at: self.due_at,
            next_escalation_at: self.next_escalation_at,
        }
    }

    fn has_card(&self) -> bool {
        self.nm_id.is_some()
            || self.rid.is_some()
            || self.price.is_some()
            || self.price_currency.is_some()
            || self.size.is_some()
    }
}

/// Rows per multi-row statement.
const CHUNK: usize = 64;

/// Multi-row statement texts, one per row count `0..=CHUNK` and per backend.
struct Multi {
    sqlite: Vec<String>,
    postgres: Vec<String>,
}

/// Builds a [`Multi`]: `build(rows, next_placeholder)`. SQLite gets anonymous `?`
/// placeholders (binding `$N` names is linear per parameter there), PostgreSQL `$1, $2, …`.
fn multi(build: fn(usize, &mut dyn FnMut() -> String) -> String) -> Multi {
    let sqlite = (0..=CHUNK)
        .map(|n| build(n, &mut || "?".to_owned()))
        .collect();
    let postgres = (0..=CHUNK)
        .map(|n| {
            let mut k = 0;
            build(n, &mut || {
                k += 1;
                format!("${k}")
            })
        })
        .collect();
    Multi { sqlite, postgres }
}

/// `(?, ?), (?, ?)`: `rows` tuples of `cols` placeholders.
fn tuples(rows: usize, cols: usize, ph: &mut dyn FnMut() -> String) -> String {
    let mut out = String::new();
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&ph());
        }
        out.push(')');
    }
    out
}

static SELECT_CHATS: LazyLock<Multi> = LazyLock::new(|| {
    multi(|n, ph| {
        let account = ph();
        let list = (0..n).map(|_| ph()).collect::<Vec<_>>().join(", ");
        format!(
            "SELECT id, wb_chat_id, reply_sign, reply_sign_at, client_name, nm_id, rid, price, \
             price_currency, size, last_read_at, awaiting_since, priority, triage, \
             priority_override, review_opened_at, review_replied_at, snoozed_until, due_at, \
             next_escalation_at FROM chats \
             WHERE account_id = {account} AND wb_chat_id IN ({list})"
        )
    })
});

static INSERT_MESSAGES: LazyLock<Multi> = LazyLock::new(|| {
    multi(|n, ph| {
        format!(
            "INSERT INTO messages (workspace_id, account_id, chat_id, event_id, sender, source, \
             text, add_timestamp, is_platform, created_at) VALUES {} \
             ON CONFLICT (account_id, event_id) DO NOTHING RETURNING id, event_id",
            tuples(n, 10, ph)
        )
    })
});

static INSERT_ATTACHMENTS: LazyLock<Multi> = LazyLock::new(|| {
    multi(|n, ph| {
        format!(
            "INSERT INTO attachments (workspace_id, message_id, kind, download_id, name, \
             content_type, size, url) VALUES {}",
            tuples(n, 8, ph)
        )
    })
});

// v.column1 = chat id, 2 = last message time, 3 = its text, 4 = has a buyer message,
// 5 = last buyer message time, 6 = unread increment, 7 = has a seller message, 8 = newest
// seller message time, 9 = oldest buyer message after it (NULL if none; see
// `PageChat::waiting_from`). (`column<N>` is the default name of a VALUES column in both SQLite
// and PostgreSQL.) On the right of SET, `chats.*` are the values before this update.
//
// `awaiting_since` (the oldest buyer message not answered by a later seller message), from the
// messages inserted now (A = stored value, S = column8, W = column9, LB = stored last buyer
// message time):
// - A set, and a seller message at S >= A: everything up to S is answered; W starts waiting.
//   Out of order: if a stored buyer message is newer than S (a late reply landing between
//   buyer messages), the chat still waits — since min(W, LB), an approximation that may
//   understate the wait (history is not scanned).
// - A set otherwise: unchanged. A buyer message older than A arriving late does not move it
//   (we cannot tell whether a reply sat between them), nor does a seller message older than A.
// - A NULL: W starts waiting if it is newer than LB (a late buyer message older than one
//   already answered is answered too); failing that the page's newest buyer message (column5)
//   if it is newer than both LB and S. Else it stays NULL.
// `wb` (platform) messages never change it.
static UPDATE_SUMMARIES: LazyLock<Multi> = LazyLock::new(|| {
    multi(|n, ph| {
        format!(
            "UPDATE chats SET \
             last_message_text = CASE WHEN chats.last_message_at IS NULL \
                 OR v.column2 >= chats.last_message_at THEN v.column3 \
                 ELSE chats.last_message_text END, \
             last_message_at = CASE WHEN chats.last_message_at IS NULL \
                 OR v.column2 >= chats.last_message_at THEN v.column2 \
                 ELSE chats.last_message_at END, \
             last_buyer_message_at = CASE WHEN v.column4 AND (chats.last_buyer_message_at IS NULL \
                 OR v.column5 > chats.last_buyer_message_at) THEN v.column5 \
                 ELSE chats.last_buyer_message_at END, \
             unread_count = chats.unread_count + v.column6, \
             awaiting_since = CASE \
                 WHEN chats.awaiting_since IS NOT NULL THEN CASE \
                     WHEN NOT v.column7 OR chats.awaiting_since > v.column8 \
                         THEN chats.awaiting_since \
                     WHEN chats.last_buyer_message_at > v.column8 THEN CASE \
                         WHEN v.column9 IS NOT NULL AND v.column9 < chats.last_buyer_message_at \
                             THEN v.column9 ELSE chats.last_buyer_message_at END \
                     ELSE v.column9 END \
                 WHEN v.column9 IS NOT NULL AND (chats.last_buyer_message_at IS NULL \
                     OR v.column9 > chats.last_buyer_message_at) THEN v.column9 \
                 WHEN v.column4 AND (chats.last_buyer_message_at IS NULL \
                     OR v.column5 > chats.last_buyer_message_at) \
                     AND (NOT v.column7 OR v.column5 > v.column8) THEN v.column5 \
                 ELSE NULL END \
             FROM (VALUES {}) AS v WHERE chats.id = v.column1 \
             RETURNING chats.id, chats.awaiting_since",
            tuples(n, 9, ph)
        )
    })
});

// v.column1 = chat id, then priority, triage, review_opened_at, review_replied_at,
// snoozed_until, due_at, queue_at, next_escalation_at (all computed by `triage_chat`).
static UPDATE_TRIAGE: LazyLock<Multi> = LazyLock::new(|| {
    multi(|n, ph| {
        format!(
            "UPDATE chats SET priority = v.column2, triage = v.column3, \
             review_opened_at = v.column4, review_replied_at = v.column5, \
             snoozed_until = v.column6, due_at = v.column7, queue_at = v.column8, \
             next_escalation_at = v.column9 \
             FROM (VALUES {}) AS v WHERE chats.id = v.column1",
            tuples(n, 9, ph)
        )
    })
});

static INSERT_RESPONSES: LazyLock<Multi> = LazyLock::new(|| {
    multi(|n, ph| {
        format!(
            "INSERT INTO responses (workspace_id, account_id, chat_id, waiting_since, \
             answered_at, priority, due_at, review) VALUES {} \
             ON CONFLICT (chat_id, waiting_since) DO NOTHING",
            tuples(n, 8, ph)
        )
    })
});

/// A chat's triage columns after a page.
#[derive(Debug, Clone, PartialEq)]
struct TriageUpdate {
    chat: i64,
    priority: Priority,
    triage: Option<String>,
    review_opened_at: Option<i64>,
    review_replied_at: Option<i64>,
    snoozed_until: Option<i64>,
    due_at: Option<i64>,
    queue_at: Option<i64>,
    next_escalation_at: Option<i64>,
}

/// One answered wait, for the analytics.
#[derive(Debug, Clone, PartialEq)]
struct ResponseRow {
    chat: i64,
    waiting_since: i64,
    answered_at: i64,
    priority: Priority,
    due_at: Option<i64>,
    review: bool,
}

/// Triage of one chat after a page: its automatic priority and why, the review window, the
/// deadline and queue position, when escalation looks next — and the waits the page answered.
///
/// * Waits: walking the inserted messages in time order from the stored wait (if any), a
///   buyer message (or WB's review template) opens a wait, the next seller message answers it
///   (one [`ResponseRow`]; a wait opened in this page gets the priority of its first message).
/// * Priority: the most urgent of the messages still waiting (`new_wait` is the store's
///   `awaiting_since` after the page), keeping the stored one when the same wait goes on; a
///   chat WB opened over a negative review is always urgent. A chat that waits for nothing
///   keeps its last triage (its intent stays visible).
/// * A new buyer message ends a snooze.
fn triage_chat(
    c: &PageChat<'_>,
    new_wait: Option<i64>,
    sla: &Sla,
    lead: std::time::Duration,
) -> (TriageUpdate, Vec<ResponseRow>) {
    let pre = c.pre.clone().unwrap_or_default();
    let review_opened_at = match (pre.review_opened_at, c.review_template_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let is_review = review_opened_at.is_some();
    let mut timeline = c.timeline.clone();
    timeline.sort_by_key(|(ts, _)| *ts);
    let review_replied_at = pre.review_replied_at.or_else(|| {
        let opened = review_opened_at?;
        timeline
            .iter()
            .find(|(ts, t)| matches!(t, Turn::Buyer(_)) && *ts > opened)
            .map(|(ts, _)| *ts)
    });
    // Each message is classified at most once, and only when a wait needs it.
    let mut notes: Vec<Option<TriageNote>> = vec![None; timeline.len()];
    let mut note_at = |i: usize| -> Option<TriageNote> {
        let (ts, turn) = *timeline.get(i)?;
        let slot = notes.get_mut(i)?;
        if slot.is_none() {
            *slot = match turn {
                Turn::Buyer(text) => Some(TriageNote::for_message(text, ts, is_review)),
                Turn::ReviewTemplate => Some(TriageNote::for_review_template(ts)),
                Turn::Seller => None,
            };
        }
        slot.clone()
    };
    let pre_priority = pre.priority_override.or(pre.priority);

    // Waits answered in this page.
    let mut responses = Vec::new();
    let mut open: Option<(i64, Option<Priority>, Option<i64>)> =
        pre.awaiting_since.map(|a| (a, pre_priority, pre.due_at));
    for (i, &(ts, turn)) in timeline.iter().enumerate() {
        match turn {
            Turn::Buyer(_) | Turn::ReviewTemplate => {
                if open.is_none() {
                    let p = note_at(i).map(|n| n.priority);
                    let p = pre.priority_override.or(p).unwrap_or(Priority::Normal);
                    let p = if is_review { Priority::Urgent } else { p };
                    let due = ts.saturating_add(domain::triage::deadline::ms(sla.for_priority(p)));
                    open = Some((ts, Some(p), Some(due)));
                }
            }
            Turn::Seller => {
                if let Some((since, p, due)) = open.filter(|(since, _, _)| ts >= *since) {
                    responses.push(ResponseRow {
                        chat: c.row_id,
                        waiting_since: since,
                        answered_at: ts,
                        priority: p.unwrap_or(Priority::Normal),
                        due_at: due,
                        review: is_review,
                    });
                    open = None;
                }
            }
        }
    }

    // The priority of what still waits.
    let mut best: Option<TriageNote> = None;
    if new_wait.is_some() && new_wait == pre.awaiting_since {
        best = pre
            .triage
            .as_deref()
            .and_then(|t| serde_json::from_str::<TriageNote>(t).ok());
    }
    if let Some(wait) = new_wait {
        for i in (0..timeline.len()).filter(|i| timeline.get(*i).is_some_and(|(ts, _)| *ts >= wait))
        {
            // The most urgent wins; at equal priority a classified buyer message explains
            // more than WB's template does.
            if let Some(note) = note_at(i)
                && best.as_ref().is_none_or(|b| {
                    note.priority < b.priority
                        || (note.priority == b.priority
                            && b.intent.is_none()
                            && note.intent.is_some())
                })
            {
                best = Some(note);
            }
        }
        if best.is_none() && is_review {
            best = Some(TriageNote::for_review_template(
                review_opened_at.unwrap_or(wait),
            ));
        }
    }
    let (priority, triage) = match best {
        Some(mut note) => {
            if is_review && note.priority != Priority::Urgent {
                note.priority = Priority::Urgent;
                note.reasons
                    .insert(0, domain::triage::deadline::negative_review_reason().into());
            }
            (note.priority, serde_json::to_string(&note).ok())
        }
        None => (pre.priority.unwrap_or(Priority::Normal), pre.triage.clone()),
    };

    let new_buyer = timeline.iter().any(|(_, t)| matches!(t, Turn::Buyer(_)));
    let snoozed_until = if new_buyer { None } else { pre.snoozed_until };
    let review = review_opened_at.map(|opened_at_ms| ReviewWindow {
        opened_at_ms,
        buyer_replied_at_ms: review_replied_at,
    });
    let plan = schedule(
        &ChatTimes {
            awaiting_since_ms: new_wait,
            priority: pre.priority_override.unwrap_or(priority),
            review,
            snoozed_until_ms: snoozed_until,
        },
        sla,
    );
    let new_review = review_opened_at.filter(|_| pre.review_opened_at.is_none());
    let next_escalation_at = if plan.due_at_ms != pre.due_at
        || snoozed_until != pre.snoozed_until
        || new_review.is_some()
    {
        first_escalation_at(plan.due_at_ms, snoozed_until, lead, new_review)
    } else {
        pre.next_escalation_at
    };
    (
        TriageUpdate {
            chat: c.row_id,
            priority,
            triage,
            review_opened_at,
            review_replied_at,
            snoozed_until,
            due_at: plan.due_at_ms,
            queue_at: plan.queue_at_ms,
            next_escalation_at,
        },
        responses,
    )
}

fn sql(table: &'static LazyLock<Multi>, rows: usize, backend: Backend) -> Result<&'static str> {
    let texts = match backend {
        Backend::Sqlite => &table.sqlite,
        Backend::Postgres => &table.postgres,
    };
    texts
        .get(rows)
        .map(String::as_str)
        .ok_or_else(|| StoreError::Config(format!("no statement for {rows} rows")))
}

static INSERT_CHATS: LazyLock<Multi> = LazyLock::new(|| {
    multi(|n, ph| {
        format!(
            "INSERT INTO chats (workspace_id, account_id, wb_chat_id, reply_sign, client_name, \
             nm_id, rid, price, price_currency, size, first_seen_at, reply_sign_at) VALUES {} \
             ON CONFLICT (account_id, wb_chat_id) DO NOTHING RETURNING id, wb_chat_id",
            tuples(n, 12, ph)
        )
    })
});

const ENRICH_CHAT: &str = "UPDATE chats SET reply_sign = COALESCE($2, reply_sign), \
     reply_sign_at = CASE WHEN $2 IS NULL THEN reply_sign_at ELSE $10 END, \
     client_name = COALESCE($3, client_name), \
     nm_id = CASE WHEN $4 THEN $5 ELSE nm_id END, \
     rid = CASE WHEN $4 THEN $6 ELSE rid END, \
     price = CASE WHEN $4 THEN $7 ELSE price END, \
     price_currency = CASE WHEN $4 THEN $8 ELSE price_currency END, \
     size = CASE WHEN $4 THEN $9 ELSE size END \
     WHERE id = $1";

const ADVANCE_CURSOR: &str = "UPDATE sync_state SET next_cursor = $2, \
     last_activity_at = CASE WHEN $3 THEN $4 ELSE last_activity_at END \
     WHERE account_id = $1";

impl Store {
    /// Stores one page of events and the cursor after it, all or nothing. Idempotent: the
    /// same page again inserts nothing and reports every event as a duplicate.
    pub async fn ingest_page(
        &self,
        account: AccountId,
        page: &IngestPage,
    ) -> Result<IngestOutcome> {
        let now = now_ms();
        let account_id = account.get();

        // Group the page by chat, in order of first appearance.
        let mut chats: Vec<PageChat<'_>> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut chat_of_event: Vec<usize> = Vec::with_capacity(page.events.len());
        for ev in &page.events {
            let i = *index.entry(ev.chat_id.as_str()).or_insert_with(|| {
                chats.push(PageChat::new(ev));
                chats.len() - 1
            });
            if let Some(c) = chats.get_mut(i) {
                c.observe(ev);
            }
            chat_of_event.push(i);
        }

        let mut outcome = IngestOutcome::default();
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            if p.backend() == Backend::Postgres {
                // A page and its cursor commit together, so losing the last few commits in a
                // PostgreSQL crash only means fetching those pages again: no need to wait for
                // the WAL flush. (Outbox transitions keep full durability.)
                sqlx::query("SET LOCAL synchronous_commit TO OFF")
                    .execute(&mut *tx)
                    .await?;
            }
            let (workspace_id, sla_urgent, sla_high, sla_normal, lead): (i64, i64, i64, i64, i64) =
                sqlx::query_as(
                    "SELECT a.workspace_id, w.sla_urgent_ms, w.sla_high_ms, w.sla_normal_ms, \
                     w.escalation_lead_ms FROM accounts a \
                     JOIN workspaces w ON w.id = a.workspace_id WHERE a.id = $1",
                )
                .bind(account_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::not_found("account"))?;
            let sla = crate::triage::sla_from_ms(sla_urgent, sla_high, sla_normal);
            let lead = crate::triage::millis(lead);

            // 1. Resolve (or create) every chat of the page.
            let mut existing: HashMap<String, ExistingChat> = HashMap::new();
            for chunk in chats.chunks(CHUNK) {
                let mut q = sqlx::query_as::<_, ExistingChat>(sql(
                    &SELECT_CHATS,
                    chunk.len(),
                    p.backend(),
                )?)
                .bind(account_id);
                for c in chunk {
                    q = q.bind(c.wb_chat_id);
                }
                for row in q.fetch_all(&mut *tx).await? {
                    existing.insert(row.wb_chat_id.clone(), row);
                }
            }
            // Chats first seen in this page are created with one multi-row statement per
            // chunk; a chat created concurrently by another writer comes back without a row
            // and is read instead.
            let fresh: Vec<usize> = (0..chats.len())
                .filter(|i| {
                    chats
                        .get(*i)
                        .is_some_and(|c| !existing.contains_key(c.wb_chat_id))
                })
                .collect();
            let mut created: HashMap<String, i64> = HashMap::new();
            for chunk in fresh.chunks(CHUNK) {
                let mut q = sqlx::query_as::<_, (i64, String)>(sql(
                    &INSERT_CHATS,
                    chunk.len(),
                    p.backend(),
                )?);
                for i in chunk {
                    let Some(chat) = chats.get(*i) else { continue };
                    let card = chat.good_card;
                    q = q
                        .bind(workspace_id)
                        .bind(account_id)
                        .bind(chat.wb_chat_id)
                        .bind(chat.reply_sign.map(|(_, s)| s.as_str()))
                        .bind(chat.client_name)
                        .bind(card.and_then(|c| c.nm_id))
                        .bind(card.and_then(|c| c.rid.as_deref()))
                        .bind(card.and_then(|c| c.price))
                        .bind(card.and_then(|c| c.price_currency.as_deref()))
                        .bind(card.and_then(|c| c.size.as_deref()))
                        .bind(now)
                        .bind(chat.reply_sign.map(|(at, _)| at));
                }
                created.extend(
                    q.fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .map(|(id, wb)| (wb, id)),
                );
            }
            for i in fresh {
                let Some(chat) = chats.get_mut(i) else {
                    continue;
                };
                if let Some(id) = created.get(chat.wb_chat_id) {
                    chat.row_id = *id;
                    outcome.chats_created += 1;
                } else {
                    let theirs =
                        sqlx::query_as::<_, ExistingChat>(sql(&SELECT_CHATS, 1, p.backend())?)
                            .bind(account_id)
                            .bind(chat.wb_chat_id)
                            .fetch_one(&mut *tx)
                            .await?;
                    existing.insert(theirs.wb_chat_id.clone(), theirs);
                }
            }
            for chat in &mut chats {
                let sign = chat.reply_sign.map(|(_, s)| s.as_str());
                let sign_at = chat.reply_sign.map(|(at, _)| at);
                let card = chat.good_card;
                let found = existing.remove(chat.wb_chat_id);
                if let Some(e) = found {
                    chat.row_id = e.id;
                    chat.last_read_at = e.last_read_at;
                    chat.pre = Some(e.pre());
                    // A signature from an event older than the one we hold (a backfill, or
                    // /chats was merged since) must not replace a newer one.
                    let newer = match (sign_at, e.reply_sign_at) {
                        (Some(new), Some(held)) => new > held,
                        _ => true,
                    };
                    let new_sign = sign.filter(|s| newer && e.reply_sign.as_deref() != Some(*s));
                    let new_name = chat
                        .client_name
                        .filter(|n| e.client_name.as_deref() != Some(*n));
                    let fill_card = card.is_some() && !e.has_card();
                    if new_sign.is_some() || new_name.is_some() || fill_card {
                        sqlx::query(ENRICH_CHAT)
                            .bind(e.id)
                            .bind(new_sign)
                            .bind(new_name)
                            .bind(fill_card)
                            .bind(card.and_then(|c| c.nm_id))
                            .bind(card.and_then(|c| c.rid.as_deref()))
                            .bind(card.and_then(|c| c.price))
                            .bind(card.and_then(|c| c.price_currency.as_deref()))
                            .bind(card.and_then(|c| c.size.as_deref()))
                            .bind(sign_at)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }

            // 2. Insert the messages; duplicates (earlier pages, or earlier in this page) are
            // no-ops and come back without a row.
            let mut new_ids: HashMap<String, i64> = HashMap::new();
            let events: Vec<(&NewMessage, usize)> = page
                .events
                .iter()
                .zip(chat_of_event.iter().copied())
                .collect();
            for chunk in events.chunks(CHUNK) {
                let mut q = sqlx::query_as::<_, (i64, String)>(sql(
                    &INSERT_MESSAGES,
                    chunk.len(),
                    p.backend(),
                )?);
                for (ev, ci) in chunk {
                    let chat_row = chats.get(*ci).map_or(0, |c| c.row_id);
                    q = q
                        .bind(workspace_id)
                        .bind(account_id)
                        .bind(chat_row)
                        .bind(ev.event_id.as_str())
                        .bind(ev.sender.as_str())
                        .bind(ev.source.as_str())
                        .bind(ev.text.as_str())
                        .bind(ev.add_timestamp_ms)
                        .bind(ev.sender.is_platform())
                        .bind(now);
                }
                for (id, event_id) in q.fetch_all(&mut *tx).await? {
                    new_ids.insert(event_id, id);
                }
            }
            let mut attachments = Vec::new();
            for (ev, ci) in &events {
                // The first occurrence of an inserted event is the one stored.
                let Some(message_id) = new_ids.remove(ev.event_id.as_str()) else {
                    outcome.duplicates += 1;
                    continue;
                };
                outcome.inserted += 1;
                if let Some(chat) = chats.get_mut(*ci) {
                    chat.count_inserted(ev);
                }
                attachments.extend(ev.attachments.iter().map(|a| (message_id, a)));
            }
            for chunk in attachments.chunks(CHUNK) {
                let mut q = sqlx::query(sql(&INSERT_ATTACHMENTS, chunk.len(), p.backend())?);
                for (message_id, a) in chunk {
                    q = q
                        .bind(workspace_id)
                        .bind(*message_id)
                        .bind(a.kind.as_str())
                        .bind(a.download_id.as_ref().map(|d| d.as_str()))
                        .bind(a.name.as_deref())
                        .bind(a.content_type.as_deref())
                        .bind(a.size)
                        .bind(a.url.as_deref());
                }
                q.execute(&mut *tx).await?;
            }

            // 3. Chat summaries: last message, last buyer message, unread count, waiting since.
            let touched: Vec<(&PageChat<'_>, i64, &str)> = chats
                .iter()
                .filter_map(|c| c.last.map(|(at, text)| (c, at, text)))
                .collect();
            let mut waits: HashMap<i64, Option<i64>> = HashMap::new();
            for chunk in touched.chunks(CHUNK) {
                let mut q = sqlx::query_as::<_, (i64, Option<i64>)>(sql(
                    &UPDATE_SUMMARIES,
                    chunk.len(),
                    p.backend(),
                )?);
                for (c, last_at, last_text) in chunk {
                    q = q
                        .bind(c.row_id)
                        .bind(*last_at)
                        .bind(*last_text)
                        .bind(c.last_buyer.is_some())
                        .bind(c.last_buyer.unwrap_or(0))
                        .bind(c.unread_inc)
                        .bind(c.last_seller.is_some())
                        .bind(c.last_seller.unwrap_or(0))
                        .bind(c.waiting_from());
                }
                waits.extend(q.fetch_all(&mut *tx).await?);
            }

            // 4. Triage: priority, review window, deadline, escalation; answered waits.
            let mut updates = Vec::new();
            let mut responses = Vec::new();
            for (c, _, _) in &touched {
                let new_wait = waits.get(&c.row_id).copied().flatten();
                let (update, answered) = triage_chat(c, new_wait, &sla, lead);
                let unchanged = c.pre.as_ref().is_some_and(|pre| {
                    pre.priority == Some(update.priority)
                        && pre.triage == update.triage
                        && pre.review_opened_at == update.review_opened_at
                        && pre.review_replied_at == update.review_replied_at
                        && pre.snoozed_until == update.snoozed_until
                        && pre.due_at == update.due_at
                        && pre.next_escalation_at == update.next_escalation_at
                });
                if !unchanged {
                    updates.push(update);
                }
                responses.extend(answered);
            }
            for chunk in updates.chunks(CHUNK) {
                let mut q = sqlx::query(sql(&UPDATE_TRIAGE, chunk.len(), p.backend())?);
                for u in chunk {
                    q = q
                        .bind(u.chat)
                        .bind(u.priority.as_str())
                        .bind(u.triage.as_deref())
                        .bind(u.review_opened_at)
                        .bind(u.review_replied_at)
                        .bind(u.snoozed_until)
                        .bind(u.due_at)
                        .bind(u.queue_at)
                        .bind(u.next_escalation_at);
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in responses.chunks(CHUNK) {
                let mut q = sqlx::query(sql(&INSERT_RESPONSES, chunk.len(), p.backend())?);
                for r in chunk {
                    q = q
                        .bind(workspace_id)
                        .bind(account_id)
                        .bind(r.chat)
                        .bind(r.waiting_since)
                        .bind(r.answered_at)
                        .bind(r.priority.as_str())
                        .bind(r.due_at)
                        .bind(r.review);
                }
                q.execute(&mut *tx).await?;
            }

            // 5. The cursor, in the same transaction as the messages it covers.
            let done = sqlx::query(ADVANCE_CURSOR)
                .bind(account_id)
                .bind(page.next_cursor)
                .bind(outcome.inserted > 0)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("sync state"));
            }
            tx.commit().await?;
        });
        Ok(outcome)
    }
}
