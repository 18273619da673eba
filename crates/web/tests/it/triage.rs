//! Escalation notifications and triage settings: per workspace, validated, the webhook secret
//! stored but never shown, cookie writes guarded by the CSRF token.

use domain::triage::EscalationKind;
use domain::{ChatRowId, WorkspaceId};
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};

use super::{Must, MustSome, Reply, TOKEN_A, TestApp, assert_error, spawn_app};

const SETTINGS: &str = "/api/v1/settings/triage";

impl TestApp {
    async fn put_json(&self, path: &str, key: &str, body: &Value) -> Reply {
        let req = self
            .http
            .put(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(body);
        self.send(req).await
    }

    async fn workspace_of(&self, email: &str) -> WorkspaceId {
        self.store
            .find_user_by_email(email)
            .await
            .must("user")
            .must_some("user exists")
            .workspace_id
    }
}

/// A synced account in A's workspace; its first chat.
async fn chat_of_a(app: &TestApp) -> ChatRowId {
    let account = app.connected_account(&app.key_a, TOKEN_A).await;
    app.sync(account).await;
    let chats = app.get("/api/v1/chats", Some(&app.key_a)).await;
    let id = chats.json["chats"][0]["id"].as_i64().must_some("a chat");
    ChatRowId::new(id).must("chat id")
}

#[tokio::test]
async fn notifications_are_listed_newest_first_and_marked_read_per_workspace() {
    let app = spawn_app().await;
    let chat = chat_of_a(&app).await;
    let mut ids = Vec::new();
    for (kind, key) in [
        (EscalationKind::NegativeReview, 1_000),
        (EscalationKind::Breached, 2_000),
        (EscalationKind::DueSoon, 3_000),
    ] {
        let fired = app
            .store
            .fire_escalation(chat, kind, key, key + 10, sync::webhook::payload)
            .await
            .must("fire")
            .must_some("new");
        ids.push(fired.notification.id.get());
    }

    let r = app.get("/api/v1/notifications", Some(&app.key_a)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["unread"], 3);
    let listed: Vec<i64> = r.json["notifications"]
        .as_array()
        .must_some("notifications")
        .iter()
        .filter_map(|n| n["id"].as_i64())
        .collect();
    assert_eq!(listed, vec![ids[2], ids[1], ids[0]]);
    let newest = &r.json["notifications"][0];
    assert_eq!(newest["chatId"], chat.get());
    assert_eq!(newest["kind"], "due_soon");
    assert_eq!(newest["title"], "Скоро истечёт срок ответа");
    assert_eq!(newest["keyAt"], 3_000);
    assert_eq!(newest["createdAt"], 3_010);
    assert!(newest["readAt"].is_null());
    assert!(newest.get("clientName").is_some());

    // B sees none of them and cannot mark them read.
    let b = app.get("/api/v1/notifications", Some(&app.key_b)).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert_eq!(b.json, json!({"notifications": [], "unread": 0}));
    let b = app
        .post_json(
            "/api/v1/notifications/read",
            &app.key_b,
            &json!({"upTo": ids[2]}),
        )
        .await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert_eq!(b.json, json!({"marked": 0, "unread": 0}));

    // A marks the two oldest read.
    let r = app
        .post_json(
            "/api/v1/notifications/read",
            &app.key_a,
            &json!({"upTo": ids[1]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, json!({"marked": 2, "unread": 1}));
    let unread = app
        .get("/api/v1/notifications?unread=true", Some(&app.key_a))
        .await;
    assert_eq!(unread.json["unread"], 1);
    assert_eq!(unread.json["notifications"][0]["id"], ids[2]);
    assert_eq!(
        unread.json["notifications"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default(),
        1
    );
    let page = app
        .get("/api/v1/notifications?limit=1", Some(&app.key_a))
        .await;
    assert_eq!(page.json["notifications"][0]["id"], ids[2]);

    // Bad input, and no credentials.
    let r = app
        .get("/api/v1/notifications?unread=maybe", Some(&app.key_a))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_unread");
    let r = app
        .get("/api/v1/notifications?limit=0", Some(&app.key_a))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_limit");
    let r = app
        .post_json(
            "/api/v1/notifications/read",
            &app.key_a,
            &json!({"upTo": 0}),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let r = app.get("/api/v1/notifications", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

fn settings(urgent: u64, high: u64, normal: u64, lead: u64) -> Value {
    json!({
        "slaMinutes": {"urgent": urgent, "high": high, "normal": normal},
        "escalationLeadMinutes": lead,
    })
}

fn with(mut body: Value, extra: Value) -> Value {
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    body
}

#[tokio::test]
async fn triage_settings_are_validated_and_keep_the_secret_hidden() {
    let app = spawn_app().await;
    let ws_a = app.workspace_of("a@shop-a.ru").await;
    let defaults = json!({
        "slaMinutes": {"urgent": 60, "high": 240, "normal": 1440},
        "escalationLeadMinutes": 15,
        "webhookUrl": null,
        "webhookSecretSet": false,
    });
    let r = app.get(SETTINGS, Some(&app.key_a)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, defaults);

    // Refusals change nothing.
    for (body, code) in [
        (settings(0, 240, 1440, 15), "invalid_minutes"),
        (settings(60, 240, 10_081, 15), "invalid_minutes"),
        (settings(60, 240, 1440, 0), "invalid_minutes"),
        (settings(300, 240, 1440, 15), "invalid_sla_order"),
        (settings(60, 240, 120, 15), "invalid_sla_order"),
        (
            with(
                settings(60, 240, 1440, 15),
                json!({"webhookUrl": "https://hooks.example.ru/x"}),
            ),
            "webhook_secret_required",
        ),
        (
            with(
                settings(60, 240, 1440, 15),
                json!({"webhookUrl": "https://hooks.example.ru/x", "webhookSecret": "short"}),
            ),
            "invalid_webhook_secret",
        ),
        (
            with(
                settings(60, 240, 1440, 15),
                json!({"webhookUrl": "ftp://hooks.example.ru/x", "webhookSecret": "0123456789abcdef"}),
            ),
            "invalid_webhook_url",
        ),
        (
            with(
                settings(60, 240, 1440, 15),
                json!({"webhookSecret": "0123456789abcdef"}),
            ),
            "webhook_url_required",
        ),
    ] {
        let r = app.put_json(SETTINGS, &app.key_a, &body).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    assert_eq!(app.get(SETTINGS, Some(&app.key_a)).await.json, defaults);

    // Set up a webhook: the answer says a secret is set, never what it is.
    let secret = "whsec-0123456789abcdef";
    let r = app
        .put_json(
            SETTINGS,
            &app.key_a,
            &with(
                settings(30, 120, 480, 10),
                json!({"webhookUrl": "https://hooks.example.ru/a", "webhookSecret": secret}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let saved = json!({
        "slaMinutes": {"urgent": 30, "high": 120, "normal": 480},
        "escalationLeadMinutes": 10,
        "webhookUrl": "https://hooks.example.ru/a",
        "webhookSecretSet": true,
    });
    assert_eq!(r.json, saved);
    assert!(!r.text.contains(secret));
    assert_eq!(app.get(SETTINGS, Some(&app.key_a)).await.json, saved);
    let stored = app.store.webhook_secret(ws_a).await.must("secret");
    assert_eq!(
        stored.map(|s| s.expose().to_owned()),
        Some(secret.to_owned())
    );

    // B's settings are its own.
    assert_eq!(app.get(SETTINGS, Some(&app.key_b)).await.json, defaults);

    // No webhookUrl: kept. A new URL alone keeps the secret. null: removed.
    let r = app
        .put_json(SETTINGS, &app.key_a, &settings(60, 240, 1440, 15))
        .await;
    assert_eq!(r.json["webhookUrl"], "https://hooks.example.ru/a");
    assert_eq!(r.json["webhookSecretSet"], true);
    let r = app
        .put_json(
            SETTINGS,
            &app.key_a,
            &with(
                settings(60, 240, 1440, 15),
                json!({"webhookUrl": "http://127.0.0.1:8080/hook"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["webhookUrl"], "http://127.0.0.1:8080/hook");
    let r = app
        .put_json(
            SETTINGS,
            &app.key_a,
            &with(settings(60, 240, 1440, 15), json!({"webhookUrl": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json, defaults);
    assert_eq!(app.store.webhook_secret(ws_a).await.must("gone"), None);
}

#[tokio::test]
async fn cookie_writes_of_settings_need_the_csrf_token() {
    let app = spawn_app().await;
    let login = app
        .http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"email": "a@shop-a.ru", "password": "password-a"}))
        .send()
        .await
        .must("login");
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("aiq_session="))
        .and_then(|v| v.split(';').next())
        .must_some("session cookie")
        .to_owned();
    let body: Value = login.json().await.must("login body");
    let csrf = body["csrfToken"].as_str().must_some("csrf").to_owned();

    let put = |token: Option<&str>| {
        let mut req = app
            .http
            .put(format!("{}{SETTINGS}", app.base))
            .header("cookie", &cookie)
            .json(&settings(45, 240, 1440, 15));
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        app.send(req)
    };
    let r = put(None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.json["error"], "csrf");
    let r = put(Some(&csrf)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["slaMinutes"]["urgent"], 45);
}
