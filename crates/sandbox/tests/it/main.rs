//! The sandbox over real HTTP on loopback: WB's headers, error shapes, bad input, faults and
//! the control routes. (The `wb` client's own tests drive it end to end as well.)

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use sandbox::{FaultSpec, RateLimit, Running, Sandbox, SandboxConfig};
use serde_json::{Value, json};

const T1: &str = "seller-one-token";
const T2: &str = "seller-two-token";

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

async fn start(config: SandboxConfig) -> Running {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    sandbox::start(Sandbox::new(config), addr)
        .await
        .expect("sandbox starts")
}

fn config() -> SandboxConfig {
    SandboxConfig {
        tokens: vec![T1.into(), T2.into()],
        chats: 4,
        seed: 11,
        page_size: 3,
        rate_limit: None,
        ..SandboxConfig::default()
    }
}

async fn get(
    sb: &Running,
    path: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = http()
        .get(format!("{}{path}", sb.url()))
        .header("Authorization", token)
        .send()
        .await
        .expect("request");
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

async fn post_json(sb: &Running, path: &str, token: &str, body: &str) -> (StatusCode, Value) {
    let r = http()
        .post(format!("{}{path}", sb.url()))
        .header("Authorization", token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

async fn all_events(sb: &Running, token: &str) -> Vec<Value> {
    let mut next: Option<i64> = None;
    let mut out = Vec::new();
    loop {
        let path = match next {
            Some(n) => format!("/api/v1/seller/events?next={n}"),
            None => "/api/v1/seller/events".to_owned(),
        };
        let (status, _, body) = get(sb, &path, token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let result = &body["result"];
        if result["totalEvents"] == 0 {
            return out;
        }
        next = result["next"].as_i64();
        out.extend(result["events"].as_array().cloned().unwrap_or_default());
    }
}

#[tokio::test]
async fn bearer_and_bare_tokens_are_accepted_unknown_gets_wb_401() {
    let sb = start(config()).await;
    let (s1, _, _) = get(&sb, "/api/v1/seller/chats", T1).await;
    let (s2, _, _) = get(&sb, "/api/v1/seller/chats", &format!("Bearer {T1}")).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    let (s, _, body) = get(&sb, "/api/v1/seller/chats", "Bearer nope").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["status"], 401);
    for key in [
        "title",
        "detail",
        "code",
        "requestId",
        "origin",
        "statusText",
        "timestamp",
    ] {
        assert!(body[key].is_string(), "401 body lacks {key}: {body}");
    }
    let r = http()
        .get(format!("{}/api/v1/seller/events", sb.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn events_page_through_without_loss_and_sellers_are_apart() {
    let sb = start(config()).await;
    let events = all_events(&sb, T1).await;
    let ts: Vec<i64> = events
        .iter()
        .filter_map(|e| e["addTimestamp"].as_i64())
        .collect();
    assert!(ts.len() >= 5);
    assert!(
        ts.windows(2).all(|w| w[0] < w[1]),
        "timestamps increase: {ts:?}"
    );
    for e in events.iter().filter(|e| e["isNewChat"] == true) {
        assert!(
            e["replySign"].is_string(),
            "new chat event without replySign: {e}"
        );
    }
    let (_, _, chats1) = get(&sb, "/api/v1/seller/chats", T1).await;
    let (_, _, chats2) = get(&sb, "/api/v1/seller/chats", T2).await;
    let ids = |v: &Value| -> Vec<String> {
        v["result"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["chatID"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (a, b) = (ids(&chats1), ids(&chats2));
    assert_eq!(a.len(), 4);
    assert!(a.iter().all(|id| !b.contains(id)));
    // A seller cannot read another seller's chat through the control routes either.
    let (s, _, _) = get(&sb, &format!("/_sandbox/chats/{}/messages", a[0]), T2).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rate_limit_headers_as_wb_sends_them() {
    let sb = start(SandboxConfig {
        rate_limit: Some(RateLimit {
            burst: 2,
            period: Duration::from_secs(60),
        }),
        ..config()
    })
    .await;
    let (_, h1, _) = get(&sb, "/api/v1/seller/chats", T1).await;
    assert_eq!(h1["x-ratelimit-remaining"], "1");
    let (_, h2, _) = get(&sb, "/api/v1/seller/chats", T1).await;
    assert_eq!(h2["x-ratelimit-remaining"], "0");
    let (s, h3, body) = get(&sb, "/api/v1/seller/chats", T1).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["status"], 429);
    let retry: u64 = h3["x-ratelimit-retry"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number");
    assert!((1..=30).contains(&retry), "retry {retry}");
    assert_eq!(h3["x-ratelimit-limit"], "2");
    assert!(h3.contains_key("x-ratelimit-reset") && h3.contains_key("retry-after"));
    assert!(!h3.contains_key("x-ratelimit-remaining"));
    // The other seller has a bucket of its own.
    let (s, _, _) = get(&sb, "/api/v1/seller/chats", T2).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn bad_input_gets_wb_shaped_errors() {
    let sb = start(config()).await;
    let (s, _, body) = get(&sb, "/api/v1/seller/events?next=yesterday", T1).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("next")));
    let (s, _, body) = get(&sb, "/api/v1/nothing-here", T1).await;
    assert_eq!(
        (s, body["status"].as_u64()),
        (StatusCode::NOT_FOUND, Some(404))
    );
    let (s, _, body) = get(&sb, "/api/v1/seller/download/no-such-file", T1).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(body["requestId"].is_string());
    // A JSON body where WB wants multipart.
    let (s, body) = post_json(&sb, "/api/v1/seller/message", T1, "{\"replySign\": 1}").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("multipart"))
    );
    // Malformed and mistyped control bodies.
    let (s, body) = post_json(&sb, "/_sandbox/chats", T1, "{not json").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, body) = post_json(&sb, "/_sandbox/chats", T1, "{\"clientName\": 5}").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, body) = post_json(&sb, "/_sandbox/faults", T1, "{\"spec\": \"meteor=1\"}").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("meteor"))
    );
    let (s, _) = post_json(
        &sb,
        "/_sandbox/reviews",
        T1,
        "{\"clientName\":\"Оля\",\"rating\":9,\"text\":\"x\"}",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn send_multipart(sb: &Running, form: reqwest::multipart::Form) -> (StatusCode, Value) {
    let r = http()
        .post(format!("{}/api/v1/seller/message", sb.url()))
        .header("Authorization", T1)
        .multipart(form)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json::<Value>().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn file_rules_on_send() {
    use reqwest::multipart::{Form, Part};
    let sb = start(config()).await;
    let (_, _, chats) = get(&sb, "/api/v1/seller/chats", T1).await;
    let sign = chats["result"][0]["replySign"]
        .as_str()
        .expect("sign")
        .to_owned();
    let pdf = include_bytes!("../../assets/buyer-receipt.pdf").to_vec();
    let mut big = pdf.clone();
    big.resize(5 * 1024 * 1024 + 1, b' ');
    let form = Form::new()
        .text("replySign", sign.clone())
        .part("file", Part::bytes(big).file_name("big.pdf"));
    let (s, body) = send_multipart(&sb, form).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("5 MB")),
        "{body}"
    );
    let form = Form::new().text("replySign", sign.clone()).part(
        "file",
        Part::bytes(b"#!/bin/sh\necho hi\n".to_vec()).file_name("photo.jpg"),
    );
    let (s, body) = send_multipart(&sb, form).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("JPEG")),
        "{body}"
    );
    let form = Form::new()
        .text("replySign", sign.clone())
        .text("message", "я".repeat(1001));
    let (s, _) = send_multipart(&sb, form).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let form = Form::new()
        .text("replySign", sign.clone())
        .text("message", "Чек во вложении")
        .part("file", Part::bytes(pdf).file_name("чек.pdf"));
    let (s, body) = send_multipart(&sb, form).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let chat_id = body["result"]["chatID"].as_str().expect("chat id");
    let (_, _, truth) = get(&sb, &format!("/_sandbox/chats/{chat_id}/messages"), T1).await;
    let last = truth["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .expect("a message");
    assert_eq!(last["sender"], "seller");
    assert_eq!(last["source"], "seller-public-api");
    assert_eq!(last["files"][0]["contentType"], "application/pdf");
}

#[tokio::test]
async fn control_routes_act_as_buyers_and_as_wb() {
    let sb = start(config()).await;
    let (s, chat) = post_json(
        &sb,
        "/_sandbox/chats",
        T1,
        &json!({"clientName": "Тимур", "goodCard": {"nmID": 123456789, "price": 1990, "rid": "r-1", "size": "M"}}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let chat_id = chat["chatID"].as_str().expect("chatID").to_owned();
    let (s, event) = post_json(
        &sb,
        &format!("/_sandbox/chats/{chat_id}/buyer-messages"),
        T1,
        &json!({"text": "Где мой заказ?", "attachments": [{"kind": "file", "moderation": "blocked"}]}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{event}");
    assert_eq!(event["isNewChat"], true);
    assert_eq!(event["replySign"], chat["replySign"]);
    assert_eq!(
        event["message"]["attachments"]["goodCard"]["nmID"],
        123456789
    );
    let id = event["message"]["attachments"]["files"][0]["downloadID"]
        .as_str()
        .expect("file");
    let (s, _, body) = get(&sb, &format!("/api/v1/seller/download/{id}"), T1).await;
    assert_eq!(s, StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS);
    assert_eq!(body["detail"], "moderation error");
    assert!(body.get("error").is_none());

    let (s, review) = post_json(
        &sb,
        "/_sandbox/reviews",
        T1,
        &json!({"clientName": "Оля", "rating": 2, "text": "Порвалось"}).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let review_chat = review["chatID"].as_str().expect("review chat");
    let (_, _, truth) = get(&sb, &format!("/_sandbox/chats/{review_chat}/messages"), T1).await;
    assert_eq!(truth["messages"][0]["sender"], "wb");
    assert!(
        truth["messages"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("72 часа"))
    );
    let (_, good) = post_json(
        &sb,
        "/_sandbox/reviews",
        T1,
        &json!({"clientName": "Оля", "rating": 5, "text": "Супер"}).to_string(),
    )
    .await;
    assert!(good["chatID"].is_null());
}

#[tokio::test]
async fn faults_change_at_run_time_and_stats_count_them() {
    let sb = start(SandboxConfig {
        timeout_hold: Duration::from_secs(5),
        ..config()
    })
    .await;
    sb.sandbox
        .set_faults("5xx".parse::<FaultSpec>().expect("spec"));
    let (s, _, body) = get(&sb, "/api/v1/seller/chats", T1).await;
    assert!(s.is_server_error());
    assert!(body["status"].as_u64().is_some_and(|c| c >= 500));
    let (s, body) = post_json(&sb, "/_sandbox/faults", T1, "{\"spec\": \"empty_chats\"}").await;
    assert_eq!(
        (s, body["spec"].as_str()),
        (StatusCode::OK, Some("empty_chats=1"))
    );
    let (s, _, body) = get(&sb, "/api/v1/seller/chats", T1).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["result"], json!([]));
    assert!(!all_events(&sb, T1).await.is_empty(), "events still flow");

    sb.sandbox.set_faults("timeout".parse().expect("spec"));
    let r = http()
        .get(format!("{}/api/v1/seller/chats", sb.url()))
        .header("Authorization", T1)
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(r.is_err_and(|e| e.is_timeout()));

    sb.sandbox
        .set_faults("drop_after_commit".parse().expect("spec"));
    let r = http()
        .get(format!("{}/api/v1/seller/chats", sb.url()))
        .header("Authorization", T1)
        .send()
        .await;
    assert!(r.is_err(), "the connection is reset without an answer");

    sb.sandbox
        .set_faults("duplicate_events".parse().expect("spec"));
    let (_, _, page1) = get(&sb, "/api/v1/seller/events", T1).await;
    let n = page1["result"]["events"].as_array().map_or(0, Vec::len);
    assert!(n > 3, "page of 3 plus a repeated event: {n}");

    sb.sandbox.set_faults(FaultSpec::none());
    let (_, _, stats) = get(&sb, "/_sandbox/stats", T1).await;
    let chats = &stats["byRoute"]["GET /api/v1/seller/chats"];
    assert_eq!(chats["timeout"], 1);
    assert_eq!(chats["reset"], 1);
    assert!(stats["total"].as_u64().is_some_and(|t| t >= 6));
}
