//! Triage in the store: priorities and deadlines kept by ingest, the urgency order, the
//! 72-hour review window, override, snooze, answered waits and the escalation work list.

use domain::triage::deadline::ms;
use domain::{AccountId, Intent, Priority, Sender, Sla, WorkspaceId};
use store::{ChatFilter, Store};

use super::support::{Must, TestDb};
use super::{chat_id, ev, fixture, new_chat_ev, page, raw_exec, raw_i64};
use crate::both_backends;

const H: i64 = 3_600_000;
const T0: i64 = 1_800_000_000_000;

both_backends!(
    deadlines_order_the_inbox,
    review_window_starts_at_the_buyers_reply,
    override_and_snooze_move_a_chat,
    answered_waits_are_recorded_once,
    escalation_work_list,
);

/// Chat `n` of the fixture's account, as stored.
async fn stored(store: &Store, ws: WorkspaceId, account: AccountId, n: u32) -> store::Chat {
    store
        .find_chat_by_wb_id(ws, account, &chat_id(n))
        .await
        .must("find")
        .must("chat")
}

async fn ids_in_order(store: &Store, ws: domain::WorkspaceId) -> Vec<String> {
    store
        .list_chats(ws, &ChatFilter::default())
        .await
        .must("list")
        .into_iter()
        .map(|c| c.chat_id.as_str().to_owned())
        .collect()
}

const REVIEW: &str = "Покупатель оставил отзыв с оценкой 2 из 5 на товар 123: «Шов разошёлся». \
                      Отзыв будет опубликован через 72 часа.";

async fn seed(store: &Store, account: domain::AccountId) {
    store
        .ingest_page(
            account,
            &page(
                vec![
                    // 1: delivery question → high, due T0 + 4 h.
                    new_chat_ev(1, "d1", T0, "где мой заказ уже неделю жду"),
                    // 2: a defect → urgent, due T0 + 2 h + 1 h.
                    new_chat_ev(2, "b1", T0 + 2 * H, "пришла куртка с дыркой на рукаве"),
                    // 3: thanks → normal, due T0 - 10 h + 24 h.
                    new_chat_ev(3, "c1", T0 - 10 * H, "спасибо большое все пришло"),
                    // 4: WB's template, then the buyer → urgent, waiting since the template.
                    ev(4, "r1", Sender::Wb, T0 + 5 * H / 2, REVIEW),
                    ev(
                        4,
                        "r2",
                        Sender::Client,
                        T0 + 26 * H / 10,
                        "размер не подошел",
                    ),
                    // 5: asked and answered → not waiting.
                    new_chat_ev(5, "e1", T0 - 20 * H, "подскажите размер"),
                    ev(
                        5,
                        "e2",
                        Sender::Seller,
                        T0 - 19 * H,
                        "Добрый день! Размер M.",
                    ),
                ],
                1,
            ),
        )
        .await
        .must("ingest");
}

async fn deadlines_order_the_inbox(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    seed(&store, account).await;
    let chat = |n: u32| stored(&store, ws, account, n);
    let one = chat(1).await;
    assert_eq!(one.priority, Priority::High);
    assert_eq!(one.due_at_ms, Some(T0 + 4 * H));
    let note = one.triage.must("triage note");
    assert_eq!(note.intent, Some(Intent::Delivery));
    assert_eq!(note.reasons[0].rule, "priority_order_question");
    assert!(note.reasons.len() >= 2, "{note:?}");
    let two = chat(2).await;
    assert_eq!(
        (two.priority, two.due_at_ms),
        (Priority::Urgent, Some(T0 + 3 * H))
    );
    let three = chat(3).await;
    assert_eq!(
        (three.priority, three.due_at_ms),
        (Priority::Normal, Some(T0 + 14 * H))
    );
    let five = chat(5).await;
    assert_eq!((five.due_at_ms, five.queue_at_ms), (None, None));
    // Least time left first; the answered chat last.
    let order = ids_in_order(&store, ws).await;
    let expect: Vec<String> = [2, 4, 1, 3, 5]
        .iter()
        .map(|n| chat_id(*n).as_str().to_owned())
        .collect();
    assert_eq!(order, expect);
    // The urgent filter: waiting urgent chats only.
    let urgent = store
        .list_chats(
            ws,
            &ChatFilter {
                urgent_only: true,
                ..ChatFilter::default()
            },
        )
        .await
        .must("urgent");
    assert_eq!(urgent.len(), 2);

    // A second buyer message in chat 1 with a complaint makes it urgent from the same start.
    store
        .ingest_page(
            account,
            &page(
                vec![ev(
                    1,
                    "d2",
                    Sender::Client,
                    T0 + H,
                    "ВЕРНИТЕ ДЕНЬГИ!!! обманщики",
                )],
                2,
            ),
        )
        .await
        .must("second");
    let one = chat(1).await;
    assert_eq!(one.priority, Priority::Urgent);
    assert_eq!(one.due_at_ms, Some(T0 + H));
    assert_eq!(ids_in_order(&store, ws).await[0], chat_id(1).as_str());

    // The seller answers: it leaves the queue, keeping its triage note.
    store
        .ingest_page(
            account,
            &page(
                vec![ev(1, "d3", Sender::Seller, T0 + 2 * H, "Оформим возврат")],
                3,
            ),
        )
        .await
        .must("answer");
    let one = chat(1).await;
    assert_eq!((one.due_at_ms, one.queue_at_ms), (None, None));
    assert!(one.triage.is_some());

    // A shorter SLA for the workspace applies to every waiting chat.
    sqlx_free_set_sla(&db, ws, 30 * 60_000).await;
    store.reschedule_workspace(ws).await.must("reschedule");
    assert_eq!(chat(2).await.due_at_ms, Some(T0 + 2 * H + H / 2));
    assert_eq!(chat(1).await.due_at_ms, None);
}

async fn sqlx_free_set_sla(db: &TestDb, ws: domain::WorkspaceId, urgent_ms: i64) {
    raw_exec(
        db,
        &format!(
            "UPDATE workspaces SET sla_urgent_ms = {urgent_ms} WHERE id = {}",
            ws.get()
        ),
    )
    .await;
}

async fn review_window_starts_at_the_buyers_reply(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    // WB's template alone: urgent, waiting since it, window not started.
    store
        .ingest_page(account, &page(vec![ev(4, "r1", Sender::Wb, T0, REVIEW)], 1))
        .await
        .must("template");
    let c = stored(&store, ws, account, 4).await;
    let review = c.review.must("review window");
    assert_eq!(review.opened_at_ms, T0);
    assert_eq!(review.closes_at_ms(), None);
    assert_eq!(c.priority, Priority::Urgent);
    assert_eq!(c.awaiting_since_ms, Some(T0));
    assert_eq!(c.due_at_ms, Some(T0 + H));
    assert_eq!(
        c.triage.must("note").reasons[0].rule,
        "priority_wb_negative_review"
    );
    // The seller writes first; then the buyer replies: the 72 h start at the buyer's reply.
    store
        .ingest_page(
            account,
            &page(
                vec![
                    ev(
                        4,
                        "r2",
                        Sender::Seller,
                        T0 + H / 2,
                        "Здравствуйте! Что случилось?",
                    ),
                    ev(4, "r3", Sender::Client, T0 + 5 * H, "спасибо, все хорошо"),
                ],
                2,
            ),
        )
        .await
        .must("reply");
    let c = stored(&store, ws, account, 4).await;
    let review = c.review.must("review window");
    assert_eq!(review.buyer_replied_at_ms, Some(T0 + 5 * H));
    assert_eq!(review.closes_at_ms(), Some(T0 + 77 * H));
    // Thanks in a review chat is still urgent, and the buyer's message explains it.
    assert_eq!(c.priority, Priority::Urgent);
    let note = c.triage.clone().must("note");
    assert_eq!(note.intent, Some(Intent::Thanks));
    assert_eq!(note.reasons[0].rule, "priority_wb_negative_review");
    assert_eq!(c.due_at_ms, Some(T0 + 6 * H));
    // The first wait (from the template) was answered in 30 minutes, within the hour.
    assert_eq!(
        raw_i64(
            &db,
            "SELECT COUNT(*) FROM responses WHERE review AND answered_at - waiting_since = 1800000 \
             AND answered_at <= due_at"
        )
        .await,
        1
    );
}

async fn override_and_snooze_move_a_chat(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    seed(&store, account).await;
    let id = |n: u32| {
        let store = &store;
        async move { stored(store, ws, account, n).await.id }
    };
    // Chat 3 (thanks, normal) made urgent: due 1 h after its message, first in line.
    let three = store
        .set_priority_override(ws, id(3).await, Some(Priority::Urgent))
        .await
        .must("override");
    assert_eq!(three.effective_priority(), Priority::Urgent);
    assert_eq!(three.priority, Priority::Normal);
    assert_eq!(three.due_at_ms, Some(T0 - 9 * H));
    assert_eq!(ids_in_order(&store, ws).await[0], chat_id(3).as_str());
    // Back to automatic.
    let three = store
        .set_priority_override(ws, id(3).await, None)
        .await
        .must("clear");
    assert_eq!(three.due_at_ms, Some(T0 + 14 * H));

    // Chat 2 snoozed until T0 + 10 h: its deadline stays, its place moves behind chat 1.
    let two = store
        .snooze_chat(ws, id(2).await, Some(T0 + 10 * H))
        .await
        .must("snooze");
    assert_eq!(two.due_at_ms, Some(T0 + 3 * H));
    assert_eq!(two.queue_at_ms, Some(T0 + 10 * H));
    let order = ids_in_order(&store, ws).await;
    let pos = |n: u32| order.iter().position(|c| c == chat_id(n).as_str());
    assert!(pos(1) < pos(2) && pos(2) < pos(3), "{order:?}");
    // A new buyer message ends the snooze.
    store
        .ingest_page(
            account,
            &page(vec![ev(2, "b2", Sender::Client, T0 + 4 * H, "ау")], 2),
        )
        .await
        .must("buyer again");
    let two = stored(&store, ws, account, 2).await;
    assert_eq!(two.snoozed_until_ms, None);
    assert_eq!(two.queue_at_ms, Some(T0 + 3 * H));

    // Another workspace cannot touch this chat.
    let other = store.create_workspace("Чужой").await.must("ws");
    let err = store
        .snooze_chat(other, two.id, Some(T0))
        .await
        .expect_err("foreign chat");
    assert!(err.is_not_found(), "{err}");
}

async fn answered_waits_are_recorded_once(db: TestDb) {
    let store = db.store().await;
    let (_ws, account) = fixture(&store).await;
    seed(&store, account).await;
    // Chat 5 was asked and answered within one page; chat 4's template waits.
    assert_eq!(raw_i64(&db, "SELECT COUNT(*) FROM responses").await, 1);
    assert_eq!(
        raw_i64(&db, "SELECT answered_at - waiting_since FROM responses").await,
        H
    );
    // Replies across pages, and the same page again: one more row, not two.
    let reply = page(
        vec![ev(1, "d9", Sender::Seller, T0 + H / 4, "Заказ в пути")],
        2,
    );
    store.ingest_page(account, &reply).await.must("reply");
    store.ingest_page(account, &reply).await.must("again");
    assert_eq!(raw_i64(&db, "SELECT COUNT(*) FROM responses").await, 2);
    assert_eq!(
        raw_i64(
            &db,
            "SELECT due_at - waiting_since FROM responses WHERE answered_at - waiting_since = 900000"
        )
        .await,
        ms(Sla::default().high)
    );
}

async fn escalation_work_list(db: TestDb) {
    let store = db.store().await;
    let (_ws, account) = fixture(&store).await;
    seed(&store, account).await;
    // Chat 4 (new review) is due at once: its template's time; chat 2 warns at T0 + 3 h - 15 min.
    let due = store
        .due_escalations(T0 + 2 * H + 45 * 60_000, 100)
        .await
        .must("due");
    let mut chats: Vec<_> = due.iter().map(|d| d.chat).collect();
    chats.dedup();
    assert!(due.len() >= 2, "{due:?}");
    let review = due.iter().find(|d| d.review.is_some()).must("review chat");
    assert_eq!(review.next_escalation_at_ms, T0 + 5 * H / 2);
    // Moving the look only works from the value seen.
    assert!(
        store
            .set_next_escalation(review.chat, review.next_escalation_at_ms, None)
            .await
            .must("move")
    );
    assert!(
        !store
            .set_next_escalation(review.chat, review.next_escalation_at_ms, Some(1))
            .await
            .must("stale")
    );
    let again = store
        .due_escalations(T0 + 2 * H + 45 * 60_000, 100)
        .await
        .must("due");
    assert!(again.iter().all(|d| d.chat != review.chat));
}
