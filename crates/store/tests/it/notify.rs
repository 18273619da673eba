//! Escalations: each (chat, kind, key) notifies and queues a webhook delivery at most once;
//! notifications are per workspace; triage settings keep the webhook secret encrypted.

use std::time::Duration;

use domain::triage::EscalationKind;
use domain::{ChatRowId, Sla, WorkspaceId};
use store::{EscalationEvent, Secret, Store, StoreError, TriageSettingsUpdate, WebhookChange};

use crate::support::{Must, TestDb};
use crate::{fixture, new_chat_ev, only_chat, page, raw_bytes, raw_i64};

crate::both_backends!(
    firing_twice_notifies_and_posts_once,
    no_webhook_means_no_delivery,
    notifications_are_per_workspace,
    triage_settings_round_trip_with_encrypted_secret,
    delivery_attempts_back_off_and_give_up,
);

const HOOK_SECRET: &str = "whsec-0123456789abcdef";

/// A workspace with one account and one chat (from an ingested page).
async fn chat_fixture(store: &Store) -> (WorkspaceId, ChatRowId) {
    let (ws, account) = fixture(store).await;
    store
        .ingest_page(
            account,
            &page(vec![new_chat_ev(1, "n1", 1_000, "Где мой заказ?")], 1_001),
        )
        .await
        .must("ingest");
    (ws, only_chat(store, ws).await.id)
}

async fn set_webhook(store: &Store, ws: WorkspaceId, url: &str) {
    store
        .set_triage_settings(
            ws,
            &TriageSettingsUpdate {
                sla: Sla::default(),
                escalation_lead: Duration::from_secs(900),
                webhook: WebhookChange::Set {
                    url: url.to_owned(),
                    secret: Some(Secret::new(HOOK_SECRET)),
                },
            },
        )
        .await
        .must("set webhook");
}

fn body(e: &EscalationEvent) -> String {
    format!(
        "{{\"id\":{},\"type\":\"chat.{}\"}}",
        e.notification_id,
        e.kind.as_str()
    )
}

async fn firing_twice_notifies_and_posts_once(db: TestDb) {
    let store = db.store().await;
    let (ws, chat) = chat_fixture(&store).await;
    set_webhook(&store, ws, "http://127.0.0.1:9/hook").await;

    let fired = store
        .fire_escalation(chat, EscalationKind::Breached, 5_000, 6_000, body)
        .await
        .must("fire")
        .must("new escalation");
    assert_eq!(fired.notification.workspace_id, ws);
    assert_eq!(fired.notification.chat_id, chat);
    assert_eq!(fired.notification.kind, EscalationKind::Breached);
    assert_eq!(fired.notification.client_name.as_deref(), Some("Иван"));
    let delivery = fired.delivery.must("a delivery is queued");

    let again = store
        .fire_escalation(chat, EscalationKind::Breached, 5_000, 7_000, |_| {
            panic!("the payload is not built for a repeat")
        })
        .await
        .must("fire again");
    assert_eq!(again, None);
    assert_eq!(raw_i64(&db, "SELECT COUNT(*) FROM notifications").await, 1);
    assert_eq!(
        raw_i64(&db, "SELECT COUNT(*) FROM webhook_deliveries").await,
        1
    );

    // Another key, or another kind, is another escalation.
    let due_soon = store
        .fire_escalation(chat, EscalationKind::DueSoon, 5_000, 6_000, body)
        .await
        .must("due soon");
    assert!(due_soon.is_some());
    let later = store
        .fire_escalation(chat, EscalationKind::Breached, 9_000, 9_500, body)
        .await
        .must("new deadline");
    assert!(later.is_some());

    let due = store.due_webhook_deliveries(6_000, 10).await.must("due");
    assert_eq!(due.len(), 2, "{due:?}");
    let first = &due[0];
    assert_eq!(first.id, delivery);
    assert_eq!(first.notification_id, fired.notification.id);
    assert_eq!(first.kind, EscalationKind::Breached);
    assert_eq!(first.url, "http://127.0.0.1:9/hook");
    assert_eq!(
        first.body,
        format!(
            "{{\"id\":{},\"type\":\"chat.breached\"}}",
            fired.notification.id
        )
    );
    assert_eq!(first.attempts, 0);
    assert!(
        store
            .due_webhook_deliveries(5_999, 10)
            .await
            .must("early")
            .is_empty()
    );

    assert!(
        store
            .mark_delivery_delivered(delivery, 6_100)
            .await
            .must("delivered")
    );
    assert!(
        !store
            .mark_delivery_delivered(delivery, 6_200)
            .await
            .must("twice")
    );
    let due = store.due_webhook_deliveries(10_000, 10).await.must("due");
    assert!(due.iter().all(|d| d.id != delivery));

    let missing = ChatRowId::new(999_999).must("id");
    assert!(matches!(
        store
            .fire_escalation(missing, EscalationKind::Breached, 1, 1, body)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn no_webhook_means_no_delivery(db: TestDb) {
    let store = db.store().await;
    let (ws, chat) = chat_fixture(&store).await;
    let fired = store
        .fire_escalation(chat, EscalationKind::NegativeReview, 1_000, 2_000, |_| {
            panic!("no webhook, no payload")
        })
        .await
        .must("fire")
        .must("new");
    assert_eq!(fired.delivery, None);
    assert_eq!(store.unread_notification_count(ws).await.must("count"), 1);
    assert_eq!(
        raw_i64(&db, "SELECT COUNT(*) FROM webhook_deliveries").await,
        0
    );
    assert!(
        store
            .due_webhook_deliveries(i64::MAX, 10)
            .await
            .must("due")
            .is_empty()
    );
}

async fn notifications_are_per_workspace(db: TestDb) {
    let store = db.store().await;
    let (ws_a, chat) = chat_fixture(&store).await;
    let ws_b = store.create_workspace("Чужой").await.must("ws b");
    let mut ids = Vec::new();
    for (kind, key) in [
        (EscalationKind::NegativeReview, 1_000),
        (EscalationKind::DueSoon, 5_000),
        (EscalationKind::Breached, 5_000),
    ] {
        let fired = store
            .fire_escalation(chat, kind, key, key + 1, body)
            .await
            .must("fire")
            .must("new");
        ids.push(fired.notification.id);
    }

    let all = store.list_notifications(ws_a, false, 50).await.must("list");
    let listed: Vec<_> = all.iter().map(|n| n.id).collect();
    assert_eq!(listed, ids.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(all[0].kind, EscalationKind::Breached);
    assert_eq!(all[0].key_at_ms, 5_000);
    assert_eq!(all[0].created_at_ms, 5_001);
    assert_eq!(all[0].read_at_ms, None);
    assert_eq!(
        store
            .list_notifications(ws_a, false, 2)
            .await
            .must("page")
            .len(),
        2
    );

    // B sees nothing and cannot mark A's read.
    assert!(
        store
            .list_notifications(ws_b, false, 50)
            .await
            .must("b")
            .is_empty()
    );
    assert_eq!(store.unread_notification_count(ws_b).await.must("b"), 0);
    assert_eq!(
        store
            .mark_notifications_read(ws_b, ids[2])
            .await
            .must("b marks"),
        0
    );
    assert_eq!(store.unread_notification_count(ws_a).await.must("a"), 3);

    // A marks up to the second one.
    assert_eq!(
        store
            .mark_notifications_read(ws_a, ids[1])
            .await
            .must("mark"),
        2
    );
    assert_eq!(store.unread_notification_count(ws_a).await.must("a"), 1);
    let unread = store
        .list_notifications(ws_a, true, 50)
        .await
        .must("unread");
    assert_eq!(
        unread.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    let read = store.list_notifications(ws_a, false, 50).await.must("all");
    assert!(read[2].read_at_ms.is_some());
    assert!(read[1].read_at_ms.is_some());
}

async fn triage_settings_round_trip_with_encrypted_secret(db: TestDb) {
    let store = db.store().await;
    let (ws, _) = fixture(&store).await;

    let defaults = store.triage_settings(ws).await.must("defaults");
    assert_eq!(defaults.sla, Sla::default());
    assert_eq!(defaults.escalation_lead, Duration::from_secs(15 * 60));
    assert_eq!(defaults.webhook_url, None);
    assert!(!defaults.webhook_secret_set);
    assert_eq!(store.webhook_secret(ws).await.must("none"), None);

    // A URL without any secret is refused.
    let no_secret = store
        .set_triage_settings(
            ws,
            &TriageSettingsUpdate {
                sla: Sla::default(),
                escalation_lead: Duration::from_secs(900),
                webhook: WebhookChange::Set {
                    url: "https://hooks.example.ru/a".to_owned(),
                    secret: None,
                },
            },
        )
        .await;
    assert!(
        matches!(no_secret, Err(StoreError::Conflict(_))),
        "{no_secret:?}"
    );

    let sla = Sla {
        urgent: Duration::from_secs(30 * 60),
        high: Duration::from_secs(2 * 3600),
        normal: Duration::from_secs(8 * 3600),
    };
    store
        .set_triage_settings(
            ws,
            &TriageSettingsUpdate {
                sla,
                escalation_lead: Duration::from_secs(600),
                webhook: WebhookChange::Set {
                    url: "https://hooks.example.ru/a".to_owned(),
                    secret: Some(Secret::new(HOOK_SECRET)),
                },
            },
        )
        .await
        .must("set");
    let saved = store.triage_settings(ws).await.must("saved");
    assert_eq!(saved.sla, sla);
    assert_eq!(saved.escalation_lead, Duration::from_secs(600));
    assert_eq!(
        saved.webhook_url.as_deref(),
        Some("https://hooks.example.ru/a")
    );
    assert!(saved.webhook_secret_set);
    let secret = store.webhook_secret(ws).await.must("secret").must("set");
    assert_eq!(secret.expose(), HOOK_SECRET);

    // Not stored in clear.
    let ciphertext = raw_bytes(&db, "SELECT webhook_secret_ciphertext FROM workspaces").await;
    assert!(!ciphertext.is_empty());
    assert!(
        !ciphertext
            .windows(HOOK_SECRET.len())
            .any(|w| w == HOOK_SECRET.as_bytes())
    );
    // Under another key it does not decrypt.
    let other = db
        .store_with_key(store::SecretKey::from_bytes([7; 32]))
        .await;
    assert!(matches!(
        other.webhook_secret(ws).await,
        Err(StoreError::Crypto(_))
    ));

    // Keep: the webhook stays; a new URL alone keeps the secret.
    store
        .set_triage_settings(
            ws,
            &TriageSettingsUpdate {
                sla: Sla::default(),
                escalation_lead: Duration::from_secs(900),
                webhook: WebhookChange::Keep,
            },
        )
        .await
        .must("keep");
    let kept = store.triage_settings(ws).await.must("kept");
    assert_eq!(kept.sla, Sla::default());
    assert_eq!(
        kept.webhook_url.as_deref(),
        Some("https://hooks.example.ru/a")
    );
    store
        .set_triage_settings(
            ws,
            &TriageSettingsUpdate {
                sla: Sla::default(),
                escalation_lead: Duration::from_secs(900),
                webhook: WebhookChange::Set {
                    url: "https://hooks.example.ru/b".to_owned(),
                    secret: None,
                },
            },
        )
        .await
        .must("new url");
    let moved = store.triage_settings(ws).await.must("moved");
    assert_eq!(
        moved.webhook_url.as_deref(),
        Some("https://hooks.example.ru/b")
    );
    assert_eq!(
        store
            .webhook_secret(ws)
            .await
            .must("secret")
            .map(|s| s.expose().to_owned()),
        Some(HOOK_SECRET.to_owned())
    );

    // Clear: URL and secret are gone.
    store
        .set_triage_settings(
            ws,
            &TriageSettingsUpdate {
                sla: Sla::default(),
                escalation_lead: Duration::from_secs(900),
                webhook: WebhookChange::Clear,
            },
        )
        .await
        .must("clear");
    let cleared = store.triage_settings(ws).await.must("cleared");
    assert_eq!(cleared.webhook_url, None);
    assert!(!cleared.webhook_secret_set);
    assert_eq!(store.webhook_secret(ws).await.must("none"), None);

    let missing = WorkspaceId::new(999_999).must("id");
    assert!(store.triage_settings(missing).await.is_err());
}

async fn delivery_attempts_back_off_and_give_up(db: TestDb) {
    let store = db.store().await;
    let (ws, chat) = chat_fixture(&store).await;
    set_webhook(&store, ws, "http://127.0.0.1:9/a").await;
    let fired = store
        .fire_escalation(chat, EscalationKind::Breached, 5_000, 6_000, body)
        .await
        .must("fire")
        .must("new");
    let id = fired.delivery.must("delivery");

    assert!(
        store
            .mark_delivery_attempt_failed(id, 1, Some(16_000), "HTTP 500")
            .await
            .must("retry later")
    );
    assert!(
        store
            .due_webhook_deliveries(15_999, 10)
            .await
            .must("early")
            .is_empty()
    );
    let due = store.due_webhook_deliveries(16_000, 10).await.must("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].attempts, 1);
    assert_eq!(due[0].next_attempt_at_ms, 16_000);

    // A new URL moves the pending delivery and makes it due at once.
    set_webhook(&store, ws, "http://127.0.0.1:9/b").await;
    let due = store.due_webhook_deliveries(i64::MAX, 10).await.must("due");
    assert_eq!(due[0].url, "http://127.0.0.1:9/b");

    assert!(
        store
            .mark_delivery_attempt_failed(id, 10, None, "connection refused")
            .await
            .must("give up")
    );
    assert!(
        store
            .due_webhook_deliveries(i64::MAX, 10)
            .await
            .must("none")
            .is_empty()
    );
    assert_eq!(
        raw_i64(
            &db,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'failed' AND attempts = 10"
        )
        .await,
        1
    );
}
