//! Tests of [`Client`] against a `wiremock` server: status mapping, retries, the bare token,
//! multipart fields, paging and the rate budget.

use std::num::NonZeroU32;

use serde_json::json;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.test-secret-token";

fn roomy_budget() -> RateBudget {
    RateBudget::new(
        Quota::per_second(NonZeroU32::new(1000).expect("non-zero")),
        2,
    )
}

/// `burst` cells that do not refill during a test.
fn frozen_budget(burst: u32, reserve: u32) -> RateBudget {
    let quota = Quota::with_period(Duration::from_secs(3600))
        .expect("non-zero period")
        .allow_burst(NonZeroU32::new(burst).expect("non-zero burst"));
    RateBudget::new(quota, reserve)
}

fn config(server: &MockServer) -> ClientConfig {
    let mut c = ClientConfig::new(ApiToken::new(TOKEN));
    c.base_url = server.uri();
    // Generous: the machine running the tests may be busy. Timeout tests shorten it.
    c.timeout = Duration::from_secs(3);
    c.connect_timeout = Duration::from_secs(3);
    c.retry = RetryConfig {
        max_attempts: 3,
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
    };
    c
}

fn client(server: &MockServer) -> Client {
    Client::new(config(server), roomy_budget()).expect("client builds")
}

/// A client whose requests time out after 300 ms (the mocks delay 10 s).
fn impatient_client(server: &MockServer) -> Client {
    let mut cfg = config(server);
    cfg.timeout = Duration::from_millis(300);
    Client::new(cfg, roomy_budget()).expect("client builds")
}

fn sign() -> ReplySign {
    ReplySign::parse("1:4019cd7d-cca8:54828159:bc3a4c").expect("valid sign")
}

async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.expect("recording is on")
}

const CHATS: &str = "/api/v1/seller/chats";
const EVENTS: &str = "/api/v1/seller/events";
const MESSAGE: &str = "/api/v1/seller/message";

fn ok_chats() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "result": [{"chatID": "1:abc", "replySign": "1:abc:1:ff", "clientName": "Иван"}],
        "errors": []
    }))
}

fn ok_message() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "result": {"addTime": 1_717_000_000_000_i64, "chatID": "1:abc", "sign": "s"},
        "errors": []
    }))
}

#[tokio::test]
async fn sends_the_bare_token_and_decodes_chats() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .and(header("authorization", TOKEN))
        .respond_with(ok_chats())
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server).chats().await.expect("chats");
    assert_eq!(page.chats.len(), 1);
    assert_eq!(page.chats[0].client_name.as_deref(), Some("Иван"));
    let reqs = requests(&server).await;
    let auth = reqs[0].headers.get("authorization").expect("auth header");
    assert_eq!(auth.to_str().expect("ascii"), TOKEN, "no Bearer prefix");
}

#[tokio::test]
async fn events_pass_next_and_decode() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .and(query_param("next", "1717000000000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "result": {"next": 1_717_000_001_000_i64, "totalEvents": 1,
                       "events": [{"chatID": "1:abc", "eventID": "e1", "sender": "client",
                                   "eventType": "message", "message": {"text": "hi"}}]},
            "errors": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .events(Some(1_717_000_000_000))
        .await
        .expect("events");
    assert_eq!(page.requested, Some(1_717_000_000_000));
    assert_eq!(page.next, Some(1_717_000_001_000));
    assert_eq!(page.events.len(), 1);
    assert!(!page.is_last());
}

#[tokio::test]
async fn bad_request_keeps_wb_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGE))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": 400, "title": "Bad Request", "origin": "proxy-chats",
            "detail": "external links are forbidden", "requestId": "req-42", "error": "moderation"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .send_message(&sign(), Some("see http://x"), vec![])
        .await
        .expect_err("400");
    match &err {
        WbError::BadRequest(body) => {
            assert_eq!(body.title.as_deref(), Some("Bad Request"));
            assert_eq!(body.detail.as_deref(), Some("external links are forbidden"));
            assert_eq!(body.error.as_deref(), Some("moderation"));
            assert_eq!(body.request_id.as_deref(), Some("req-42"));
        }
        other => panic!("expected BadRequest, got {other:?}"),
    }
    assert!(!err.is_transient() && !err.is_ambiguous());
}

async fn chats_error(status: u16, body: serde_json::Value) -> (WbError, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    let err = client(&server).chats().await.expect_err("error status");
    (err, requests(&server).await.len())
}

#[tokio::test]
async fn auth_and_payment_statuses_are_typed_and_not_retried() {
    let auth_body = json!({"title": "unauthorized", "detail": "token expired", "code": "c",
        "requestId": "r", "origin": "s2s", "status": 401, "statusText": "Unauthorized",
        "timestamp": "2024-09-30T06:52:38Z"});
    let (err, n) = chats_error(401, auth_body.clone()).await;
    assert!(
        matches!(&err, WbError::Unauthorized(b) if b.detail.as_deref() == Some("token expired"))
    );
    assert!(err.is_auth() && !err.is_transient());
    assert_eq!(n, 1);

    let (err, n) = chats_error(403, auth_body).await;
    assert!(matches!(err, WbError::Forbidden(_)) && err.is_auth());
    assert_eq!(n, 1);

    let (err, n) = chats_error(
        402,
        json!({"title": "Payment Required", "detail": "service only"}),
    )
    .await;
    assert!(
        matches!(&err, WbError::PaymentRequired(b) if b.title.as_deref() == Some("Payment Required"))
    );
    assert!(!err.is_auth() && !err.is_transient());
    assert_eq!(n, 1);

    let (err, n) = chats_error(404, json!({})).await;
    assert!(matches!(err, WbError::Unexpected { status: 404 }));
    assert_eq!(n, 1);
}

#[tokio::test]
async fn rate_limited_reads_x_ratelimit_retry() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-Ratelimit-Retry", "120")
                .insert_header("Retry-After", "3")
                .insert_header("X-Ratelimit-Limit", "10")
                .set_body_json(json!({"title": "too many requests", "status": 429})),
        )
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c.chats().await.expect_err("429");
    // 120 s is over max_retry_after (5 s): returned at once, not slept through.
    assert!(
        matches!(err, WbError::RateLimited { retry_after } if retry_after == Duration::from_secs(120))
    );
    assert!(err.is_transient());
    assert_eq!(requests(&server).await.len(), 1);
    // The whole budget is paused.
    assert!(c.budget().try_acquire(Priority::Send).is_err());
}

#[tokio::test]
async fn rate_limited_falls_back_to_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .mount(&server)
        .await;
    let err = client(&server).chats().await.expect_err("429");
    assert!(
        matches!(err, WbError::RateLimited { retry_after } if retry_after == Duration::from_secs(7))
    );
}

#[tokio::test]
async fn rate_limited_get_is_retried_after_the_asked_delay() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(ResponseTemplate::new(429).insert_header("X-Ratelimit-Retry", "0.05"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(ok_chats())
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let page = client(&server).chats().await.expect("retried to success");
    assert_eq!(page.chats.len(), 1);
    assert_eq!(requests(&server).await.len(), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "waited the asked delay"
    );
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = client(&server).chats().await.expect_err("503");
    assert!(matches!(err, WbError::Server { status: 503 }) && err.is_transient());
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn server_error_on_get_is_retried_and_each_attempt_takes_a_cell() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(ok_chats())
        .mount(&server)
        .await;
    let budget = frozen_budget(10, 0);
    let c = Client::new(config(&server), budget.clone()).expect("client builds");
    c.chats().await.expect("second attempt succeeds");
    assert_eq!(requests(&server).await.len(), 2);
    let left = (0..20)
        .take_while(|_| budget.try_acquire(Priority::Send).is_ok())
        .count();
    assert_eq!(left, 8, "two attempts, two cells");
}

#[tokio::test]
async fn server_error_on_post_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGE))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let err = client(&server)
        .send_message(&sign(), Some("hello"), vec![])
        .await
        .expect_err("500");
    assert!(matches!(err, WbError::Server { status: 500 }));
    assert!(!err.is_ambiguous());
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn timeout_on_get_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(ok_chats().set_delay(Duration::from_secs(10)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(ok_chats())
        .mount(&server)
        .await;
    let page = impatient_client(&server)
        .chats()
        .await
        .expect("retried after timeout");
    assert_eq!(page.chats.len(), 1);
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn timeout_on_post_is_ambiguous_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGE))
        .respond_with(ok_message().set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let err = impatient_client(&server)
        .send_message(&sign(), Some("hello"), vec![])
        .await
        .expect_err("timeout");
    assert!(
        matches!(
            err,
            WbError::Timeout {
                maybe_sent: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_ambiguous() && err.is_transient());
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn refused_connection_is_not_ambiguous() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mut cfg = ClientConfig::new(ApiToken::new(TOKEN));
    cfg.base_url = format!("http://127.0.0.1:{port}");
    cfg.retry.max_attempts = 1;
    let c = Client::new(cfg, roomy_budget()).expect("client builds");
    let err = c
        .send_message(&sign(), Some("hello"), vec![])
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            WbError::Network {
                maybe_sent: false,
                ..
            } | WbError::Timeout {
                maybe_sent: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_ambiguous() && err.is_transient());
    assert!(!format!("{err:?} {err}").contains("test-secret-token"));
}

#[tokio::test]
async fn malformed_json_is_a_decode_error_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"result\": [oops"))
        .mount(&server)
        .await;
    let err = client(&server).events(None).await.expect_err("decode");
    assert!(matches!(err, WbError::Decode { what: "events", .. }));
    assert!(!err.is_transient());
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn multipart_fields_are_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGE))
        .and(header("authorization", TOKEN))
        .respond_with(ok_message())
        .expect(1)
        .mount(&server)
        .await;
    let files = vec![
        OutgoingFile {
            name: "photo.png".into(),
            content_type: "image/png".into(),
            bytes: Bytes::from_static(b"\x89PNG-fake"),
        },
        OutgoingFile {
            name: "receipt.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: Bytes::from_static(b"%PDF-fake"),
        },
    ];
    let result = client(&server)
        .send_message(&sign(), Some("Здравствуйте!"), files)
        .await
        .expect("sent");
    assert_eq!(result.add_time, Some(1_717_000_000_000));
    assert_eq!(result.chat_id.as_ref().map(ChatId::as_str), Some("1:abc"));

    let reqs = requests(&server).await;
    let req = &reqs[0];
    let ct = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .expect("content type");
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let body = String::from_utf8_lossy(&req.body);
    assert!(
        body.contains("name=\"replySign\"\r\n\r\n1:4019cd7d-cca8:54828159:bc3a4c\r\n"),
        "{body}"
    );
    assert!(
        body.contains("name=\"message\"\r\n\r\nЗдравствуйте!\r\n"),
        "{body}"
    );
    assert_eq!(body.matches("name=\"file\"").count(), 2, "{body}");
    assert!(
        body.contains("name=\"file\"; filename=\"photo.png\"\r\nContent-Type: image/png"),
        "{body}"
    );
    assert!(
        body.contains("filename=\"receipt.pdf\"\r\nContent-Type: application/pdf"),
        "{body}"
    );
    assert!(body.contains("%PDF-fake"));
}

#[tokio::test]
async fn empty_or_long_messages_are_rejected_locally() {
    let server = MockServer::start().await;
    let c = client(&server);
    let err = c
        .send_message(&sign(), Some("  "), vec![])
        .await
        .expect_err("empty");
    assert!(matches!(err, WbError::InvalidInput(_)));
    let long = "я".repeat(MAX_MESSAGE_CHARS + 1);
    let err = c
        .send_message(&sign(), Some(&long), vec![])
        .await
        .expect_err("long");
    assert!(matches!(err, WbError::InvalidInput(_)));
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn send_uses_the_reserve_polls_leave() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CHATS))
        .respond_with(ok_chats())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGE))
        .respond_with(ok_message())
        .mount(&server)
        .await;
    let c = Client::new(config(&server), frozen_budget(3, 2)).expect("client builds");
    c.chats().await.expect("first poll");
    let second = tokio::time::timeout(Duration::from_millis(100), c.chats()).await;
    assert!(
        second.is_err(),
        "second poll waits: only the reserve is left"
    );
    c.send_message(&sign(), Some("one"), vec![])
        .await
        .expect("send 1");
    c.send_message(&sign(), Some("two"), vec![])
        .await
        .expect("send 2");
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn download_ready_pending_and_blocked() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/seller/download/ready-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/jpeg")
                .set_body_bytes(b"\xff\xd8jpeg".to_vec()),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/seller/download/pending-1"))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"moderationState": "pending", "retrySeconds": 30})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/seller/download/blocked-1"))
        .respond_with(ResponseTemplate::new(451).set_body_json(json!({
            "status": 451, "title": "Unavailable for Legal Reasons", "origin": "proxy-chats",
            "detail": "moderation error", "requestId": "r451"
        })))
        .mount(&server)
        .await;
    let c = client(&server);
    let id = |s: &str| DownloadId::parse(s).expect("valid id");

    match c.download(&id("ready-1")).await.expect("ready") {
        Download::Ready {
            bytes,
            content_type,
        } => {
            assert_eq!(&bytes[..], b"\xff\xd8jpeg");
            assert_eq!(content_type.as_deref(), Some("image/jpeg"));
        }
        other => panic!("expected Ready, got {other:?}"),
    }
    match c.download(&id("pending-1")).await.expect("pending") {
        Download::Pending {
            retry_after,
            moderation_state,
        } => {
            assert_eq!(retry_after, Duration::from_secs(30));
            assert_eq!(moderation_state, "pending");
        }
        other => panic!("expected Pending, got {other:?}"),
    }
    let err = c.download(&id("blocked-1")).await.expect_err("451");
    assert!(matches!(&err, WbError::UnavailableForLegalReasons(b)
        if b.detail.as_deref() == Some("moderation error") && b.request_id.as_deref() == Some("r451")));
    assert!(!err.is_transient());
    assert_eq!(requests(&server).await.len(), 3, "451 not retried");
}

#[tokio::test]
async fn download_id_is_percent_encoded() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/seller/download/a%2Fb%3Fc"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"x".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    let id = DownloadId::parse("a/b?c").expect("valid id");
    client(&server)
        .download(&id)
        .await
        .expect("encoded path matches");
}

fn events_page(next: i64, total: i64, ids: &[&str]) -> ResponseTemplate {
    let events: Vec<_> = ids
        .iter()
        .map(|id| json!({"chatID": "1:abc", "eventID": id, "eventType": "message", "sender": "client"}))
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({
        "result": {"next": next, "totalEvents": total, "events": events}, "errors": []
    }))
}

#[tokio::test]
async fn events_all_pages_until_total_is_zero() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .and(query_param_is_missing("next"))
        .respond_with(events_page(100, 2, &["e1", "e2"]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .and(query_param("next", "100"))
        .respond_with(events_page(200, 1, &["e3"]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .and(query_param("next", "200"))
        .respond_with(events_page(200, 0, &[]))
        .mount(&server)
        .await;
    let c = client(&server);
    let mut pager = c.events_all(None);
    let mut seen = Vec::new();
    let mut cursors = Vec::new();
    while let Some(page) = pager.next_page().await {
        let page = page.expect("page");
        seen.extend(page.events.iter().filter_map(|e| e.event_id.clone()));
        cursors.push(pager.cursor());
    }
    let seen: Vec<_> = seen.iter().map(|e| e.as_str()).collect();
    assert_eq!(seen, ["e1", "e2", "e3"]);
    assert_eq!(cursors, [Some(100), Some(200), Some(200)]);
    assert!(pager.is_done());
    assert!(pager.next_page().await.is_none());
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn events_all_stops_when_next_does_not_advance() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .respond_with(events_page(50, 5, &["e1"]))
        .mount(&server)
        .await;
    let mut pager = client(&server).events_all(Some(50));
    assert!(pager.next_page().await.is_some());
    assert!(pager.next_page().await.is_none());
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn events_pager_keeps_its_cursor_after_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .respond_with(ResponseTemplate::new(401))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(EVENTS))
        .and(query_param("next", "10"))
        .respond_with(events_page(20, 0, &[]))
        .mount(&server)
        .await;
    let mut pager = client(&server).events_all(Some(10));
    let first = pager.next_page().await.expect("a result");
    assert!(first.is_err());
    assert_eq!(pager.cursor(), Some(10));
    let page = pager.next_page().await.expect("a result").expect("page");
    assert!(page.is_last());
    assert!(pager.next_page().await.is_none());
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let server = MockServer::start().await;
    let cfg = config(&server);
    let c = Client::new(cfg.clone(), roomy_budget()).expect("client builds");
    let text = format!("{c:?} {cfg:?} {:?}", cfg.token);
    assert!(!text.contains("test-secret-token"), "{text}");
    assert!(text.contains("redacted"));
}

#[test]
fn config_errors_are_reported_without_the_token() {
    let mut cfg = ClientConfig::new(ApiToken::new("bad\ntoken-secret"));
    cfg.base_url = "http://127.0.0.1:1".into();
    let err = Client::new(cfg, roomy_budget()).expect_err("newline in token");
    assert!(matches!(err, WbError::InvalidInput(_)));
    assert!(!format!("{err:?}").contains("secret"));

    let mut cfg = ClientConfig::new(ApiToken::new(TOKEN));
    cfg.base_url = "ftp://example.com".into();
    assert!(Client::new(cfg, roomy_budget()).is_err());
    let cfg = ClientConfig::new(ApiToken::new("   "));
    assert!(Client::new(cfg, roomy_budget()).is_err());
}

#[test]
fn urls_keep_a_base_path_prefix() {
    let mut cfg = ClientConfig::new(ApiToken::new(TOKEN));
    cfg.base_url = "http://127.0.0.1:9/wb".into();
    let c = Client::new(cfg, roomy_budget()).expect("client builds");
    assert_eq!(
        c.url(&["chats"]).as_str(),
        "http://127.0.0.1:9/wb/api/v1/seller/chats"
    );
    let c = Client::new(ClientConfig::new(ApiToken::new(TOKEN)), roomy_budget()).expect("builds");
    assert_eq!(
        c.url(&["download", "x:y"]).as_str(),
        "https://buyer-chat-api.wildberries.ru/api/v1/seller/download/x:y"
    );
}
