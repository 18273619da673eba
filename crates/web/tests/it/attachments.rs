//! `GET /api/v1/attachments/{id}`: buyer files downloaded through the engine from the sandbox,
//! cached on disk, served with the right headers; moderation (202, 451), tenancy and WB
//! failures.

use std::time::Duration;

use domain::{AttachmentKind, ChatId, DownloadId, EventId, Sender};
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::{Attachment, IngestPage, NewMessage, Secret};
use sync::DownloadPolicy;

use super::{Must, MustSome, TOKEN_A, TestApp, assert_error, spawn_app, spawn_app_with};

const DOWNLOAD_ROUTE: &str = "GET /api/v1/seller/download/{id}";

/// A raw answer: status, headers and bytes.
struct Raw {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl TestApp {
    async fn attachment(&self, id: i64, key: &str) -> Raw {
        let resp = self
            .http
            .get(format!("{}/api/v1/attachments/{id}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .must("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.must("body").to_vec();
        Raw {
            status,
            headers,
            body,
        }
    }

    /// Every attachment of workspace A's chats, as the messages JSON shows them, with the
    /// WB chat id each belongs to.
    async fn attachments_of_a(&self) -> Vec<(String, Value)> {
        let chats = self.get("/api/v1/chats", Some(&self.key_a)).await;
        let mut out = Vec::new();
        for chat in chats.json["chats"].as_array().must_some("chats") {
            let id = chat["id"].as_i64().must_some("chat id");
            let wb_chat = chat["chatId"].as_str().must_some("chat id").to_owned();
            let m = self
                .get(&format!("/api/v1/chats/{id}/messages"), Some(&self.key_a))
                .await;
            for msg in m.json["messages"].as_array().must_some("messages") {
                for a in msg["attachments"].as_array().must_some("attachments") {
                    out.push((wb_chat.clone(), a.clone()));
                }
            }
        }
        out
    }

    /// How the sandbox answered downloads so far: status → count.
    fn downloads(&self) -> std::collections::BTreeMap<String, u64> {
        self.sandbox
            .sandbox
            .stats()
            .get(DOWNLOAD_ROUTE)
            .cloned()
            .unwrap_or_default()
    }

    fn download_count(&self, status: &str) -> u64 {
        self.downloads().get(status).copied().unwrap_or(0)
    }

    /// The on-disk cache file of these bytes.
    fn cache_file(&self, sha256: &str) -> std::path::PathBuf {
        self._dir
            .path()
            .join("attachments")
            .join(&sha256[..2])
            .join(sha256)
    }
}

fn id_of(a: &Value) -> i64 {
    a["id"].as_i64().must_some("attachment id")
}

#[tokio::test]
async fn a_buyer_image_is_downloaded_once_then_served_from_the_cache() {
    let app = spawn_app().await;
    let account = app.connected_account(&app.key_a, TOKEN_A).await;
    app.sync(account).await;

    let all = app.attachments_of_a().await;
    let (_, image) = all
        .iter()
        .find(|(_, a)| a["kind"] == "image")
        .must_some("the seeded photo");
    let id = id_of(image);
    assert_eq!(app.download_count("200"), 0, "nothing is downloaded ahead");

    let r = app.attachment(id, &app.key_a).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.body, sandbox::seed::PHOTO_JPEG, "byte-identical");
    assert_eq!(r.header("content-type"), "image/jpeg");
    assert!(
        r.header("content-disposition").starts_with("inline; "),
        "{}",
        r.header("content-disposition")
    );
    assert!(
        r.header("content-disposition")
            .contains("filename*=UTF-8''"),
        "{}",
        r.header("content-disposition")
    );
    assert!(r.header("cache-control").starts_with("private, max-age="));
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("x-agentiq-cache"), "miss");
    assert_eq!(app.download_count("200"), 1);

    // Stored content-addressed on disk.
    let sha = sync::attachments::sha256_hex(sandbox::seed::PHOTO_JPEG);
    assert_eq!(r.header("etag"), format!("\"{sha}\""));
    let on_disk = std::fs::read(app.cache_file(&sha)).must("cache file");
    assert_eq!(on_disk, sandbox::seed::PHOTO_JPEG);

    // Again: the same bytes, from the cache, without asking WB.
    let again = app.attachment(id, &app.key_a).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, sandbox::seed::PHOTO_JPEG);
    assert_eq!(again.header("content-type"), "image/jpeg");
    assert_eq!(again.header("x-agentiq-cache"), "hit");
    assert_eq!(app.download_count("200"), 1, "{:?}", app.downloads());

    // A lost cache file is downloaded again, not served broken.
    std::fs::remove_file(app.cache_file(&sha)).must("remove cache file");
    let refetched = app.attachment(id, &app.key_a).await;
    assert_eq!(refetched.status, StatusCode::OK);
    assert_eq!(refetched.body, sandbox::seed::PHOTO_JPEG);
    assert_eq!(app.download_count("200"), 2);
    assert!(app.cache_file(&sha).exists());
}

#[tokio::test]
async fn the_seeded_pdf_waits_through_moderation_and_is_served_as_pdf() {
    let app = spawn_app().await;
    let account = app.connected_account(&app.key_a, TOKEN_A).await;
    app.sync(account).await;

    let all = app.attachments_of_a().await;
    let (_, pdf) = all
        .iter()
        .find(|(_, a)| a["kind"] == "file" && a["name"] == "чек.pdf")
        .must_some("the seeded receipt");
    let id = id_of(pdf);

    // WB answers 202 once; the engine waits `retrySeconds` and asks again.
    let r = app.attachment(id, &app.key_a).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.body, sandbox::seed::RECEIPT_PDF);
    assert_eq!(r.header("content-type"), "application/pdf");
    assert_eq!(
        r.header("content-disposition"),
        "attachment; filename=\"___.pdf\"; filename*=UTF-8''%D1%87%D0%B5%D0%BA.pdf"
    );
    assert_eq!(app.download_count("202"), 1, "{:?}", app.downloads());
    assert_eq!(app.download_count("200"), 1, "{:?}", app.downloads());

    let again = app.attachment(id, &app.key_a).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, sandbox::seed::RECEIPT_PDF);
    assert_eq!(app.download_count("200"), 1, "{:?}", app.downloads());
}

#[tokio::test]
async fn a_file_in_moderation_answers_202_until_wb_releases_it() {
    // One attempt per request: the 202 reaches the operator instead of being waited through.
    let app = spawn_app_with(|c| {
        c.downloads = DownloadPolicy {
            max_tries: 1,
            max_wait: Duration::ZERO,
        };
    })
    .await;
    let account = app.connected_account(&app.key_a, TOKEN_A).await;
    app.sync(account).await;
    let all = app.attachments_of_a().await;
    let (_, pdf) = all
        .iter()
        .find(|(_, a)| a["kind"] == "file" && a["name"] == "чек.pdf")
        .must_some("the seeded receipt");
    let id = id_of(pdf);

    let r = app.attachment(id, &app.key_a).await;
    assert_eq!(
        r.status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    let body = r.json();
    assert_eq!(body["state"], "pending");
    let retry = body["retryAfter"].as_u64().must_some("retryAfter");
    assert!((1..=30).contains(&retry), "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("модерацию WB"),
        "{body}"
    );
    assert_eq!(r.header("retry-after"), retry.to_string());
    assert_eq!(app.download_count("202"), 1);

    // Asked again before WB's moment: answered from the store, WB is not asked.
    let r = app.attachment(id, &app.key_a).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(app.download_count("202"), 1, "{:?}", app.downloads());

    tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(200)).await;
    let r = app.attachment(id, &app.key_a).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.body, sandbox::seed::RECEIPT_PDF);
    assert_eq!(r.header("content-type"), "application/pdf");
    assert_eq!(app.download_count("200"), 1);
}

#[tokio::test]
async fn a_file_blocked_by_moderation_is_451() {
    let app = spawn_app().await;
    let account = app.connected_account(&app.key_a, TOKEN_A).await;
    app.sync(account).await;
    let (wb_chat, _) = app
        .attachments_of_a()
        .await
        .into_iter()
        .next()
        .must_some("a chat");
    let sent = app
        .http
        .post(format!(
            "{}/_sandbox/chats/{wb_chat}/buyer-messages",
            app.sandbox.url()
        ))
        .header("authorization", TOKEN_A)
        .json(&json!({"text": "вот накладная",
                      "attachments": [{"kind": "file", "name": "накладная.pdf",
                                       "moderation": "blocked"}]}))
        .send()
        .await
        .must("buyer message");
    assert!(sent.status().is_success(), "{}", sent.status());
    app.sync(account).await;

    let all = app.attachments_of_a().await;
    let (_, blocked) = all
        .iter()
        .find(|(_, a)| a["name"] == "накладная.pdf")
        .must_some("the blocked file");
    let id = id_of(blocked);

    let r = app.attachment(id, &app.key_a).await;
    assert_eq!(r.status, StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS);
    assert_eq!(
        r.json(),
        json!({"error": "blocked", "message": "Файл заблокирован модерацией WB"})
    );
    assert_eq!(app.download_count("451"), 1);

    // Blocked is final: WB is not asked again.
    let r = app.attachment(id, &app.key_a).await;
    assert_eq!(r.status, StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS);
    assert_eq!(app.download_count("451"), 1, "{:?}", app.downloads());
}

#[tokio::test]
async fn another_workspace_gets_404_and_nothing_is_downloaded() {
    let app = spawn_app().await;
    let account = app.connected_account(&app.key_a, TOKEN_A).await;
    app.sync(account).await;
    let all = app.attachments_of_a().await;
    let (_, image) = all
        .iter()
        .find(|(_, a)| a["kind"] == "image")
        .must_some("the seeded photo");
    let id = id_of(image);

    let r = app.attachment(id, &app.key_b).await;
    let reply = super::Reply {
        status: r.status,
        text: String::from_utf8_lossy(&r.body).into_owned(),
        json: r.json(),
    };
    assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    assert!(app.downloads().is_empty(), "{:?}", app.downloads());

    let r = app
        .get("/api/v1/attachments/999999", Some(&app.key_a))
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    for bad in ["abc", "0", "-1"] {
        let r = app
            .get(&format!("/api/v1/attachments/{bad}"), Some(&app.key_a))
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_id");
    }
    let r = app.get(&format!("/api/v1/attachments/{id}"), None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");

    // A's own request still works.
    let r = app.attachment(id, &app.key_a).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unreachable_wb_is_a_502_in_russian() {
    let app = spawn_app_with(|c| c.retry.max_attempts = 1).await;
    let ws = app
        .store
        .find_user_by_email("a@shop-a.ru")
        .await
        .must("user")
        .must_some("user A")
        .workspace_id;
    // A port that was free a moment ago: nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").must("bind");
        l.local_addr().must("addr")
    };
    let account = app
        .store
        .create_account(
            ws,
            "Недоступный",
            &Secret::new(TOKEN_A),
            Some(&format!("http://{closed}")),
        )
        .await
        .must("account");
    let chat = ChatId::parse("1:offline-chat").must("chat id");
    app.store
        .ingest_page(
            account,
            &IngestPage {
                events: vec![NewMessage {
                    chat_id: chat,
                    event_id: EventId::parse("off-1").must("event id"),
                    sender: Sender::Client,
                    source: "rusite".to_owned(),
                    text: "фото".to_owned(),
                    add_timestamp_ms: 1_000,
                    is_new_chat: false,
                    reply_sign: None,
                    client_name: None,
                    good_card: None,
                    attachments: vec![Attachment {
                        id: None,
                        kind: AttachmentKind::Image,
                        download_id: Some(DownloadId::parse("off-img").must("download id")),
                        name: None,
                        content_type: None,
                        size: None,
                        url: None,
                    }],
                }],
                next_cursor: 1_000,
            },
        )
        .await
        .must("ingest");
    let (_, image) = app
        .attachments_of_a()
        .await
        .into_iter()
        .next()
        .must_some("the attachment");

    let r = app
        .get(
            &format!("/api/v1/attachments/{}", id_of(&image)),
            Some(&app.key_a),
        )
        .await;
    assert_error(&r, StatusCode::BAD_GATEWAY, "wb_unavailable");
    assert!(
        r.json["message"]
            .as_str()
            .unwrap_or("")
            .contains("Не удалось получить файл от WB"),
        "{}",
        r.text
    );
}
