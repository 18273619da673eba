//! Browser sessions over HTTP: login, cookie flags, throttling, CSRF, logout, pages, stream.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};

use crate::{Must, MustSome, TestApp, spawn_app};

const EMAIL_A: &str = "a@shop-a.ru";
const PASSWORD_A: &str = "password-a";

struct Login {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

impl Login {
    fn set_cookie(&self) -> String {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("aiq_session="))
            .must_some("Set-Cookie aiq_session")
            .to_owned()
    }

    /// `aiq_session=<token>` for a Cookie header.
    fn cookie(&self) -> String {
        self.set_cookie()
            .split(';')
            .next()
            .must_some("cookie pair")
            .to_owned()
    }

    fn csrf(&self) -> String {
        self.json["csrfToken"]
            .as_str()
            .must_some("csrfToken")
            .to_owned()
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .must("client")
}

async fn login_with(app: &TestApp, email: &str, password: &str, https: bool) -> Login {
    let mut req = app
        .http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"email": email, "password": password}));
    if https {
        req = req.header("x-forwarded-proto", "https");
    }
    let resp = req.send().await.must("login");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.must("body");
    Login {
        status,
        headers,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

async fn login(app: &TestApp) -> Login {
    let l = login_with(app, EMAIL_A, PASSWORD_A, false).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.json);
    l
}

#[tokio::test]
async fn login_sets_a_safe_cookie_and_the_cookie_authenticates() {
    let app = spawn_app().await;
    let l = login(&app).await;
    let set = l.set_cookie();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(
        !set.contains("Secure"),
        "plain http must not set Secure: {set}"
    );
    assert_eq!(l.json["email"], EMAIL_A);
    assert_eq!(l.csrf().len(), 43);
    let token = l.cookie();
    assert_eq!(token.len(), "aiq_session=".len() + 43);

    // Over https (as a reverse proxy reports it) the cookie is Secure.
    let https = login_with(&app, EMAIL_A, PASSWORD_A, true).await;
    assert!(
        https.set_cookie().contains("; Secure"),
        "{}",
        https.set_cookie()
    );
    assert_ne!(https.cookie(), token, "every login is a new session");

    // Reads with the cookie need no CSRF token.
    let r = app
        .send(
            app.http
                .get(format!("{}/api/v1/chats", app.base))
                .header("cookie", &token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The stored row is a hash, not the token.
    let raw = token.trim_start_matches("aiq_session=");
    assert!(
        app.store
            .find_session(raw.as_bytes())
            .await
            .must("find")
            .is_none()
    );

    // Pages: with the cookie the inbox renders with the CSRF token; without, to /login.
    let http = no_redirects();
    let page = http
        .get(format!("{}/inbox", app.base))
        .header("cookie", &token)
        .send()
        .await
        .must("inbox");
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page
        .headers()
        .get("content-security-policy")
        .must_some("CSP")
        .to_str()
        .must("csp")
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.must("html");
    assert!(
        html.contains(&format!(
            r#"<meta name="csrf-token" content="{}">"#,
            l.csrf()
        )),
        "{html}"
    );
    assert!(html.contains("Чаты"));
    for path in ["/inbox", "/accounts", "/chats/1", "/"] {
        let r = http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .must("page");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let to = r.headers()["location"].to_str().must("location");
        assert!(to.starts_with("/login"), "{path} → {to}");
    }
    let r = http
        .get(format!("{}/login", app.base))
        .header("cookie", &token)
        .send()
        .await
        .must("login page");
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "logged in: /login goes on"
    );
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_are_refused_alike() {
    let app = spawn_app().await;
    let wrong = login_with(&app, EMAIL_A, "password-b", false).await;
    let unknown = login_with(&app, "nobody@shop-a.ru", "password-a", false).await;
    for l in [&wrong, &unknown] {
        assert_eq!(l.status, StatusCode::UNAUTHORIZED, "{}", l.json);
        assert_eq!(l.json["error"], "invalid_credentials");
        assert_eq!(l.json["message"], "Неверный e-mail или пароль.");
        assert!(l.headers.get(SET_COOKIE).is_none());
    }
    // E-mail case and spaces do not matter.
    let l = login_with(&app, " A@Shop-A.ru ", PASSWORD_A, false).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.json);
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_email() {
    let app = spawn_app().await;
    for i in 0..5 {
        let l = login_with(&app, EMAIL_A, "wrong-password", false).await;
        assert_eq!(
            l.status,
            StatusCode::UNAUTHORIZED,
            "attempt {i}: {}",
            l.json
        );
    }
    // Now even the right password waits.
    let l = login_with(&app, EMAIL_A, PASSWORD_A, false).await;
    assert_eq!(l.status, StatusCode::TOO_MANY_REQUESTS, "{}", l.json);
    assert_eq!(l.json["error"], "too_many_requests");
    let message = l.json["message"].as_str().must_some("message");
    assert!(message.contains("Слишком много"), "{message}");
    let retry: u64 = l.headers["retry-after"]
        .to_str()
        .must("retry-after")
        .parse()
        .must("seconds");
    assert!((1..=900).contains(&retry), "{retry}");
    // Another e-mail from the same address is not affected.
    let b = login_with(&app, "b@shop-b.ru", "password-b", false).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.json);
}

#[tokio::test]
async fn cookie_writes_need_the_csrf_token_and_api_keys_do_not() {
    let app = spawn_app().await;
    let l = login(&app).await;
    let cookie = l.cookie();
    let post = |csrf: Option<String>| {
        let mut req = app
            .http
            .post(format!("{}/api/v1/guardrails/check", app.base))
            .header("cookie", &cookie)
            .json(&json!({"text": "Здравствуйте"}));
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        app.send(req)
    };
    let r = post(None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.json["error"], "csrf");
    let r = post(Some("x".repeat(43))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = post(Some(l.csrf())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The token of another session does not fit this one.
    let other = login(&app).await;
    let r = post(Some(other.csrf())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    // API keys are exempt.
    let r = app
        .post_json(
            "/api/v1/guardrails/check",
            &app.key_a,
            &json!({"text": "Здравствуйте"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // A forged or unknown cookie is 401, not a fall-through.
    let fake = format!("aiq_session={}", "A".repeat(43));
    let r = app
        .send(
            app.http
                .get(format!("{}/api/v1/chats", app.base))
                .header("cookie", fake),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.json["error"], "invalid_session");
}

#[tokio::test]
async fn logout_needs_csrf_and_ends_the_session() {
    let app = spawn_app().await;
    let l = login(&app).await;
    let cookie = l.cookie();
    let delete = |csrf: Option<String>| {
        let mut req = app
            .http
            .delete(format!("{}/api/v1/session", app.base))
            .header("cookie", &cookie);
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };
    let r = delete(None).await.must("logout");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = delete(Some(l.csrf())).await.must("logout");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let cleared = r.headers()[SET_COOKIE]
        .to_str()
        .must("set-cookie")
        .to_owned();
    assert!(cleared.starts_with("aiq_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let r = app
        .send(
            app.http
                .get(format!("{}/api/v1/chats", app.base))
                .header("cookie", &cookie),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // Logging out again (or without a session) is harmless.
    let r = delete(None).await.must("logout again");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_stream_says_ready_and_needs_credentials() {
    let app = spawn_app().await;
    let r = app.get("/api/v1/stream", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let mut resp = app
        .http
        .get(format!("{}/api/v1/stream", app.base))
        .bearer_auth(&app.key_a)
        .send()
        .await
        .must("stream");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .must("ct")
            .starts_with("text/event-stream")
    );
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), resp.chunk())
        .await
        .must("first event in time")
        .must("chunk")
        .must_some("a chunk");
    let text = String::from_utf8_lossy(&chunk);
    assert!(text.contains("event: ready"), "{text}");

    // Notices of the workspace's own accounts arrive; another workspace's stream stays quiet.
    let mut other = app
        .http
        .get(format!("{}/api/v1/stream", app.base))
        .bearer_auth(&app.key_b)
        .send()
        .await
        .must("stream B");
    let _ready_b = other.chunk().await.must("B ready");
    let account = app.connected_account(&app.key_a, crate::TOKEN_A).await;
    app.sync(account).await;
    let mut seen = String::new();
    while !seen.contains("event: new_messages") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), resp.chunk())
            .await
            .must("new_messages in time")
            .must("chunk")
            .must_some("a chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains(&format!("\"accountId\":{account}")), "{seen}");
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(500), other.chunk()).await;
    assert!(quiet.is_err(), "B saw A's notice: {quiet:?}");
}

#[tokio::test]
async fn pages_render_escaped_conversations_and_search() {
    let app = spawn_app().await;
    let account = app.connected_account(&app.key_a, crate::TOKEN_A).await;
    app.sync(account).await;
    let chats = app
        .get(
            &format!("/api/v1/chats?accountId={account}"),
            Some(&app.key_a),
        )
        .await;
    let chat = &chats.json["chats"][0];
    let (id, wb_chat) = (
        chat["id"].as_i64().must_some("id"),
        chat["chatId"].as_str().must_some("chatId").to_owned(),
    );
    let r = app
        .http
        .post(format!(
            "{}/_sandbox/chats/{wb_chat}/buyer-messages",
            app.sandbox.url()
        ))
        .bearer_auth(crate::TOKEN_A)
        .json(&json!({"text": "<script>alert(1)</script> Ёжик-уникум"}))
        .send()
        .await
        .must("buyer message");
    assert!(r.status().is_success());
    app.sync(account).await;

    let cookie = login(&app).await.cookie();
    let page = |path: String| {
        let req = app
            .http
            .get(format!("{}{path}", app.base))
            .header("cookie", &cookie);
        app.send(req)
    };
    let chat_page = page(format!("/chats/{id}")).await;
    assert_eq!(chat_page.status, StatusCode::OK, "{}", chat_page.text);
    let at = chat_page.text.find("alert(1)").must_some("the message");
    let around = &chat_page.text[at.saturating_sub(40)..at + 60];
    assert!(
        around.contains("&#60;script&#62;alert(1)&#60;/script&#62; Ёжик-уникум"),
        "{around}"
    );
    assert!(!chat_page.text.contains("<script>alert"));
    assert!(chat_page.text.contains(r#"class="msg buyer""#));
    assert!(chat_page.text.contains("0/1000"));
    let feed = page(format!("/chats/{id}/feed")).await;
    assert_eq!(feed.status, StatusCode::OK);
    assert!(feed.text.contains("Ёжик-уникум") && !feed.text.contains("<html"));

    // The inbox, its fragment, and the server-side search.
    let inbox = page("/inbox".to_owned()).await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(inbox.text.contains(&format!(r#"data-id="{id}""#)));
    // Waiting chats show their deadline: the seeded questions are hours old.
    assert!(inbox.text.contains("просрочен на") || inbox.text.contains("осталось"));
    assert!(inbox.text.contains("class=\"prio urgent\""));
    let found = page(
        "/inbox/rows?q=%D0%81%D0%B6%D0%B8%D0%BA-%D1%83%D0%BD%D0%B8%D0%BA%D1%83%D0%BC".to_owned(),
    )
    .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    assert_eq!(
        found.text.matches(r#"<li class="chat"#).count(),
        1,
        "{}",
        found.text
    );
    let none = page("/inbox/rows?q=nothing-like-this".to_owned()).await;
    assert!(none.text.contains("Чатов нет"), "{}", none.text);
    let accounts = page("/accounts".to_owned()).await;
    assert!(accounts.text.contains("активен"), "{}", accounts.text);
    assert!(accounts.text.contains("Настройки → Доступ к API"));

    // Fragments without a session are 401 (the script goes to /login), other workspaces 404.
    let r = app.get("/inbox/rows", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let b = login_with(&app, "b@shop-b.ru", "password-b", false)
        .await
        .cookie();
    let r = app
        .send(
            app.http
                .get(format!("{}/chats/{id}/feed", app.base))
                .header("cookie", b),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let js = app.get("/static/app.js", None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.text.contains("X-CSRF-Token"));
}
