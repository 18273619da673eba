//! Webhook delivery over loopback: a real axum receiver that records each post and checks its
//! signature with the shared secret; time is moved by passing `now_ms`, never by sleeping.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use domain::{ChatId, ChatRowId, EventId, Sender, Sla, WorkspaceId};
use store::{ChatFilter, IngestPage, NewMessage, SecretKey, TriageSettingsUpdate, WebhookChange};

use super::*;

const SECRET: &str = "whsec-test-secret-16";
/// Escalations fire at this moment in every test.
const T0: i64 = 1_700_000_000_000;

trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T, E: std::fmt::Display> Must<T> for Result<T, E> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

impl<T> Must<T> for Option<T> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("{what}: None"),
        }
    }
}

/// One post as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
    signature_ok: bool,
}

/// The receiver's state: what it got, and the statuses to answer with (then 200).
#[derive(Debug, Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn hook(State(rx): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    // Verify as a receiver would, with the hmac crate directly.
    let timestamp = header(&headers, TIMESTAMP_HEADER);
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()) else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let signature_ok = header(&headers, SIGNATURE_HEADER) == format!("sha256={expected}");
    let answer = match rx.answers.lock() {
        Ok(mut a) => a.pop_front().unwrap_or(200),
        Err(_) => 200,
    };
    if let Ok(mut r) = rx.received.lock() {
        r.push(Received {
            headers,
            body,
            signature_ok,
        });
    }
    StatusCode::from_u16(answer).unwrap_or(StatusCode::OK)
}

/// A receiver on a loopback port; its URL.
async fn start_receiver(rx: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .must("bind");
    let addr = listener.local_addr().must("addr");
    let app = Router::new().route("/hook", post(hook)).with_state(rx);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/hook")
}

/// A store with one workspace, one chat and the webhook at `url`.
async fn setup(url: &str) -> (Store, WorkspaceId, ChatRowId, tempfile::TempDir) {
    let dir = tempfile::tempdir().must("temp dir");
    let db = format!("sqlite://{}", dir.path().join("hooks.db").display());
    let store = Store::open(&db, SecretKey::from_bytes([3; 32]))
        .await
        .must("store");
    let ws = store.create_workspace("Магазин").await.must("workspace");
    let account = store
        .create_account(ws, "WB", &Secret::new("token"), Some("http://127.0.0.1:9"))
        .await
        .must("account");
    let message = NewMessage {
        chat_id: ChatId::parse("1:chat-0001").must("chat id"),
        event_id: EventId::parse("e1").must("event id"),
        sender: Sender::Client,
        source: "android".to_owned(),
        text: "Товар пришёл сломанным".to_owned(),
        add_timestamp_ms: T0 - 3_600_000,
        is_new_chat: false,
        reply_sign: None,
        client_name: Some("Мария".to_owned()),
        good_card: None,
        attachments: Vec::new(),
    };
    store
        .ingest_page(
            account,
            &IngestPage {
                events: vec![message],
                next_cursor: T0,
            },
        )
        .await
        .must("ingest");
    let chat = store
        .list_chats(ws, &ChatFilter::default())
        .await
        .must("chats")
        .first()
        .must("one chat")
        .id;
    store
        .set_triage_settings(
            ws,
            &TriageSettingsUpdate {
                sla: Sla::default(),
                escalation_lead: domain::triage::deadline::DEFAULT_ESCALATION_LEAD,
                webhook: WebhookChange::Set {
                    url: url.to_owned(),
                    secret: Some(Secret::new(SECRET)),
                },
            },
        )
        .await
        .must("webhook");
    (store, ws, chat, dir)
}

async fn fire(store: &Store, chat: ChatRowId) -> domain::WebhookDeliveryId {
    store
        .fire_escalation(chat, EscalationKind::Breached, T0 - 1_000, T0, payload)
        .await
        .must("fire")
        .must("new escalation")
        .delivery
        .must("delivery queued")
}

#[test]
fn signature_matches_a_known_answer() {
    // Computed independently (Python's hmac module).
    assert_eq!(
        sign(SECRET, 1_700_000_000, r#"{"id":1}"#),
        "sha256=a8fdf99945deab6f9a4c3f68eccf0fad7c9e574929398c2c08c055ae513cd01a"
    );
}

#[test]
fn backoff_grows_then_stays_hourly() {
    let secs: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(secs, vec![10, 30, 120, 600, 1800, 3600, 3600, 3600]);
    assert_eq!(backoff(0).as_secs(), 10);
}

#[tokio::test]
async fn a_due_delivery_is_posted_once_signed() {
    let rx = Receiver::default();
    let url = start_receiver(rx.clone()).await;
    let (store, ws, chat, _dir) = setup(&url).await;
    let delivery = fire(&store, chat).await;
    let http = http_client().must("client");
    let policy = DeliveryPolicy::default();

    let stats = deliver_due(&store, &http, T0, &policy)
        .await
        .must("deliver");
    assert_eq!(
        stats,
        DeliveryStats {
            attempted: 1,
            delivered: 1,
            ..DeliveryStats::default()
        }
    );
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let post = &got[0];
    assert!(post.signature_ok, "{post:?}");
    assert_eq!(header(&post.headers, "content-type"), "application/json");
    assert_eq!(header(&post.headers, EVENT_HEADER), "chat.breached");
    assert_eq!(header(&post.headers, DELIVERY_HEADER), delivery.to_string());
    assert_eq!(
        header(&post.headers, TIMESTAMP_HEADER),
        (T0 / 1000).to_string()
    );
    let body: serde_json::Value = serde_json::from_str(&post.body).must("JSON body");
    assert_eq!(body["type"], "chat.breached");
    assert_eq!(body["occurredAt"], T0);
    assert_eq!(body["workspaceId"], ws.get());
    assert!(body["id"].as_i64().is_some_and(|id| id > 0));
    assert_eq!(body["chat"]["id"], chat.get());
    assert_eq!(body["chat"]["clientName"], "Мария");
    // «пришёл сломанным» is a defect: ingest made the chat urgent.
    assert_eq!(body["chat"]["priority"], "urgent");
    assert_eq!(
        body["chat"]["lastMessage"]["text"],
        "Товар пришёл сломанным"
    );
    assert!(body["chat"].get("dueAt").is_some());
    assert!(body["chat"]["reviewWindowClosesAt"].is_null());

    // Delivered: never posted again.
    let again = deliver_due(&store, &http, T0 + 3_600_000, &policy)
        .await
        .must("again");
    assert_eq!(again, DeliveryStats::default());
    assert_eq!(rx.received().len(), 1);
}

#[tokio::test]
async fn failures_are_retried_after_the_backoff() {
    let rx = Receiver::default();
    if let Ok(mut a) = rx.answers.lock() {
        a.extend([500, 503]);
    }
    let url = start_receiver(rx.clone()).await;
    let (store, _ws, chat, _dir) = setup(&url).await;
    let delivery = fire(&store, chat).await;
    let http = http_client().must("client");
    let policy = DeliveryPolicy::default();

    let first = deliver_due(&store, &http, T0, &policy).await.must("1st");
    assert_eq!((first.attempted, first.retrying), (1, 1));
    let pending = store.due_webhook_deliveries(i64::MAX, 10).await.must("due");
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(pending[0].next_attempt_at_ms, T0 + 10_000);
    assert_eq!(
        pending[0].last_error.as_deref(),
        Some("получатель ответил HTTP 500 Internal Server Error")
    );

    // Before the backoff has passed nothing is posted.
    let early = deliver_due(&store, &http, T0 + 9_999, &policy)
        .await
        .must("early");
    assert_eq!(early, DeliveryStats::default());
    assert_eq!(rx.received().len(), 1);

    let second = deliver_due(&store, &http, T0 + 10_000, &policy)
        .await
        .must("2nd");
    assert_eq!(second.retrying, 1);
    let t2 = T0 + 10_000 + 30_000;
    assert!(
        deliver_due(&store, &http, t2 - 1, &policy)
            .await
            .must("early 2")
            .attempted
            == 0
    );
    let third = deliver_due(&store, &http, t2, &policy).await.must("3rd");
    assert_eq!(third.delivered, 1);

    let got = rx.received();
    assert_eq!(got.len(), 3);
    for post in &got {
        assert!(post.signature_ok);
        assert_eq!(header(&post.headers, DELIVERY_HEADER), delivery.to_string());
        assert_eq!(post.body, got[0].body, "every attempt posts the same body");
    }
    assert!(
        store
            .due_webhook_deliveries(i64::MAX, 10)
            .await
            .must("none left")
            .is_empty()
    );
}

#[tokio::test]
async fn an_unreachable_receiver_is_recorded_and_given_up() {
    // A port that was just free: nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .must("bind");
    let url = format!("http://{}/hook", closed.local_addr().must("addr"));
    drop(closed);
    let (store, _ws, chat, _dir) = setup(&url).await;
    fire(&store, chat).await;
    let http = http_client().must("client");
    let policy = DeliveryPolicy {
        max_attempts: 2,
        ..DeliveryPolicy::default()
    };

    let first = deliver_due(&store, &http, T0, &policy).await.must("1st");
    assert_eq!(
        (first.attempted, first.retrying, first.delivered),
        (1, 1, 0)
    );
    let pending = store.due_webhook_deliveries(i64::MAX, 10).await.must("due");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 1);
    let error = pending[0].last_error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("не удалось соединиться с получателем"),
        "{error}"
    );

    let last = deliver_due(&store, &http, T0 + 10_000, &policy)
        .await
        .must("2nd");
    assert_eq!((last.attempted, last.failed), (1, 1));
    assert!(
        store
            .due_webhook_deliveries(i64::MAX, 10)
            .await
            .must("given up")
            .is_empty()
    );
}

#[tokio::test]
async fn the_loop_delivers_and_stops_on_cancel() {
    let rx = Receiver::default();
    let url = start_receiver(rx.clone()).await;
    let (store, _ws, chat, _dir) = setup(&url).await;
    fire(&store, chat).await;
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_webhooks(
        store.clone(),
        http_client().must("client"),
        || T0,
        Duration::from_millis(10),
        DeliveryPolicy::default(),
        stop.clone(),
    ));
    // Wait (bounded) for the post instead of sleeping a guessed time.
    for _ in 0..500 {
        if !rx.received().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rx.received().len(), 1);
    stop.cancel();
    task.await.must("loop ends");
}
