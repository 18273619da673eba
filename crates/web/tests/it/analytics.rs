//! Response analytics over HTTP: `GET /api/v1/analytics` with hand-computed numbers, its
//! errors, workspace isolation, and the `/analytics` page with its SVG charts.

use domain::{AccountId, ChatId, ChatRowId, EventId, Priority, ReplySign, Sender};
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::{ChatFilter, IngestPage, NewMessage, NewResponse};

use crate::{Must, MustSome, TOKEN_A, TOKEN_B, TestApp, assert_error, spawn_app};

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// 2026-03-01 00:00 in Moscow.
const D0: i64 = 1_772_312_400_000;

/// Creates a chat of `account` with one buyer message and returns its row id.
async fn chat_with_a_question(app: &TestApp, account: AccountId, n: u32) -> ChatRowId {
    let chat = ChatId::parse(format!("1:analytics-{n}")).must("chat id");
    let message = NewMessage {
        chat_id: chat.clone(),
        event_id: EventId::parse(format!("q{n}")).must("event id"),
        sender: Sender::Client,
        source: "rusite".to_owned(),
        text: "Где мой заказ?".to_owned(),
        add_timestamp_ms: D0 - DAY,
        is_new_chat: true,
        reply_sign: Some(ReplySign::parse(format!("1:analytics-{n}:1:abcdef")).must("reply sign")),
        client_name: Some("Ольга".to_owned()),
        good_card: None,
        attachments: Vec::new(),
    };
    app.store
        .ingest_page(
            account,
            &IngestPage {
                events: vec![message],
                next_cursor: D0 - DAY,
            },
        )
        .await
        .must("ingest");
    let workspace = workspace_of(app, account).await;
    app.store
        .list_chats(workspace, &ChatFilter::default())
        .await
        .must("chats")
        .into_iter()
        .find(|c| c.chat_id == chat)
        .must_some("the new chat")
        .id
}

/// The workspace of an account (through the sync engine's view, which spans workspaces).
async fn workspace_of(app: &TestApp, account: AccountId) -> domain::WorkspaceId {
    app.store
        .accounts_to_poll()
        .await
        .must("accounts")
        .into_iter()
        .find(|t| t.account.id == account)
        .must_some("account")
        .account
        .workspace_id
}

async fn answered(
    app: &TestApp,
    chat: ChatRowId,
    account: AccountId,
    since: i64,
    took: i64,
    due: Option<i64>,
) {
    let workspace = workspace_of(app, account).await;
    app.store
        .record_response(
            workspace,
            &NewResponse {
                chat_id: chat,
                waiting_since_ms: since,
                answered_at_ms: since + took,
                priority: Priority::Normal,
                due_at_ms: due,
                review: false,
            },
        )
        .await
        .must("record response");
}

/// `aiq_session=…` of a fresh login of workspace A's operator.
async fn session_cookie(app: &TestApp) -> String {
    let resp = app
        .http
        .post(format!("{}/api/v1/session", app.base))
        .json(&json!({"email": "a@shop-a.ru", "password": "password-a"}))
        .send()
        .await
        .must("login");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("aiq_session="))
        .and_then(|v| v.split(';').next())
        .must_some("session cookie")
        .to_owned()
}

#[tokio::test]
async fn analytics_api_and_page_show_the_workspace_numbers() {
    let app = spawn_app().await;
    let a = app.connected_account(&app.key_a, TOKEN_A).await;
    let b = app.connected_account(&app.key_b, TOKEN_B).await;
    let c1 = chat_with_a_question(&app, a, 1).await;
    let c2 = chat_with_a_question(&app, a, 2).await;
    let cb = chat_with_a_question(&app, b, 3).await;
    // A: 10 min in time and 90 min late on 03-01, 65 min without a deadline on 03-02.
    answered(&app, c1, a, D0 + HOUR, 10 * MIN, Some(D0 + 2 * HOUR)).await;
    answered(&app, c1, a, D0 + 5 * HOUR, 90 * MIN, Some(D0 + 6 * HOUR)).await;
    answered(&app, c2, a, D0 + DAY + HOUR, 65 * MIN, None).await;
    // B: one slow answer that A must never see.
    answered(&app, cb, b, D0 + HOUR, 300 * MIN, None).await;

    let r = app
        .get(
            "/api/v1/analytics?from=2026-03-01&to=2026-03-02",
            Some(&app.key_a),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let j = &r.json;
    assert_eq!(j["from"], "2026-03-01");
    assert_eq!(j["to"], "2026-03-02");
    assert_eq!(j["accountId"], Value::Null);
    assert_eq!(j["utcOffsetMinutes"], 180);
    // 10, 65, 90 min: median 65, p90 90, two of three in time, one breach.
    assert_eq!(j["totals"]["answered"], 3);
    assert_eq!(j["totals"]["medianMs"], 65 * MIN);
    assert_eq!(j["totals"]["p90Ms"], 90 * MIN);
    assert_eq!(j["totals"]["breaches"], 1);
    let share = j["totals"]["withinSla"].as_f64().must_some("withinSla");
    assert!((share - 2.0 / 3.0).abs() < 1e-9, "{share}");
    assert_eq!(j["reviews"], json!({"opened": 0, "answeredInTime": 0}));
    let accounts = j["accounts"].as_array().must_some("accounts");
    assert_eq!(accounts.len(), 1, "{}", r.text);
    assert_eq!(accounts[0]["id"], a.get());
    assert_eq!(accounts[0]["name"], "Магазин");
    assert_eq!(accounts[0]["responses"]["answered"], 3);
    let days = j["days"].as_array().must_some("days");
    assert_eq!(days.len(), 2);
    assert_eq!(days[0]["date"], "2026-03-01");
    assert_eq!(days[0]["responses"]["medianMs"], 10 * MIN);
    assert_eq!(days[0]["responses"]["p90Ms"], 90 * MIN);
    assert_eq!(days[1]["date"], "2026-03-02");
    assert_eq!(days[1]["responses"]["withinSla"], 1.0);
    let queue = j["queue"].as_array().must_some("queue");
    let priorities: Vec<&str> = queue
        .iter()
        .filter_map(|q| q["priority"].as_str())
        .collect();
    assert_eq!(priorities, ["urgent", "high", "normal"]);

    // One account; B's own numbers; the default period answers too.
    let r = app
        .get(
            &format!("/api/v1/analytics?from=2026-03-01&to=2026-03-01&accountId={a}"),
            Some(&app.key_a),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["accountId"], a.get());
    assert_eq!(r.json["totals"]["answered"], 2);
    let r = app
        .get(
            "/api/v1/analytics?from=2026-03-01&to=2026-03-02",
            Some(&app.key_b),
        )
        .await;
    assert_eq!(r.json["totals"]["answered"], 1, "{}", r.text);
    assert_eq!(r.json["totals"]["medianMs"], 300 * MIN);
    let r = app.get("/api/v1/analytics", Some(&app.key_a)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["days"].as_array().map(Vec::len), Some(14));

    // Errors: another workspace's account is 404, bad input 400, no key 401.
    let r = app
        .get(
            &format!("/api/v1/analytics?accountId={b}"),
            Some(&app.key_a),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = app
        .get("/api/v1/analytics?accountId=abc", Some(&app.key_a))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_id");
    let r = app
        .get("/api/v1/analytics?from=2026-02-30", Some(&app.key_a))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_date");
    let r = app
        .get(
            "/api/v1/analytics?from=2026-03-02&to=2026-03-01",
            Some(&app.key_a),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_period");
    let r = app.get("/api/v1/analytics", None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");

    // The page: Russian tiles and tables, inline SVG charts, A's numbers only.
    let cookie = session_cookie(&app).await;
    let page = app
        .http
        .get(format!(
            "{}/analytics?from=2026-03-01&to=2026-03-02&account=",
            app.base
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .must("page");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.must("page body");
    for needle in [
        "<svg",
        "Аналитика ответов",
        "Медиана первого ответа",
        "1 ч 5 мин",
        "1 ч 30 мин",
        "67\u{a0}%",
        "Время первого ответа по дням",
        "Доля ответов в срок по дням",
        "Очередь по приоритетам",
        "срочно",
        "По аккаунтам",
        "Магазин",
        "class=\"active\">Аналитика",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
    assert!(!html.contains("5 ч"), "workspace B's 300 min answer leaked");
    assert_eq!(html.matches("<svg").count(), 3);
    // Bad input on the page is explained in Russian, not an error page.
    let page = app
        .http
        .get(format!("{}/analytics?from=вчера&account={b}", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .must("page");
    assert_eq!(page.status(), StatusCode::OK);
    let text = page.text().await.must("page body");
    assert!(text.contains("Аккаунт не найден") || text.contains("ГГГГ-ММ-ДД"));
    // Without a session the page sends the browser to the login page.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .must("client");
    let r = anonymous
        .get(format!("{}/analytics", app.base))
        .send()
        .await
        .must("anonymous page");
    assert!(r.status().is_redirection(), "{}", r.status());

    // A self-contained copy (stylesheet inlined) for looking at it in a browser.
    let css = app
        .http
        .get(format!("{}/static/app.css", app.base))
        .send()
        .await
        .must("css")
        .text()
        .await
        .must("css body");
    let standalone = html.replace(
        "<link rel=\"stylesheet\" href=\"/static/app.css\">",
        &format!("<style>{css}</style>"),
    );
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("analytics.html");
    std::fs::write(&path, standalone).must("write page");
    eprintln!("page: {}", path.display());
}
