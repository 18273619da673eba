//! Workspace isolation: an operator of workspace A who guesses the ids of workspace B's
//! accounts, chats, messages, attachments and outbox rows gets 404 (exactly as for an id that
//! does not exist, never 403) on every route, and nothing of B's changes.

use domain::{AttachmentKind, ChatId, DownloadId, EventId, Sender};
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::{Attachment, IngestPage, NewMessage};

use super::{Must, MustSome, Reply, TOKEN_A, TOKEN_B, TestApp, assert_error, spawn_app};

/// Everything workspace B can see of itself through the API.
async fn snapshot_of_b(app: &TestApp, outbox: i64) -> Value {
    let accounts = app.get("/api/v1/accounts", Some(&app.key_b)).await;
    let chats = app.get("/api/v1/chats?limit=200", Some(&app.key_b)).await;
    let mut messages = Vec::new();
    for chat in chats.json["chats"].as_array().must_some("chats of B") {
        let id = chat["id"].as_i64().must_some("chat id");
        let m = app
            .get(&format!("/api/v1/chats/{id}/messages"), Some(&app.key_b))
            .await;
        assert_eq!(m.status, StatusCode::OK, "{}", m.text);
        messages.push(m.json);
    }
    let reply = app
        .get(&format!("/api/v1/outbox/{outbox}"), Some(&app.key_b))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // Time left is counted at the moment of the request; everything else must not move.
    let mut chats = chats.json;
    if let Some(list) = chats["chats"].as_array_mut() {
        for c in list {
            c["triage"]["timeLeftMs"] = Value::Null;
        }
    }
    json!({
        "accounts": accounts.json,
        "chats": chats,
        "messages": messages,
        "outbox": reply.json,
    })
}

/// 404 `not_found`, with the same body as for an id nobody has.
fn assert_hidden(r: &Reply, missing: &Reply, what: &str) {
    assert_error(r, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        r.json, missing.json,
        "{what}: a foreign id must look like a missing one"
    );
}

#[tokio::test]
async fn a_workspace_cannot_read_or_write_another_by_guessing_ids() {
    let app = spawn_app().await;

    // Workspace B: a synced account, a buyer file, a failed reply (retryable by B).
    let account_b = app.connected_account(&app.key_b, TOKEN_B).await;
    app.sync(account_b).await;
    app.store
        .ingest_page(
            account_b,
            &IngestPage {
                events: vec![NewMessage {
                    chat_id: ChatId::parse("1:isolation-chat").must("chat id"),
                    event_id: EventId::parse("isolation-event-1").must("event id"),
                    sender: Sender::Client,
                    source: "android".to_owned(),
                    text: "Секретный вопрос покупателя Б".to_owned(),
                    add_timestamp_ms: 4_000_000_000_000,
                    is_new_chat: false,
                    reply_sign: None,
                    client_name: Some("Покупатель Б".to_owned()),
                    good_card: None,
                    attachments: vec![Attachment {
                        id: None,
                        kind: AttachmentKind::Image,
                        download_id: Some(DownloadId::parse("isolation-photo").must("dl id")),
                        name: Some("фото.jpg".to_owned()),
                        content_type: Some("image/jpeg".to_owned()),
                        size: Some(1234),
                        url: None,
                    }],
                }],
                next_cursor: 4_000_000_000_001,
            },
        )
        .await
        .must("ingest into B");
    let chats_b = app.get("/api/v1/chats", Some(&app.key_b)).await;
    let chat_b = chats_b.json["chats"][0]["id"]
        .as_i64()
        .must_some("chat of B");
    let replyable_b = chats_b.json["chats"]
        .as_array()
        .must_some("chats")
        .iter()
        .find(|c| c["replyable"] == true)
        .and_then(|c| c["id"].as_i64())
        .must_some("a replyable chat of B");
    let messages_b = app
        .get(
            &format!("/api/v1/chats/{chat_b}/messages"),
            Some(&app.key_b),
        )
        .await;
    let message_b = &messages_b.json["messages"][0];
    let attachment_b = message_b["attachments"][0]["id"]
        .as_i64()
        .must_some("attachment of B");
    let sent = app
        .send(
            app.http
                .post(format!("{}/api/v1/chats/{replyable_b}/messages", app.base))
                .bearer_auth(&app.key_b)
                .header("idempotency-key", "shared-key")
                .json(&json!({"text": "Ответ продавца Б"})),
        )
        .await;
    assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    let outbox_b = sent.json["id"].as_i64().must_some("outbox id");
    let outbox_id = domain::OutboxId::new(outbox_b).must("outbox id");
    assert!(app.store.mark_failed(outbox_id, "тест").await.must("fail"));

    // Workspace A has its own data, so its queries are not trivially empty.
    let account_a = app.connected_account(&app.key_a, TOKEN_A).await;
    app.sync(account_a).await;
    let chats_a = app.get("/api/v1/chats", Some(&app.key_a)).await;
    let replyable_a = chats_a.json["chats"]
        .as_array()
        .must_some("chats")
        .iter()
        .find(|c| c["replyable"] == true)
        .and_then(|c| c["id"].as_i64())
        .must_some("a replyable chat of A");

    let before = snapshot_of_b(&app, outbox_b).await;
    let downloads_before = app.sandbox.sandbox.stats();
    let key = app.key_a.clone();
    let missing = app.get("/api/v1/chats/999999/messages", Some(&key)).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");

    // Reads.
    for (path, nobody) in [
        (
            format!("/api/v1/accounts/{account_b}"),
            "/api/v1/accounts/999999",
        ),
        (
            format!("/api/v1/chats?accountId={account_b}"),
            "/api/v1/chats?accountId=999999",
        ),
        (
            format!("/api/v1/chats/{chat_b}/messages"),
            "/api/v1/chats/999999/messages",
        ),
        (
            format!("/api/v1/chats/{replyable_b}/messages"),
            "/api/v1/chats/999998/messages",
        ),
        (
            format!("/api/v1/outbox/{outbox_b}"),
            "/api/v1/outbox/999999",
        ),
        (
            format!("/api/v1/attachments/{attachment_b}"),
            "/api/v1/attachments/999999",
        ),
    ] {
        let r = app.get(&path, Some(&key)).await;
        let m = app.get(nobody, Some(&key)).await;
        assert_hidden(&r, &m, &path);
        assert!(!r.text.contains("Б"), "{path} leaked: {}", r.text);
    }

    // Writes.
    let r = app
        .post_raw(&format!("/api/v1/chats/{chat_b}/read"), &key, "")
        .await;
    let m = app.post_raw("/api/v1/chats/999999/read", &key, "").await;
    assert_hidden(&r, &m, "mark read");

    // Priority override and snooze of B's chat.
    let put = |path: String, body: Value| {
        let req = app
            .http
            .put(format!("{}{path}", app.base))
            .bearer_auth(&key)
            .json(&body);
        app.send(req)
    };
    let r = put(
        format!("/api/v1/chats/{chat_b}/priority"),
        json!({"priority": "urgent"}),
    )
    .await;
    let m = put(
        "/api/v1/chats/999999/priority".to_owned(),
        json!({"priority": "urgent"}),
    )
    .await;
    assert_hidden(&r, &m, "priority override");
    let until = json!({"until": 4_102_444_800_000_i64 - 1});
    let r = put(format!("/api/v1/chats/{chat_b}/snooze"), until.clone()).await;
    let m = put("/api/v1/chats/999999/snooze".to_owned(), until).await;
    assert_eq!(r.status, m.status, "{}", r.text);

    let body = json!({"text": "Ответ чужому покупателю"});
    let r = app
        .post_json(
            &format!("/api/v1/chats/{replyable_b}/messages"),
            &key,
            &body,
        )
        .await;
    let m = app
        .post_json("/api/v1/chats/999999/messages", &key, &body)
        .await;
    assert_hidden(&r, &m, "send JSON");
    // The same with B's idempotency key, and as a form with a file.
    let r = app
        .send(
            app.http
                .post(format!("{}/api/v1/chats/{replyable_b}/messages", app.base))
                .bearer_auth(&key)
                .header("idempotency-key", "shared-key")
                .json(&body),
        )
        .await;
    assert_hidden(&r, &m, "send with B's idempotency key");
    let form = reqwest::multipart::Form::new()
        .text("text", "Файл чужому покупателю")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"%PDF-1.4\n%%EOF\n".to_vec()).file_name("a.pdf"),
        );
    let r = app
        .send(
            app.http
                .post(format!("{}/api/v1/chats/{replyable_b}/messages", app.base))
                .bearer_auth(&key)
                .multipart(form),
        )
        .await;
    assert_hidden(&r, &m, "send multipart");

    let r = app
        .post_raw(&format!("/api/v1/outbox/{outbox_b}/retry"), &key, "")
        .await;
    let m = app.post_raw("/api/v1/outbox/999999/retry", &key, "").await;
    assert_hidden(&r, &m, "retry");

    // Listings and search show nothing of B's.
    let r = app.get("/api/v1/accounts", Some(&key)).await;
    let ids: Vec<_> = r
        .json
        .as_array()
        .must_some("accounts")
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    assert_eq!(ids, [json!(account_a.get())]);
    for filter in ["all", "unread", "urgent"] {
        let r = app
            .get(
                &format!("/api/v1/chats?filter={filter}&limit=200"),
                Some(&key),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(
            r.json["chats"]
                .as_array()
                .must_some("chats")
                .iter()
                .all(|c| c["accountId"] == account_a.get()),
            "{filter}: {}",
            r.text
        );
    }
    let r = app
        .get(
            "/api/v1/chats?q=%D0%A1%D0%B5%D0%BA%D1%80%D0%B5%D1%82",
            Some(&key),
        )
        .await;
    assert_eq!(r.json["chats"], json!([]), "search leaked: {}", r.text);
    let r = app
        .get(
            "/api/v1/chats?q=%D0%A1%D0%B5%D0%BA%D1%80%D0%B5%D1%82",
            Some(&app.key_b),
        )
        .await;
    assert_eq!(
        r.json["chats"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.text
    );

    // A's idempotency key space is its own: the shared key makes a new reply of A's.
    let r = app
        .send(
            app.http
                .post(format!("{}/api/v1/chats/{replyable_a}/messages", app.base))
                .bearer_auth(&key)
                .header("idempotency-key", "shared-key")
                .json(&json!({"text": "Ответ своему покупателю"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_ne!(r.json["id"], json!(outbox_b));
    assert_eq!(r.json["chatId"], json!(replyable_a));

    // Nothing of B's changed, and nothing was downloaded for A.
    let after = snapshot_of_b(&app, outbox_b).await;
    assert_eq!(before, after);
    assert_eq!(after["outbox"]["state"], "failed");
    assert_eq!(downloads_before, app.sandbox.sandbox.stats());

    // B itself still can.
    let r = app
        .post_raw(&format!("/api/v1/outbox/{outbox_b}/retry"), &app.key_b, "")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["state"], "queued");
}
