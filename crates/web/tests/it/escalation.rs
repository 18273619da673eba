//! Triage end to end, with a controllable clock instead of sleeps: sandbox chats of each kind
//! (a WB negative-review template followed by the buyer's reply among them) are synced; the
//! inbox order, deadlines, reasons and the 72-hour window are checked through the API; then the
//! clock moves past the urgent deadlines and the escalation scanner and webhook sender run —
//! each breach reaches a signed webhook exactly once, however often they run. Answering a chat
//! takes it out of the queue and into the analytics.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::Clock;
use sync::webhook;

use super::{Must, MustSome, TOKEN_A, TestApp, spawn_app_at};

const MIN: i64 = 60_000;
const H: i64 = 60 * MIN;
const SECRET: &str = "webhook-secret-for-tests-0123456789";

/// What the receiving end saw: (type, chat id, delivery id) of each validly signed POST.
#[derive(Default)]
struct Received {
    posts: Vec<(String, i64, String)>,
    bad_signatures: usize,
}

async fn receive(
    State(seen): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let ts: i64 = header("x-agentiq-timestamp").parse().unwrap_or(0);
    let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    if webhook::sign(SECRET, ts, &body) != header("x-agentiq-signature") {
        seen.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    seen.posts.push((
        json["type"].as_str().unwrap_or_default().to_owned(),
        json["chat"]["id"].as_i64().unwrap_or(0),
        header("x-agentiq-delivery"),
    ));
    StatusCode::OK
}

async fn receiver() -> (String, Arc<Mutex<Received>>) {
    let seen = Arc::new(Mutex::new(Received::default()));
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0".parse::<SocketAddr>().must("addr"))
        .await
        .must("bind receiver");
    let url = format!("http://{}/hook", listener.local_addr().must("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

impl TestApp {
    async fn sandbox_post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.sandbox.url()))
            .bearer_auth(TOKEN_A)
            .json(&body)
            .send()
            .await
            .must("sandbox request");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.must("sandbox json")
    }

    /// A new sandbox chat whose buyer writes `texts`; returns WB's chat id.
    async fn buyer_chat(&self, name: &str, texts: &[&str]) -> String {
        let chat = self
            .sandbox_post("/_sandbox/chats", json!({"clientName": name}))
            .await;
        let id = chat["chatID"].as_str().must_some("chatID").to_owned();
        for t in texts {
            self.sandbox_post(
                &format!("/_sandbox/chats/{id}/buyer-messages"),
                json!({"text": t}),
            )
            .await;
        }
        id
    }

    /// The inbox as A's API lists it.
    async fn inbox(&self) -> Vec<Value> {
        let r = self.get("/api/v1/chats?limit=200", Some(&self.key_a)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json["chats"].as_array().must_some("chats").clone()
    }
}

fn by_wb_id<'a>(chats: &'a [Value], wb: &str) -> &'a Value {
    chats
        .iter()
        .find(|c| c["chatId"] == wb)
        .must_some("the chat")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_order_the_inbox_and_each_breach_fires_the_webhook_once() {
    let clock = Clock::manual(0);
    let app = spawn_app_at(|_| {}, clock.clone(), 0).await;
    let account = app.connected_account(&app.key_a, TOKEN_A).await;
    let (hook_url, seen) = receiver().await;
    let r = app
        .send(
            app.http
                .put(format!("{}/api/v1/settings/triage", app.base))
                .bearer_auth(&app.key_a)
                .json(&json!({
                    "slaMinutes": {"urgent": 60, "high": 240, "normal": 1440},
                    "escalationLeadMinutes": 15,
                    "webhookUrl": hook_url,
                    "webhookSecret": SECRET,
                })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Chats of each kind, in this order.
    let delivery = app
        .buyer_chat("Доставка", &["добрый день где мой заказ уже неделю жду"])
        .await;
    let defect = app
        .buyer_chat("Брак", &["пришла куртка с дыркой на рукаве 😡"])
        .await;
    let thanks = app
        .buyer_chat("Спасибо", &["спасибо большое все пришло, очень довольна"])
        .await;
    let question = app
        .buyer_chat("Вопрос", &["подскажите какой размер взять на рост 170"])
        .await;
    let review = app
        .sandbox_post(
            "/_sandbox/reviews",
            json!({"clientName": "Отзыв", "rating": 2, "text": "Шов разошёлся после стирки"}),
        )
        .await;
    let review = review["chatID"]
        .as_str()
        .must_some("review chat")
        .to_owned();
    let reply = app
        .sandbox_post(
            &format!("/_sandbox/chats/{review}/buyer-messages"),
            json!({"text": "да, хочу заменить товар"}),
        )
        .await;
    let replied_at = reply["addTimestamp"]
        .as_i64()
        .or_else(|| reply["event"]["addTimestamp"].as_i64())
        .must_some("reply time");
    app.sync(account).await;

    // The clock starts just after the last message.
    let t0 = replied_at + 1_000;
    clock.set(t0);
    let chats = app.inbox().await;
    // Each chat's deadline and reasons.
    let expect = [
        (&defect, "urgent", Some("defect_damage"), H),
        (&review, "urgent", None, H),
        (&delivery, "high", Some("delivery"), 4 * H),
        (&question, "high", Some("pre_purchase"), 4 * H),
        (&thanks, "normal", Some("thanks"), 24 * H),
    ];
    for (wb, priority, intent, sla) in expect {
        let c = by_wb_id(&chats, wb);
        let t = &c["triage"];
        assert_eq!(t["priority"], priority, "{c}");
        if let Some(intent) = intent {
            assert_eq!(t["intent"], intent, "{c}");
        }
        assert!(!t["reasons"].as_array().must_some("reasons").is_empty());
        let since = c["waitingSince"].as_i64().must_some("waiting");
        assert_eq!(t["dueAt"].as_i64(), Some(since + sla), "{c}");
        assert_eq!(t["timeLeftMs"].as_i64(), Some(since + sla - t0));
        assert_eq!(t["standing"], "on_time");
    }
    // The review chat: urgent because WB opened it; the 72 h start at the buyer's reply.
    let rc = by_wb_id(&chats, &review);
    assert_eq!(
        rc["triage"]["reasons"][0]["rule"],
        "priority_wb_negative_review"
    );
    assert_eq!(
        rc["triage"]["review"]["buyerRepliedAt"].as_i64(),
        Some(replied_at)
    );
    assert_eq!(
        rc["triage"]["review"]["closesAt"].as_i64(),
        Some(replied_at + 72 * H)
    );
    // Inbox order: least time left first.
    let order: Vec<&str> = chats
        .iter()
        .map(|c| c["chatId"].as_str().unwrap_or_default())
        .collect();
    let want: Vec<&str> = [&defect, &review, &delivery, &question, &thanks]
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(order, want);

    // Scanning now: only the new negative-review chat is news.
    let http = webhook::http_client().must("http");
    let policy = webhook::DeliveryPolicy::default();
    let fired = sync::escalation::escalate_due(&app.store, t0)
        .await
        .must("scan");
    let kinds: Vec<&str> = fired
        .fired
        .iter()
        .map(|f| f.notification.kind.as_str())
        .collect();
    assert_eq!(kinds, ["negative_review"]);
    webhook::deliver_due(&app.store, &http, t0, &policy)
        .await
        .must("deliver");

    // 50 minutes on: the two urgent chats are due within 15 minutes.
    clock.set(t0 + 50 * MIN);
    let fired = sync::escalation::escalate_due(&app.store, clock.now_ms())
        .await
        .must("scan");
    assert_eq!(fired.fired.len(), 2, "{fired:?}");
    assert!(
        fired
            .fired
            .iter()
            .all(|f| f.notification.kind.as_str() == "due_soon")
    );
    let chats = app.inbox().await;
    assert_eq!(by_wb_id(&chats, &defect)["triage"]["standing"], "due_soon");

    // An hour and a minute on: both urgent chats are breached; scanning and delivering again
    // and again changes nothing more.
    clock.set(t0 + 61 * MIN);
    for _ in 0..3 {
        sync::escalation::escalate_due(&app.store, clock.now_ms())
            .await
            .must("scan");
        webhook::deliver_due(&app.store, &http, clock.now_ms(), &policy)
            .await
            .must("deliver");
    }
    clock.set(t0 + 3 * H);
    sync::escalation::escalate_due(&app.store, clock.now_ms())
        .await
        .must("scan");
    webhook::deliver_due(&app.store, &http, clock.now_ms(), &policy)
        .await
        .must("deliver");

    let chats = app.inbox().await;
    let id_of = |wb: &str| by_wb_id(&chats, wb)["id"].as_i64().must_some("id");
    let (posts, bad_signatures) = {
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        (seen.posts.clone(), seen.bad_signatures)
    };
    assert_eq!(bad_signatures, 0);
    let mut count: HashMap<(String, i64), usize> = HashMap::new();
    for (kind, chat, _) in &posts {
        *count.entry((kind.clone(), *chat)).or_default() += 1;
    }
    assert!(count.values().all(|n| *n == 1), "{count:?}");
    for wb in [&defect, &review] {
        assert_eq!(
            count.get(&("chat.breached".to_owned(), id_of(wb))),
            Some(&1),
            "{count:?}"
        );
        assert_eq!(
            count.get(&("chat.due_soon".to_owned(), id_of(wb))),
            Some(&1)
        );
    }
    assert_eq!(
        count.get(&("chat.negative_review".to_owned(), id_of(&review))),
        Some(&1)
    );
    // The high-priority chats were due at +4 h: not yet warned at +3 h.
    assert!(!count.contains_key(&("chat.due_soon".to_owned(), id_of(&delivery))));
    assert_eq!(posts.len(), 5, "{posts:?}");

    // Breached chats are marked, in the API and in the inbox page's rows.
    let d = by_wb_id(&chats, &defect);
    assert_eq!(d["triage"]["standing"], "breached");
    assert!(d["triage"]["timeLeftMs"].as_i64().is_some_and(|t| t < 0));
    let notes = app.get("/api/v1/notifications", Some(&app.key_a)).await;
    assert_eq!(notes.json["unread"].as_i64(), Some(5), "{}", notes.text);

    // Snoozing the delivery question past its deadline holds its warning back.
    let delivery_id = id_of(&delivery);
    let r = app
        .send(
            app.http
                .put(format!("{}/api/v1/chats/{delivery_id}/snooze", app.base))
                .bearer_auth(&app.key_a)
                .json(&json!({"until": t0 + 6 * H})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["triage"]["standing"], "snoozed");
    clock.set(t0 + 5 * H);
    let fired = sync::escalation::escalate_due(&app.store, clock.now_ms())
        .await
        .must("scan");
    assert!(
        fired
            .fired
            .iter()
            .all(|f| f.notification.chat_id.get() != delivery_id),
        "{fired:?}"
    );
    // After the snooze it is breached and escalated once.
    clock.set(t0 + 6 * H + MIN);
    let fired = sync::escalation::escalate_due(&app.store, clock.now_ms())
        .await
        .must("scan");
    assert!(fired.fired.iter().any(|f| {
        f.notification.chat_id.get() == delivery_id && f.notification.kind.as_str() == "breached"
    }));

    // Answering the defect chat takes it out of the queue and into the analytics.
    let stop = tokio_util::sync::CancellationToken::new();
    let outbox = tokio::spawn(Arc::clone(&app.engine).run_outbox(stop.clone()));
    let defect_id = id_of(&defect);
    let r = app
        .post_json(
            &format!("/api/v1/chats/{defect_id}/messages"),
            &app.key_a,
            &json!({"text": "Здравствуйте! Очень жаль, заменим куртку за наш счёт."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let mut answered = false;
    for _ in 0..100 {
        app.sync(account).await;
        let chats = app.inbox().await;
        if by_wb_id(&chats, &defect)["triage"]["dueAt"].is_null() {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    let _ = outbox.await;
    assert!(answered, "the reply never came back from the sandbox");
    let chats = app.inbox().await;
    assert_eq!(by_wb_id(&chats, &defect)["triage"]["standing"], "answered");
    assert_ne!(chats[0]["chatId"], defect.as_str());
    let a = app.get("/api/v1/analytics", Some(&app.key_a)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json["totals"]["answered"].as_i64(), Some(1), "{}", a.text);
}
