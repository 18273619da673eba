//! Storing a page of WB events: the central write of the sync engine.
//!
//! [`Store::ingest_page`] runs in one transaction (on SQLite a `BEGIN IMMEDIATE` one): it
//! creates the chats the events name (events are the source of truth; `/chats` only enriches),
//! keeps the newest `replySign` and the buyer's name, inserts each message with `ON CONFLICT
//! (account_id, event_id) DO NOTHING` so a repeated event — in the same page or any earlier one
//! — is counted and skipped, stores attachments only for messages inserted now, updates each
//! chat's last message, last buyer message, unread count and the time it has waited for a
//! seller reply since (`awaiting_since`, see `UPDATE_SUMMARIES`), and advances the account's
//! cursor. Any error rolls all of it back, so the cursor never runs ahead of the messages.
//!
//! Speed: a page costs a handful of statements whatever its size — one lookup of all its
//! chats, one multi-row insert of its messages, one of their attachments, one update of the
//! chat summaries (`UPDATE … FROM (VALUES …)`), one for the cursor — plus one insert per new
//! chat. Multi-row statements are built once per row count (up to [`CHUNK`]) and stay prepared
//! on each connection.

use std::collections::HashMap;
use std::sync::LazyLock;

use domain::{AccountId, GoodCard, ReplySign, Sender};

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
    /// Buyer messages inserted now: their times, for the waiting start (see
    /// [`PageChat::waiting_from`]).
    buyer_times: Vec<i64>,
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
}

impl ExistingChat {
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
             price_currency, size, last_read_at FROM chats \
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
             FROM (VALUES {}) AS v WHERE chats.id = v.column1",
            tuples(n, 9, ph)
        )
    })
});

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
            let workspace_id: i64 =
                sqlx::query_scalar("SELECT workspace_id FROM accounts WHERE id = $1")
                    .bind(account_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::not_found("account"))?;

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
            for chunk in touched.chunks(CHUNK) {
                let mut q = sqlx::query(sql(&UPDATE_SUMMARIES, chunk.len(), p.backend())?);
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
                q.execute(&mut *tx).await?;
            }

            // 4. The cursor, in the same transaction as the messages it covers.
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
