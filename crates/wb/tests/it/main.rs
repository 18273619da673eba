//! The `wb` client against the real sandbox over loopback: every operation, every error path
//! and every fault kind. The sandbox is a dev-dependency only; the crates share no types.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use domain::{DownloadId, ReplySign};
use sandbox::{FaultSpec, RateLimit, Running, Sandbox, SandboxConfig};
use wb::{
    ApiToken, Client, ClientConfig, Download, Event, OutgoingFile, Quota, RateBudget, RetryConfig,
    Sender, WbError,
};

const T1: &str = "it-seller-one";
const T2: &str = "it-seller-two";

const JPEG: &[u8] = include_bytes!("../../../sandbox/assets/buyer-photo.jpg");
const PDF: &[u8] = include_bytes!("../../../sandbox/assets/buyer-receipt.pdf");

fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        tokens: vec![T1.into(), T2.into()],
        chats: 5,
        seed: 42,
        page_size: 4,
        rate_limit: None,
        timeout_hold: Duration::from_secs(3),
        ..SandboxConfig::default()
    }
}

async fn start(config: SandboxConfig) -> Running {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    sandbox::start(Sandbox::new(config), addr)
        .await
        .expect("sandbox starts")
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(2),
    }
}

fn client_with(sb: &Running, token: &str, retry: RetryConfig, timeout: Duration) -> Client {
    let mut config = ClientConfig::new(ApiToken::new(token));
    config.base_url = sb.url();
    config.retry = retry;
    config.timeout = timeout;
    let quota = Quota::per_second(std::num::NonZeroU32::new(1000).expect("non-zero"));
    Client::new(config, RateBudget::new(quota, 0)).expect("client")
}

fn client(sb: &Running, token: &str) -> Client {
    client_with(sb, token, fast_retry(), Duration::from_secs(5))
}

async fn all_events(c: &Client) -> Vec<Event> {
    let mut pager = c.events_all(None);
    let mut out = Vec::new();
    while let Some(page) = pager.next_page().await {
        out.extend(page.expect("page").events);
    }
    out
}

/// The sandbox's request counts for one route, by outcome.
fn stats(sb: &Running, route: &str) -> BTreeMap<String, u64> {
    sb.sandbox.stats().get(route).cloned().unwrap_or_default()
}

fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}

async fn ground_truth(sb: &Running, token: &str, chat_id: &str) -> Vec<serde_json::Value> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/_sandbox/chats/{chat_id}/messages", sb.url()))
        .header("Authorization", token)
        .send()
        .await
        .expect("ground truth")
        .json()
        .await
        .expect("json");
    body["messages"].as_array().cloned().unwrap_or_default()
}

fn first_sign(events: &[Event]) -> ReplySign {
    events
        .iter()
        .find_map(|e| e.reply_sign.clone())
        .expect("a new-chat event carries a replySign")
}

#[tokio::test]
async fn reads_every_chat_and_event_with_wb_types() {
    let sb = start(sandbox_config()).await;
    let c = client(&sb, T1);
    let chats = c.chats().await.expect("chats");
    assert_eq!(chats.chats.len(), 5);
    for chat in &chats.chats {
        assert!(chat.chat_id.is_some() && chat.reply_sign.is_some());
        let card = chat.good_card.as_ref().expect("goodCard");
        assert!(card.nm_id.is_some() && card.rid.is_some() && card.price.is_some());
        assert!(chat.last_message.is_some());
    }
    let events = all_events(&c).await;
    let ids: HashSet<_> = events.iter().filter_map(|e| e.event_id.clone()).collect();
    assert_eq!(ids.len(), events.len(), "no duplicates without the fault");
    let new_chats = events
        .iter()
        .filter(|e| e.is_new_chat == Some(true))
        .count();
    assert_eq!(new_chats, 5);
    assert!(events.iter().any(|e| e.sender == Some(Sender::Wb)));
    let has_image = events.iter().any(|e| {
        e.message
            .as_ref()
            .and_then(|m| m.attachments.as_ref())
            .is_some_and(|a| !a.images.is_empty())
    });
    let has_pdf = events.iter().any(|e| {
        e.message
            .as_ref()
            .and_then(|m| m.attachments.as_ref())
            .is_some_and(|a| {
                a.files
                    .iter()
                    .any(|f| f.content_type.as_deref() == Some("application/pdf"))
            })
    });
    assert!(has_image && has_pdf);
    // The other seller's feed is its own.
    let other = all_events(&client(&sb, T2)).await;
    let other_ids: HashSet<_> = other.iter().filter_map(|e| e.event_id.clone()).collect();
    assert!(ids.is_disjoint(&other_ids));
}

#[tokio::test]
async fn sends_text_and_files_that_come_back_as_seller_events() {
    let sb = start(sandbox_config()).await;
    let c = client(&sb, T1);
    let before = all_events(&c).await;
    let cursor = before.last().and_then(|e| e.add_timestamp);
    let sign = first_sign(&before);
    let sent = c
        .send_message(
            &sign,
            Some("Здравствуйте! Заказ 1234567890 отправлен."),
            vec![],
        )
        .await
        .expect("sent");
    assert!(sent.add_time.is_some() && sent.chat_id.is_some());
    let files = vec![
        OutgoingFile {
            name: "фото.jpg".into(),
            content_type: "image/jpeg".into(),
            bytes: Bytes::from_static(JPEG),
        },
        OutgoingFile {
            name: "накладная.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: Bytes::from_static(PDF),
        },
    ];
    c.send_message(&sign, Some("Фото и накладная"), files)
        .await
        .expect("files sent");
    let page = c.events(cursor).await.expect("new events");
    assert_eq!(page.events.len(), 2);
    for e in &page.events {
        assert_eq!(e.sender, Some(Sender::Seller));
        assert_eq!(e.source, Some(wb::MessageSource::SellerPublicApi));
    }
    let att = page.events[1]
        .message
        .as_ref()
        .and_then(|m| m.attachments.clone())
        .expect("files");
    let image_id = att.images[0].download_id.clone().expect("image id");
    match c.download(&image_id).await.expect("download") {
        Download::Ready {
            bytes,
            content_type,
        } => {
            assert_eq!(&bytes[..], JPEG);
            assert_eq!(content_type.as_deref(), Some("image/jpeg"));
        }
        other => panic!("expected the image, got {other:?}"),
    }
}

#[tokio::test]
async fn downloads_pending_then_ready_and_blocked_is_typed() {
    let sb = start(sandbox_config()).await;
    let c = client(&sb, T1);
    let events = all_events(&c).await;
    let pdf_id = events
        .iter()
        .filter_map(|e| e.message.as_ref()?.attachments.as_ref())
        .flat_map(|a| a.files.iter())
        .find_map(|f| f.download_id.clone())
        .expect("a seeded PDF");
    match c.download(&pdf_id).await.expect("first answer") {
        Download::Pending {
            retry_after,
            moderation_state,
        } => {
            assert_eq!(moderation_state, "pending");
            assert!(retry_after >= Duration::from_secs(1));
        }
        other => panic!("expected 202 pending, got {other:?}"),
    }
    assert!(matches!(
        c.download(&pdf_id).await,
        Ok(Download::Ready { .. })
    ));
    let unknown = DownloadId::parse("no-such-file").expect("id");
    assert!(matches!(
        c.download(&unknown).await,
        Err(WbError::BadRequest(_))
    ));

    // A buyer file moderation blocked: 451, typed, not retried.
    let chat_id = events[0].chat_id.clone().expect("chat");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let event: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/_sandbox/chats/{chat_id}/buyer-messages", sb.url()))
        .header("Authorization", T1)
        .json(&serde_json::json!({"text": "вот", "attachments": [{"kind": "file", "moderation": "blocked"}]}))
        .send()
        .await
        .expect("buyer message")
        .json()
        .await
        .expect("json");
    let blocked = event["message"]["attachments"]["files"][0]["downloadID"]
        .as_str()
        .and_then(|s| DownloadId::parse(s).ok())
        .expect("file id");
    let before = total(&stats(&sb, "GET /api/v1/seller/download/{id}"));
    let err = c.download(&blocked).await.expect_err("blocked");
    assert!(
        matches!(err, WbError::UnavailableForLegalReasons(_)),
        "{err:?}"
    );
    assert_eq!(
        total(&stats(&sb, "GET /api/v1/seller/download/{id}")),
        before + 1
    );
}

#[tokio::test]
async fn moderation_rejections_are_final_bad_requests_with_wb_reason() {
    let sb = start(sandbox_config()).await;
    let c = client(&sb, T1);
    let sign = first_sign(&all_events(&c).await);
    for (text, reason) in [
        ("Пишите на shop@mail.ru", "e-mail"),
        ("Звоните +7 (999) 123-45-67", "phone"),
        ("Каталог на shop.ru", "link"),
        ("Напишите в Telegram", "messenger"),
    ] {
        match c.send_message(&sign, Some(text), vec![]).await {
            Err(WbError::BadRequest(body)) => {
                let detail = body.detail.clone().unwrap_or_default();
                assert!(detail.contains(reason), "{text}: {detail}");
                assert!(body.request_id.is_some());
            }
            other => panic!("{text}: expected 400, got {other:?}"),
        }
    }
    let exe = OutgoingFile {
        name: "photo.jpg".into(),
        content_type: "image/jpeg".into(),
        bytes: Bytes::from_static(b"MZ\x90\x00 not an image"),
    };
    assert!(matches!(
        c.send_message(&sign, None, vec![exe]).await,
        Err(WbError::BadRequest(_))
    ));
    let stranger = ReplySign::parse("1:not-a-chat:1:ab").expect("sign");
    assert!(matches!(
        c.send_message(&stranger, Some("Здравствуйте"), vec![])
            .await,
        Err(WbError::BadRequest(_))
    ));
    // Rejected locally, before any request: WB would refuse it anyway.
    let sent_before = total(&stats(&sb, "POST /api/v1/seller/message"));
    let long = "я".repeat(1001);
    assert!(matches!(
        c.send_message(&sign, Some(&long), vec![]).await,
        Err(WbError::InvalidInput(_))
    ));
    assert_eq!(
        total(&stats(&sb, "POST /api/v1/seller/message")),
        sent_before
    );
    // Nothing rejected reached the buyer.
    let chat_id = c
        .chats()
        .await
        .expect("chats")
        .chats
        .iter()
        .find(|ch| ch.reply_sign.as_ref() == Some(&sign))
        .and_then(|ch| ch.chat_id.clone())
        .expect("chat");
    let truth = ground_truth(&sb, T1, chat_id.as_str()).await;
    assert!(
        truth
            .iter()
            .all(|m| m["sender"] != "seller" || m["source"] != "seller-public-api")
    );
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_everywhere_and_never_retried() {
    let sb = start(sandbox_config()).await;
    let good = client(&sb, T1);
    let sign = first_sign(&all_events(&good).await);
    let bad = client(&sb, "revoked-token");
    assert!(matches!(bad.chats().await, Err(WbError::Unauthorized(_))));
    assert!(matches!(
        bad.events(None).await,
        Err(WbError::Unauthorized(_))
    ));
    assert!(matches!(
        bad.send_message(&sign, Some("Здравствуйте"), vec![]).await,
        Err(WbError::Unauthorized(_))
    ));
    let id = DownloadId::parse("x").expect("id");
    let err = bad.download(&id).await.expect_err("401");
    assert!(err.is_auth() && !err.is_transient());
    let unauthorized: u64 = sb
        .sandbox
        .stats()
        .values()
        .filter_map(|m| m.get("401"))
        .sum();
    assert_eq!(unauthorized, 4, "one request per call, no retries");
    assert!(
        !format!("{bad:?} {err}").contains("revoked-token"),
        "the token never shows"
    );
}

#[tokio::test]
async fn wb_rate_limit_is_a_typed_error_with_the_retry_delay() {
    let sb = start(SandboxConfig {
        rate_limit: Some(RateLimit {
            burst: 2,
            period: Duration::from_secs(60),
        }),
        ..sandbox_config()
    })
    .await;
    let c = client(&sb, T1);
    c.chats().await.expect("1");
    c.chats().await.expect("2");
    // WB asks for ~30 s, more than this client sleeps through inside a call.
    match c.chats().await {
        Err(WbError::RateLimited { retry_after }) => {
            assert!(retry_after >= Duration::from_secs(2), "{retry_after:?}");
        }
        other => panic!("expected 429, got {other:?}"),
    }
    // The budget holds every call of this token off for WB's delay.
    assert!(c.budget().try_acquire(wb::Priority::Send).is_err());
}

#[tokio::test]
async fn a_client_budget_within_wb_limits_never_sees_429() {
    let sb = start(SandboxConfig {
        rate_limit: Some(RateLimit {
            burst: 10,
            period: Duration::from_secs(1),
        }),
        ..sandbox_config()
    })
    .await;
    let mut config = ClientConfig::new(ApiToken::new(T1));
    config.base_url = sb.url();
    config.retry = fast_retry();
    // Stricter than the sandbox: 5 per second, burst 5.
    let quota = Quota::per_second(std::num::NonZeroU32::new(5).expect("non-zero"));
    let c = Client::new(config, RateBudget::new(quota, 1)).expect("client");
    for _ in 0..15 {
        c.events(None).await.expect("within the limit");
    }
    let counts = stats(&sb, "GET /api/v1/seller/events");
    assert_eq!(counts.get("200"), Some(&15));
    assert_eq!(counts.get("429"), None);
    // The client waited for its own bucket instead of running into WB's.
    let waits = c.budget().wait_stats();
    assert!(
        waits.waits >= 5 && waits.waited > Duration::ZERO,
        "{waits:?}"
    );
}

#[tokio::test]
async fn fault_5xx_gets_are_retried_posts_are_not() {
    let sb = start(sandbox_config()).await;
    let c = client(&sb, T1);
    let sign = first_sign(&all_events(&c).await);
    sb.sandbox.set_faults("5xx".parse().expect("spec"));
    let err = c.chats().await.expect_err("always 5xx");
    assert!(matches!(err, WbError::Server { .. }) && err.is_transient());
    let chats = stats(&sb, "GET /api/v1/seller/chats");
    assert_eq!(total(&chats), 3, "max_attempts requests: {chats:?}");
    let err = c
        .send_message(&sign, Some("Здравствуйте"), vec![])
        .await
        .expect_err("5xx");
    assert!(matches!(err, WbError::Server { .. }));
    assert_eq!(
        total(&stats(&sb, "POST /api/v1/seller/message")),
        1,
        "never retried"
    );

    // Transient: a GET that meets a 5xx and then a healthy WB succeeds within one call.
    sb.sandbox.set_faults("5xx=0.5".parse().expect("spec"));
    let patient = client_with(
        &sb,
        T1,
        RetryConfig {
            max_attempts: 30,
            ..fast_retry()
        },
        Duration::from_secs(5),
    );
    for _ in 0..5 {
        patient.events(None).await.expect("eventually succeeds");
    }
    let events = stats(&sb, "GET /api/v1/seller/events");
    assert!(
        events.keys().any(|k| k.starts_with('5')),
        "faults fired: {events:?}"
    );
}

#[tokio::test]
async fn fault_429_is_honoured_and_then_succeeds() {
    let sb = start(sandbox_config()).await;
    let c = client(&sb, T1);
    sb.sandbox.set_faults("429=0.5".parse().expect("spec"));
    let patient = client_with(
        &sb,
        T1,
        RetryConfig {
            max_attempts: 30,
            ..fast_retry()
        },
        Duration::from_secs(5),
    );
    patient.chats().await.expect("retried past 429s");
    sb.sandbox.set_faults("429".parse().expect("spec"));
    match c.events(None).await {
        Err(WbError::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Duration::from_secs(1))
        }
        other => panic!("expected 429, got {other:?}"),
    }
}

#[tokio::test]
async fn fault_timeout_get_retried_post_ambiguous_and_not_carried_out() {
    let sb = start(sandbox_config()).await;
    let c = client_with(&sb, T1, fast_retry(), Duration::from_millis(400));
    let events = all_events(&c).await;
    let sign = first_sign(&events);
    let chat_id = events
        .iter()
        .find(|e| e.reply_sign.as_ref() == Some(&sign))
        .and_then(|e| e.chat_id.clone())
        .expect("chat");
    let truth_before = ground_truth(&sb, T1, chat_id.as_str()).await.len();
    sb.sandbox.set_faults("timeout".parse().expect("spec"));
    let err = c.events(None).await.expect_err("timeout");
    assert!(matches!(err, WbError::Timeout { .. }) && err.is_transient());
    assert_eq!(
        stats(&sb, "GET /api/v1/seller/events").get("timeout"),
        Some(&3)
    );
    let err = c
        .send_message(&sign, Some("Здравствуйте"), vec![])
        .await
        .expect_err("timeout");
    assert!(err.is_ambiguous(), "the outbox must resolve it: {err:?}");
    assert_eq!(
        stats(&sb, "POST /api/v1/seller/message").get("timeout"),
        Some(&1)
    );
    sb.sandbox.set_faults(FaultSpec::none());
    assert_eq!(
        ground_truth(&sb, T1, chat_id.as_str()).await.len(),
        truth_before
    );
}

#[tokio::test]
async fn fault_drop_after_commit_post_is_ambiguous_but_delivered_once() {
    let sb = start(sandbox_config()).await;
    let c = client(&sb, T1);
    let events = all_events(&c).await;
    let sign = first_sign(&events);
    let chat_id = events
        .iter()
        .find(|e| e.reply_sign.as_ref() == Some(&sign))
        .and_then(|e| e.chat_id.clone())
        .expect("chat");
    sb.sandbox
        .set_faults("drop_after_commit".parse().expect("spec"));
    let err = c
        .send_message(&sign, Some("Ответ, который дошёл"), vec![])
        .await
        .expect_err("reset");
    assert!(
        matches!(
            err,
            WbError::Network {
                maybe_sent: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_ambiguous());
    // A GET meeting a reset is retried; it fails only because every attempt is reset.
    assert!(c.chats().await.is_err());
    assert_eq!(
        stats(&sb, "GET /api/v1/seller/chats").get("reset"),
        Some(&3)
    );
    sb.sandbox.set_faults(FaultSpec::none());
    let truth = ground_truth(&sb, T1, chat_id.as_str()).await;
    let delivered = truth
        .iter()
        .filter(|m| m["text"] == "Ответ, который дошёл")
        .count();
    assert_eq!(delivered, 1, "carried out exactly once although unanswered");
}

#[tokio::test]
async fn fault_duplicate_events_pages_still_cover_everything() {
    let sb = start(sandbox_config()).await;
    let c = client(&sb, T1);
    let clean: Vec<_> = all_events(&c)
        .await
        .into_iter()
        .filter_map(|e| e.event_id)
        .collect();
    sb.sandbox
        .set_faults("duplicate_events".parse().expect("spec"));
    let noisy: Vec<_> = all_events(&c)
        .await
        .into_iter()
        .filter_map(|e| e.event_id)
        .collect();
    assert!(noisy.len() > clean.len(), "duplicates were served");
    let unique: HashSet<_> = noisy.iter().cloned().collect();
    assert_eq!(unique, clean.into_iter().collect::<HashSet<_>>());
}

#[tokio::test]
async fn fault_empty_chats_while_events_have_data() {
    let sb = start(sandbox_config()).await;
    let c = client(&sb, T1);
    sb.sandbox.set_faults("empty_chats".parse().expect("spec"));
    assert!(c.chats().await.expect("chats").chats.is_empty());
    assert!(!all_events(&c).await.is_empty());
}

#[tokio::test]
async fn unreachable_wb_is_a_network_error_that_was_never_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let mut config = ClientConfig::new(ApiToken::new(T1));
    config.base_url = format!("http://{addr}");
    config.retry = fast_retry();
    let c = Client::new(config, RateBudget::default()).expect("client");
    let sign = ReplySign::parse("1:a:1:ab").expect("sign");
    let err = c
        .send_message(&sign, Some("Здравствуйте"), vec![])
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            WbError::Network {
                maybe_sent: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        !err.is_ambiguous(),
        "a refused connection provably did not send"
    );
}
