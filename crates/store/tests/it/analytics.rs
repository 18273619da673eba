//! Response analytics: first-response percentiles, SLA share, breaches, review chats and the
//! open queue, per workspace, account and Moscow day, with numbers worked out by hand.

use std::collections::HashMap;

use domain::{AccountId, ChatId, ChatRowId, Priority, Sender, WorkspaceId};
use store::{
    Analytics, AnalyticsQuery, ChatFilter, MOSCOW_UTC_OFFSET_MINUTES, NewResponse, QueueBucket,
    ResponseStats, ReviewStats, Secret, Store, StoreError,
};

use crate::support::{Must, TestDb};
use crate::{TOKEN, chat_id, ev, fixture, new_chat_ev, page};

crate::both_backends!(
    analytics_by_account_day_and_queue,
    ingested_replies_are_counted,
);

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// 2026-03-01 00:00 in Moscow (2026-02-28 21:00 UTC).
const D0: i64 = 1_772_312_400_000;
/// "Now" for the queue: the end of the period.
const NOW: i64 = D0 + 3 * DAY;

/// Chat row ids of a workspace by WB chat id.
async fn chat_rows(store: &Store, ws: WorkspaceId) -> HashMap<ChatId, ChatRowId> {
    store
        .list_chats(ws, &ChatFilter::default())
        .await
        .must("chats")
        .into_iter()
        .map(|c| (c.chat_id, c.id))
        .collect()
}

/// The triage columns of one chat, written straight to the database (ingest maintains them in
/// the app; here they are set to exactly what the test needs).
#[derive(Default)]
struct ChatState {
    priority: &'static str,
    priority_override: Option<&'static str>,
    due_at: Option<i64>,
    snoozed_until: Option<i64>,
    review_opened_at: Option<i64>,
}

async fn set_chat(db: &TestDb, chat: ChatRowId, s: ChatState) {
    const SQL: &str = "UPDATE chats SET priority = $2, priority_override = $3, due_at = $4, \
         snoozed_until = $5, review_opened_at = $6 WHERE id = $1";
    let priority = if s.priority.is_empty() {
        "normal"
    } else {
        s.priority
    };
    macro_rules! run {
        ($pool:expr) => {{
            let pool = $pool;
            sqlx::query(SQL)
                .bind(chat.get())
                .bind(priority)
                .bind(s.priority_override)
                .bind(s.due_at)
                .bind(s.snoozed_until)
                .bind(s.review_opened_at)
                .execute(&pool)
                .await
                .must("update chat");
            pool.close().await;
        }};
    }
    if db.is_postgres() {
        run!(sqlx::PgPool::connect(&db.url).await.must("raw pg"));
    } else {
        run!(sqlx::SqlitePool::connect(&db.url).await.must("raw sqlite"));
    }
}

fn response(chat: ChatRowId, since: i64, took: i64, due: Option<i64>, review: bool) -> NewResponse {
    NewResponse {
        chat_id: chat,
        waiting_since_ms: since,
        answered_at_ms: since + took,
        priority: if review {
            Priority::Urgent
        } else {
            Priority::Normal
        },
        due_at_ms: due,
        review,
    }
}

fn query(account: Option<AccountId>) -> AnalyticsQuery {
    AnalyticsQuery {
        from_ms: D0,
        to_ms: D0 + 3 * DAY,
        account,
        now_ms: NOW,
        utc_offset_minutes: MOSCOW_UTC_OFFSET_MINUTES,
    }
}

fn stats(
    answered: u64,
    median_min: i64,
    p90_min: i64,
    within: f64,
    breaches: u64,
) -> ResponseStats {
    ResponseStats {
        answered,
        median_ms: Some(median_min * MIN),
        p90_ms: Some(p90_min * MIN),
        within_sla: Some(within),
        breaches,
    }
}

fn bucket(priority: Priority, waiting: u64, breached: u64, snoozed: u64) -> QueueBucket {
    QueueBucket {
        priority,
        waiting,
        breached,
        snoozed,
    }
}

async fn analytics_by_account_day_and_queue(db: TestDb) {
    let store = db.store().await;
    let (ws, a1) = fixture(&store).await;
    let a2 = store
        .create_account(ws, "Второй", &Secret::new(TOKEN), None)
        .await
        .must("a2");
    for (account, chats) in [(a1, &[1u32, 2, 6, 7][..]), (a2, &[3, 4, 5])] {
        let events = chats
            .iter()
            .map(|&n| new_chat_ev(n, &format!("e{n}"), D0 - DAY, "Здравствуйте"))
            .collect();
        store
            .ingest_page(account, &page(events, 10))
            .await
            .must("ingest");
    }
    let rows = chat_rows(&store, ws).await;
    let c = |n: u32| rows[&chat_id(n)];

    // Account 1: 10 min (in time), 30 min (late), 120 min without a deadline on 03-02 at
    // 01:00 Moscow — still 03-01 in UTC — and two waits outside the period.
    for r in [
        response(c(1), D0 + HOUR, 10 * MIN, Some(D0 + 2 * HOUR), false),
        response(
            c(1),
            D0 + 5 * HOUR,
            30 * MIN,
            Some(D0 + 5 * HOUR + 20 * MIN),
            false,
        ),
        response(c(2), D0 + DAY + HOUR, 120 * MIN, None, false),
        response(c(2), D0 - HOUR, 5 * MIN, None, false),
        response(c(2), D0 + 3 * DAY, MIN, None, false),
    ] {
        store.record_response(ws, &r).await.must("record");
    }
    // Account 2: 60 min (in time); review chat 4: first review wait 50 min (in time), a later
    // one 180 min (late); review chat 5: 120 min (late).
    for r in [
        response(c(3), D0 + 3 * HOUR, 60 * MIN, Some(D0 + 7 * HOUR), false),
        response(c(4), D0 + 6 * HOUR, 50 * MIN, Some(D0 + 7 * HOUR), true),
        response(c(4), D0 + 9 * HOUR, 180 * MIN, Some(D0 + 10 * HOUR), true),
        response(c(5), D0 + 8 * HOUR, 120 * MIN, Some(D0 + 9 * HOUR), true),
    ] {
        store.record_response(ws, &r).await.must("record");
    }
    // Recording the same wait again changes nothing.
    store
        .record_response(
            ws,
            &response(c(1), D0 + HOUR, 10 * MIN, Some(D0 + 2 * HOUR), false),
        )
        .await
        .must("record twice");

    // Review chats: 4 and 5 (account 2), 6 (account 1, unanswered) in the period, 7 before it.
    // The queue now: 1 urgent by override and late, 5 urgent and late, 2 high and snoozed,
    // 3 normal with an expired snooze; 4 waits for nothing.
    let states = [
        (1, "normal", Some("urgent"), Some(NOW - HOUR), None, None),
        (
            2,
            "high",
            None,
            Some(NOW + HOUR),
            Some(NOW + 2 * HOUR),
            None,
        ),
        (
            3,
            "normal",
            None,
            Some(NOW + 5 * HOUR),
            Some(NOW - HOUR),
            None,
        ),
        (4, "urgent", None, None, None, Some(D0 + 6 * HOUR)),
        (
            5,
            "urgent",
            None,
            Some(NOW - 10 * MIN),
            None,
            Some(D0 + 8 * HOUR),
        ),
        (6, "urgent", None, None, None, Some(D0 + 20 * HOUR)),
        (7, "normal", None, None, None, Some(D0 - 2 * HOUR)),
    ];
    for (n, priority, priority_override, due_at, snoozed_until, review_opened_at) in states {
        set_chat(
            &db,
            c(n),
            ChatState {
                priority,
                priority_override,
                due_at,
                snoozed_until,
                review_opened_at,
            },
        )
        .await;
    }

    // Another workspace with one answered wait, one review chat and one late chat.
    let ws_b = store.create_workspace("B").await.must("ws b");
    let b1 = store
        .create_account(ws_b, "B main", &Secret::new(TOKEN), None)
        .await
        .must("b1");
    store
        .ingest_page(
            b1,
            &page(vec![new_chat_ev(1, "b1", D0 - DAY, "Привет")], 10),
        )
        .await
        .must("ingest b");
    let b_chat = chat_rows(&store, ws_b).await[&chat_id(1)];
    store
        .record_response(ws_b, &response(b_chat, D0 + HOUR, 300 * MIN, None, false))
        .await
        .must("record b");
    set_chat(
        &db,
        b_chat,
        ChatState {
            due_at: Some(NOW - HOUR),
            review_opened_at: Some(D0 + HOUR),
            ..ChatState::default()
        },
    )
    .await;

    // Workspace A, all accounts.
    let a = store.analytics(ws, &query(None)).await.must("analytics");
    // All seven waits: 10 30 50 60 120 120 180 → median the 4th, p90 the 7th; 4 in time.
    assert_eq!(a.totals, stats(7, 60, 180, 4.0 / 7.0, 3));
    assert_eq!(
        a.reviews,
        ReviewStats {
            opened: 3,
            answered_in_time: 1
        }
    );
    let accounts: Vec<_> = a
        .accounts
        .iter()
        .map(|x| (x.id, x.name.as_str(), x.responses, x.reviews))
        .collect();
    assert_eq!(
        accounts,
        vec![
            (
                a1,
                "WB main",
                stats(3, 30, 120, 2.0 / 3.0, 1),
                ReviewStats {
                    opened: 1,
                    answered_in_time: 0
                }
            ),
            (
                a2,
                "Второй",
                stats(4, 60, 180, 0.5, 2),
                ReviewStats {
                    opened: 2,
                    answered_in_time: 1
                }
            ),
        ]
    );
    let days: Vec<_> = a
        .days
        .iter()
        .map(|d| (d.date.as_str(), d.responses))
        .collect();
    assert_eq!(
        days,
        vec![
            ("2026-03-01", stats(6, 50, 180, 0.5, 3)),
            ("2026-03-02", stats(1, 120, 120, 1.0, 0)),
            ("2026-03-03", ResponseStats::default()),
        ]
    );
    assert_eq!(
        a.queue,
        vec![
            bucket(Priority::Urgent, 2, 2, 0),
            bucket(Priority::High, 1, 0, 1),
            bucket(Priority::Normal, 1, 0, 0),
        ]
    );

    // One account: only its numbers, its chats in the queue.
    let only = store.analytics(ws, &query(Some(a2))).await.must("a2 only");
    assert_eq!(only.totals, stats(4, 60, 180, 0.5, 2));
    assert_eq!(
        only.reviews,
        ReviewStats {
            opened: 2,
            answered_in_time: 1
        }
    );
    assert_eq!(only.accounts.iter().map(|x| x.id).collect::<Vec<_>>(), [a2]);
    assert_eq!(
        only.queue,
        vec![
            bucket(Priority::Urgent, 1, 1, 0),
            bucket(Priority::High, 0, 0, 0),
            bucket(Priority::Normal, 1, 0, 0),
        ]
    );

    // Workspace B sees only its own, and A's numbers did not move by B's rows.
    let b: Analytics = store.analytics(ws_b, &query(None)).await.must("b");
    assert_eq!(b.totals, stats(1, 300, 300, 1.0, 0));
    assert_eq!(
        b.reviews,
        ReviewStats {
            opened: 1,
            answered_in_time: 0
        }
    );
    assert_eq!(b.accounts.len(), 1);
    assert_eq!(
        b.queue,
        vec![
            bucket(Priority::Urgent, 0, 0, 0),
            bucket(Priority::High, 0, 0, 0),
            bucket(Priority::Normal, 1, 1, 0),
        ]
    );
    assert!(matches!(
        store.analytics(ws, &query(Some(b1))).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.analytics(ws_b, &query(Some(a1))).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store
            .record_response(ws, &response(b_chat, D0, MIN, None, false))
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // An empty period is refused; one without rows is all zeros.
    let empty = AnalyticsQuery {
        to_ms: D0,
        ..query(None)
    };
    assert!(matches!(
        store.analytics(ws, &empty).await,
        Err(StoreError::InvalidQuery(_))
    ));
    let quiet = AnalyticsQuery {
        from_ms: D0 - 30 * DAY,
        to_ms: D0 - 29 * DAY,
        ..query(None)
    };
    let q = store.analytics(ws, &quiet).await.must("quiet");
    assert_eq!(q.totals, ResponseStats::default());
    assert_eq!(q.days.len(), 1);
    assert_eq!(q.days[0].date, "2026-01-30");
}

/// The rows ingest writes itself: a buyer message on one page, the seller's reply on the next
/// is one answered wait; a question nobody answered yet is in the queue.
async fn ingested_replies_are_counted(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    let t = D0 + 2 * HOUR;
    store
        .ingest_page(
            account,
            &page(
                vec![
                    new_chat_ev(1, "e1", t, "Здравствуйте, где мой заказ?"),
                    new_chat_ev(2, "e2", t + MIN, "Подскажите размер"),
                ],
                t + MIN,
            ),
        )
        .await
        .must("buyer page");
    store
        .ingest_page(
            account,
            &page(
                vec![ev(
                    1,
                    "e3",
                    Sender::Seller,
                    t + 30 * MIN,
                    "Добрый день! Заказ в пути.",
                )],
                t + 30 * MIN,
            ),
        )
        .await
        .must("seller page");
    let now = t + 40 * MIN;
    let a = store
        .analytics(
            ws,
            &AnalyticsQuery {
                now_ms: now,
                ..query(None)
            },
        )
        .await
        .must("analytics");
    assert_eq!(a.totals, stats(1, 30, 30, 1.0, 0));
    assert_eq!(a.days[0].date, "2026-03-01");
    assert_eq!(a.days[0].responses.answered, 1);
    assert_eq!(a.accounts[0].responses.answered, 1);
    let waiting: u64 = a.queue.iter().map(|b| b.waiting).sum();
    let breached: u64 = a.queue.iter().map(|b| b.breached).sum();
    assert_eq!((waiting, breached), (1, 0), "{:?}", a.queue);
    // Ingesting the same pages again records nothing twice.
    store
        .ingest_page(
            account,
            &page(
                vec![ev(
                    1,
                    "e3",
                    Sender::Seller,
                    t + 30 * MIN,
                    "Добрый день! Заказ в пути.",
                )],
                t + 30 * MIN,
            ),
        )
        .await
        .must("seller page again");
    let again = store
        .analytics(
            ws,
            &AnalyticsQuery {
                now_ms: now,
                ..query(None)
            },
        )
        .await
        .must("analytics again");
    assert_eq!(again.totals.answered, 1);
}
