//! The operator UI in a real (headless) Chromium driven through chromedriver: log in, see the
//! inbox, open a chat, watch a buyer message arrive live, get a phone number flagged, fix it,
//! send, see it `sent`, and find it exactly once in the sandbox's ground truth; then a buyer's
//! 1-star review opens a WB chat and the escalation arrives live as a toast, in the header's
//! count and on the notifications page. Screenshots of
//! the inbox and a chat at desktop and phone width go to `<target>/tmp/screenshots/`.
//!
//! Without `/usr/bin/chromedriver` (or `$CHROMEDRIVER`) the test prints a loud SKIPPED and
//! passes, unless `CI=true`: there it must run (`scripts/test` installs Chromium).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{Must, MustSome, TOKEN_A, spawn_app};

/// Kills chromedriver (and so its browser) when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> Option<PathBuf> {
    std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromedriver")))
        .filter(|p| p.exists())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .must("bind")
        .local_addr()
        .must("addr")
        .port()
}

async fn start_driver(bin: &Path) -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .must("start chromedriver");
    let driver = Driver(child);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await
            && r.status().is_success()
        {
            return (driver, port);
        }
        assert!(Instant::now() < deadline, "chromedriver did not answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn browser(port: u16, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                "--window-size=1280,800", "--lang=ru-RU",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .must("new WebDriver session")
}

/// Polls `f` until it yields `Some`, for at most `secs` seconds.
async fn wait_for<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Text of every element matching `css`, in document order.
async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(found) = c.find_all(Locator::Css(css)).await {
        for e in found {
            out.push(e.text().await.unwrap_or_default());
        }
    }
    out
}

async fn shot(c: &Client, dir: &Path, name: &str) {
    let png = c.screenshot().await.must("screenshot");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).must("write screenshot");
    eprintln!("screenshot: {}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_answers_a_buyer_in_the_browser() {
    let Some(bin) = chromedriver() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "CI=true but chromedriver is missing (apt-get install chromium chromium-driver)"
            );
        }
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !!! SKIPPED browser test: /usr/bin/chromedriver not found\n\
             !!! (apt-get install -y chromium chromium-driver, or set CHROMEDRIVER)\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
    };
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&shots).must("screenshot dir");

    // The app with its sync engine and sender running, one sandbox seller connected.
    let app = spawn_app().await;
    let account = app.connected_account(&app.key_a, TOKEN_A).await;
    let stop = CancellationToken::new();
    let sync_task = tokio::spawn(Arc::clone(&app.engine).run(stop.clone()));
    let outbox_task = tokio::spawn(Arc::clone(&app.engine).run_outbox(stop.clone()));

    // A chat that can be answered, once the engine has synced it.
    let (chat_row, wb_chat) = wait_for("a replyable chat", 30, || async {
        let r = app
            .get(
                &format!("/api/v1/chats?accountId={account}"),
                Some(&app.key_a),
            )
            .await;
        r.json["chats"].as_array().and_then(|chats| {
            chats.iter().find(|c| c["replyable"] == true).map(|c| {
                (
                    c["id"].as_i64().unwrap_or(0),
                    c["chatId"].as_str().unwrap_or("").to_owned(),
                )
            })
        })
    })
    .await;

    let (_driver, port) = start_driver(&bin).await;
    let profile = tempfile::tempdir().must("profile dir");
    let c = browser(port, profile.path()).await;
    c.set_window_size(1280, 800).await.must("window size");

    // Log in.
    c.goto(&format!("{}/inbox", app.base)).await.must("goto");
    let url = c.current_url().await.must("url");
    assert_eq!(url.path(), "/login", "not logged in: to the login page");
    c.find(Locator::Id("email"))
        .await
        .must("email")
        .send_keys("a@shop-a.ru")
        .await
        .must("type email");
    c.find(Locator::Id("password"))
        .await
        .must("password")
        .send_keys("password-a")
        .await
        .must("type password");
    c.find(Locator::Id("login-submit"))
        .await
        .must("submit")
        .click()
        .await
        .must("click");
    wait_for("the inbox", 10, || async {
        let u = c.current_url().await.ok()?;
        (u.path() == "/inbox").then_some(())
    })
    .await;

    // The inbox lists the chats.
    let row_css = format!("li.chat[data-id=\"{chat_row}\"]");
    wait_for("the chat in the inbox", 15, || async {
        c.find(Locator::Css(&row_css)).await.ok().map(|_| ())
    })
    .await;
    let clients = texts(&c, "li.chat .client").await;
    assert!(!clients.is_empty());
    shot(&c, &shots, "inbox-desktop").await;

    // Keyboard: j selects the first row.
    c.find(Locator::Css("body"))
        .await
        .must("body")
        .send_keys("j")
        .await
        .must("j");
    wait_for("a selected row", 5, || async {
        c.find(Locator::Css("li.chat.selected"))
            .await
            .ok()
            .map(|_| ())
    })
    .await;

    // Open the chat.
    c.find(Locator::Css(&format!("{row_css} a")))
        .await
        .must("row link")
        .click()
        .await
        .must("open chat");
    wait_for("the chat page", 10, || async {
        let u = c.current_url().await.ok()?;
        (u.path() == format!("/chats/{chat_row}")).then_some(())
    })
    .await;
    let reply = c.find(Locator::Id("reply")).await.must("composer");

    // A buyer writes: the message shows up without a reload.
    let marker = format!("Где мой заказ? метка {}", std::process::id());
    let http = reqwest::Client::new();
    let r = http
        .post(format!(
            "{}/_sandbox/chats/{wb_chat}/buyer-messages",
            app.sandbox.url()
        ))
        .bearer_auth(TOKEN_A)
        .json(&json!({"text": marker}))
        .send()
        .await
        .must("buyer message");
    assert!(r.status().is_success(), "{}", r.status());
    wait_for("the buyer message, live", 20, || async {
        let t = texts(&c, "#feed article.msg.buyer .text").await;
        t.iter().any(|x| x.contains(&marker)).then_some(())
    })
    .await;

    // A phone number in the reply is flagged while typing.
    reply.click().await.must("focus reply");
    reply
        .send_keys("Здравствуйте! Позвоните мне: +7 (999) 123-45-67")
        .await
        .must("type reply");
    let flagged = wait_for("the phone flagged", 10, || async {
        let v = texts(&c, "#violations li").await;
        (!v.is_empty()).then_some(v)
    })
    .await;
    assert!(
        flagged
            .iter()
            .any(|v| v.contains("999") && v.contains("123-45-67")),
        "{flagged:?}"
    );
    let marks = texts(&c, "#reply-backdrop mark").await;
    assert!(marks.iter().any(|m| m.contains("123-45-67")), "{marks:?}");
    let counter = c
        .find(Locator::Id("counter"))
        .await
        .must("counter")
        .text()
        .await
        .must("counter text");
    assert_eq!(counter, "47/1000");
    shot(&c, &shots, "chat-flagged-desktop").await;

    // Fix it: the flags go away.
    let answer = format!(
        "Здравствуйте! Заказ уже в пути, доставка завтра. {}",
        std::process::id()
    );
    reply.clear().await.must("clear");
    reply.send_keys(&answer).await.must("type the fix");
    wait_for("no violations", 10, || async {
        texts(&c, "#violations li").await.is_empty().then_some(())
    })
    .await;

    // Ctrl+Enter sends; the status goes to `sent`.
    reply
        .send_keys("\u{E009}\u{E007}\u{E000}")
        .await
        .must("ctrl+enter");
    wait_for("the reply sent", 30, || async {
        let s = c.find(Locator::Id("send-status")).await.ok()?;
        let state = s.attr("data-state").await.ok()??;
        assert_ne!(state, "failed", "{:?}", s.text().await);
        (state == "sent").then_some(())
    })
    .await;
    let typed = reply.prop("value").await.must("value").unwrap_or_default();
    assert!(typed.is_empty(), "the composer is cleared: {typed:?}");
    // The echo arrives as a seller message in the feed.
    wait_for("the reply in the feed", 20, || async {
        let t = texts(&c, "#feed article.msg.seller .text").await;
        t.iter().any(|x| x == &answer).then_some(())
    })
    .await;
    shot(&c, &shots, "chat-desktop").await;

    // Phone width.
    c.set_window_size(390, 844).await.must("phone size");
    c.refresh().await.must("reload");
    c.find(Locator::Id("reply"))
        .await
        .must("composer at phone width");
    shot(&c, &shots, "chat-phone").await;
    c.goto(&format!("{}/inbox", app.base)).await.must("inbox");
    c.find(Locator::Css(&row_css))
        .await
        .must("row at phone width");
    shot(&c, &shots, "inbox-phone").await;
    c.goto(&format!("{}/accounts", app.base))
        .await
        .must("accounts");
    let badges = texts(&c, ".state-badge").await;
    assert_eq!(badges, vec!["активен".to_owned()]);
    shot(&c, &shots, "accounts-phone").await;

    // WB (the sandbox) has the reply exactly once.
    let truth = http
        .get(format!(
            "{}/_sandbox/chats/{wb_chat}/messages",
            app.sandbox.url()
        ))
        .bearer_auth(TOKEN_A)
        .send()
        .await
        .must("ground truth");
    assert_eq!(truth.status(), StatusCode::OK);
    let truth: Value = truth.json().await.must("truth json");
    let copies = truth["messages"]
        .as_array()
        .must_some("messages")
        .iter()
        .filter(|m| m["text"] == answer.as_str() && m["sender"] == "seller")
        .count();
    assert_eq!(copies, 1, "{truth}");
    let phones = truth["messages"]
        .as_array()
        .must_some("messages")
        .iter()
        .filter(|m| m["text"].as_str().is_some_and(|t| t.contains("123-45-67")))
        .count();
    assert_eq!(phones, 0, "the flagged draft never left");

    // Escalation, live: a buyer leaves a 1-star review, WB opens a chat; once synced, the
    // scanner announces it and every open page shows a toast and counts it in the header.
    c.set_window_size(1280, 800).await.must("desktop size");
    c.goto(&format!("{}/inbox", app.base)).await.must("inbox");
    let badge_before: i64 = c
        .find(Locator::Id("notif-badge"))
        .await
        .must("badge")
        .text()
        .await
        .must("badge text")
        .trim()
        .parse()
        .unwrap_or(0);
    let escalations = tokio::spawn(sync::escalation::run_escalations(
        app.store.clone(),
        store::Clock::System,
        Duration::from_millis(300),
        Some(app.engine.notices()),
        stop.clone(),
    ));
    let review = http
        .post(format!("{}/_sandbox/reviews", app.sandbox.url()))
        .bearer_auth(TOKEN_A)
        .json(&json!({"clientName": "Тостер", "rating": 1, "text": "Пришло разбитым"}))
        .send()
        .await
        .must("review");
    assert!(review.status().is_success());
    let toast = wait_for("the escalation toast", 30, || async {
        texts(&c, "#toasts .toast")
            .await
            .into_iter()
            .find(|t| t.contains("Тостер"))
    })
    .await;
    assert!(toast.contains("Новый чат по негативному отзыву"), "{toast}");
    let badge_after: i64 = c
        .find(Locator::Id("notif-badge"))
        .await
        .must("badge")
        .text()
        .await
        .must("badge text")
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(badge_after > badge_before, "{badge_before} → {badge_after}");
    shot(&c, &shots, "inbox-escalation-toast").await;
    // The notifications page lists it.
    c.goto(&format!("{}/notifications", app.base))
        .await
        .must("notifications");
    let rows = texts(&c, "main").await.join("\n");
    assert!(rows.contains("Тостер"), "{rows}");

    c.close().await.must("close browser");
    stop.cancel();
    let _ = sync_task.await;
    let _ = outbox_task.await;
    let _ = escalations.await;
}
