//! The notifications and settings pages: session-protected, in Russian, with the header's
//! unread badge rendered on the server.

use domain::ChatRowId;
use domain::triage::EscalationKind;
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::json;

use crate::{Must, MustSome, Reply, TOKEN_A, TestApp, spawn_app};

const BADGE: &str = r#"id="notif-badge" title="Непрочитанные уведомления""#;

/// `(aiq_session=<token>, csrf token)` of a fresh login.
async fn login(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let resp = app
        .http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .must("login");
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("aiq_session="))
        .and_then(|v| v.split(';').next())
        .must_some("session cookie")
        .to_owned();
    let json: serde_json::Value = resp.json().await.must("login body");
    let csrf = json["csrfToken"].as_str().must_some("csrf").to_owned();
    (cookie, csrf)
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> Reply {
    app.send(
        app.http
            .get(format!("{}{path}", app.base))
            .header("cookie", cookie),
    )
    .await
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .must("clock")
            .as_millis(),
    )
    .must("ms")
}

#[tokio::test]
async fn notifications_and_settings_pages_render_with_the_badge() {
    let app = spawn_app().await;
    let account = app.connected_account(&app.key_a, TOKEN_A).await;
    app.sync(account).await;
    let chats = app.get("/api/v1/chats", Some(&app.key_a)).await;
    let chat =
        ChatRowId::new(chats.json["chats"][0]["id"].as_i64().must_some("a chat")).must("chat id");
    let (cookie, csrf) = login(&app, "a@shop-a.ru", "password-a").await;

    // Nothing yet: the empty state, no badge, the new links in the header.
    let r = page(&app, &cookie, "/notifications").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("<h1>Уведомления</h1>"), "{}", r.text);
    assert!(r.text.contains("Уведомлений пока нет"), "{}", r.text);
    assert!(
        r.text.contains(&format!("{BADGE} hidden>0</span>")),
        "{}",
        r.text
    );
    assert!(r.text.contains(r#"<a href="/settings">Настройки</a>"#));
    assert!(r.text.contains(r#"href="/analytics""#) && r.text.contains("Аккаунты WB"));

    // One escalation: listed, unread, linked to its chat; the badge says 1 on every page.
    let now = now_ms();
    let fired = app
        .store
        .fire_escalation(
            chat,
            EscalationKind::Breached,
            now - 60_000,
            now,
            sync::webhook::payload,
        )
        .await
        .must("fire")
        .must_some("new");
    let id = fired.notification.id.get();
    let r = page(&app, &cookie, "/notifications").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains(&format!("{BADGE}>1</span>")), "{}", r.text);
    assert!(r.text.contains("Срок ответа истёк"), "{}", r.text);
    assert!(
        r.text
            .contains(r#"<span class="nkind breached">Просрочен</span>"#)
    );
    assert!(
        r.text
            .contains(&format!(r#"<li class="notif unread" data-id="{id}">"#))
    );
    assert!(r.text.contains(&format!(r#"href="/chats/{chat}""#)));
    assert!(r.text.contains(&format!(r#"data-up-to="{id}""#)));
    assert!(!r.text.contains("Уведомлений пока нет"));
    for path in ["/inbox", "/accounts", "/analytics", "/settings"] {
        let r = page(&app, &cookie, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert!(r.text.contains(&format!("{BADGE}>1</span>")), "{path}");
    }
    let rows = page(&app, &cookie, "/notifications/rows").await;
    assert_eq!(rows.status, StatusCode::OK);
    assert!(rows.text.contains("Срок ответа истёк") && !rows.text.contains("<html"));

    // Another workspace sees none of it.
    let (cookie_b, _) = login(&app, "b@shop-b.ru", "password-b").await;
    let r = page(&app, &cookie_b, "/notifications").await;
    assert!(r.text.contains("Уведомлений пока нет"), "{}", r.text);
    assert!(r.text.contains(&format!("{BADGE} hidden>0</span>")));

    // Marked read (as the page's button does): plain row, no badge.
    let r = app
        .send(
            app.http
                .post(format!("{}/api/v1/notifications/read", app.base))
                .header("cookie", &cookie)
                .header("x-csrf-token", &csrf)
                .json(&json!({"upTo": id})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = page(&app, &cookie, "/notifications").await;
    assert!(
        r.text
            .contains(&format!(r#"<li class="notif" data-id="{id}">"#))
    );
    assert!(r.text.contains(&format!("{BADGE} hidden>0</span>")));

    // Settings: the defaults, the webhook explained, no secret stored yet.
    let r = page(&app, &cookie, "/settings").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("<h1>Настройки</h1>"));
    for v in [
        r#"id="sla-urgent" min="1" max="10080" step="1" required value="60""#,
        r#"id="sla-high" min="1" max="10080" step="1" required value="240""#,
        r#"id="sla-normal" min="1" max="10080" step="1" required value="1440""#,
        r#"id="lead" min="1" max="10080" step="1" required value="15""#,
    ] {
        assert!(r.text.contains(v), "{v}: {}", r.text);
    }
    assert!(r.text.contains("X-AgentIQ-Signature") && r.text.contains("X-AgentIQ-Timestamp"));
    assert!(r.text.contains(r#"id="secret-state" hidden>"#));
    assert!(r.text.contains(r#"type="password" id="webhook-secret""#));

    // With a webhook: its URL shown, the secret only said to be stored.
    let secret = "0123456789abcdef-very-secret";
    let r = app
        .send(
            app.http
                .put(format!("{}/api/v1/settings/triage", app.base))
                .header("cookie", &cookie)
                .header("x-csrf-token", &csrf)
                .json(&json!({
                    "slaMinutes": {"urgent": 30, "high": 240, "normal": 1440},
                    "escalationLeadMinutes": 10,
                    "webhookUrl": "https://hooks.example.ru/aiq",
                    "webhookSecret": secret,
                })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = page(&app, &cookie, "/settings").await;
    assert!(r.text.contains(r#"value="https://hooks.example.ru/aiq""#));
    assert!(r.text.contains(r#"required value="30""#));
    assert!(
        r.text
            .contains(r#"<p class="muted" id="secret-state">Ключ сохранён"#)
    );
    assert!(!r.text.contains(secret));
}

#[tokio::test]
async fn notifications_and_settings_need_a_session() {
    let app = spawn_app().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .must("client");
    for path in ["/notifications", "/settings"] {
        let r = http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .must("page");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let to = r.headers()["location"].to_str().must("location");
        assert_eq!(to, format!("/login?next={path}"));
    }
    let r = app.get("/notifications/rows", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
