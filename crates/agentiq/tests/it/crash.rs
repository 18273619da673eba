//! The store survives SIGKILL at random moments under WB faults and ends equal to WB's truth.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use domain::AccountState;
use rand::Rng;
use sandbox::{FaultSpec, Sandbox, SandboxConfig};
use store::ChatFilter;

use crate::support::{App, PgDatabase, buyer_message, ground_truth};

const SELLER_A: &str = "crash-seller-a";
const SELLER_B: &str = "crash-seller-b";

type Truth = BTreeMap<String, Vec<(String, String, String)>>;

/// The store's copy of one workspace's chats, in the ground truth's shape.
async fn local_copy(store: &store::Store, workspace: &str) -> Truth {
    let ws = store
        .list_workspaces()
        .await
        .expect("workspaces")
        .into_iter()
        .find(|w| w.name == workspace)
        .expect("workspace exists");
    let filter = ChatFilter {
        limit: 1000,
        ..ChatFilter::default()
    };
    let mut out = BTreeMap::new();
    for chat in store.list_chats(ws.id, &filter).await.expect("chats") {
        let messages = store
            .list_messages(ws.id, chat.id)
            .await
            .expect("messages")
            .into_iter()
            .map(|m| (m.event_id.to_string(), m.sender.as_str().to_owned(), m.text))
            .collect();
        out.insert(chat.chat_id.to_string(), messages);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_faults_loses_nothing_and_doubles_nothing_sqlite() {
    sigkill_scenario(App::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_faults_loses_nothing_and_doubles_nothing_postgres() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    sigkill_scenario(App::with_database(db.url.clone())).await;
    db.drop_database().await;
}

async fn sigkill_scenario(app: App) {
    let sb = sandbox::start(
        Sandbox::new(SandboxConfig {
            tokens: vec![SELLER_A.into(), SELLER_B.into()],
            chats: 60,
            seed: 2024,
            page_size: 5,
            rate_limit: None,
            timeout_hold: Duration::from_secs(2),
            faults: "5xx=0.1,429=0.05,timeout=0.05,duplicate_events=0.2,empty_chats"
                .parse()
                .expect("faults"),
            ..SandboxConfig::default()
        }),
        "127.0.0.1:0".parse::<SocketAddr>().expect("addr"),
    )
    .await
    .expect("sandbox");
    let base = sb.url();
    for (name, token, ws) in [("A", SELLER_A, "Продавец A"), ("B", SELLER_B, "Продавец B")]
    {
        app.run(
            &[
                "account",
                "add",
                "--name",
                name,
                "--token-stdin",
                "--api-base-url",
                &base,
                "--workspace",
                ws,
            ],
            &format!("{token}\n"),
        );
    }
    let chats_a: Vec<String> = ground_truth(&base, SELLER_A).await.into_keys().collect();
    let mut rng = rand::rng();
    let mut kills = 0;
    for round in 0..6 {
        let mut serve = app.spawn_serve();
        // Buyers keep writing while the app runs and dies.
        for i in 0..3 {
            let chat = &chats_a[rng.random_range(0..chats_a.len())];
            buyer_message(&base, SELLER_A, chat, &format!("Сообщение {round}-{i}")).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(150..1200))).await;
        serve.kill().expect("SIGKILL");
        let _ = serve.wait();
        kills += 1;
        let stored = local_copy(&app.store().await, "Продавец A").await;
        let n: usize = stored.values().map(Vec::len).sum();
        eprintln!("after kill {kills}: {n} messages of seller A stored");
    }
    assert_eq!(kills, 6);
    // WB calms down; one last run to the end.
    sb.sandbox.set_faults(FaultSpec::none());
    app.run(&["sync", "--once"], "");

    let store = app.store().await;
    for (token, ws) in [(SELLER_A, "Продавец A"), (SELLER_B, "Продавец B")] {
        let truth = ground_truth(&base, token).await;
        let local = local_copy(&store, ws).await;
        assert_eq!(local.len(), truth.len(), "{ws}: every chat, no extra");
        for (chat, messages) in &truth {
            assert_eq!(
                local.get(chat),
                Some(messages),
                "{ws}: chat {chat} message for message"
            );
        }
    }
    // The sellers' data stayed apart.
    let a = local_copy(&store, "Продавец A").await;
    let b = local_copy(&store, "Продавец B").await;
    assert!(a.keys().all(|k| !b.contains_key(k)));
    let sent: u64 = sb.sandbox.stats().values().flat_map(|m| m.values()).sum();
    assert!(sent > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_ends_token_invalid_without_a_request_storm() {
    let sb = sandbox::start(
        Sandbox::new(SandboxConfig {
            tokens: vec![SELLER_A.into()],
            chats: 2,
            ..SandboxConfig::default()
        }),
        "127.0.0.1:0".parse::<SocketAddr>().expect("addr"),
    )
    .await
    .expect("sandbox");
    let app = App::new();
    app.run(
        &[
            "account",
            "add",
            "--name",
            "Старый токен",
            "--token-stdin",
            "--api-base-url",
            &sb.url(),
        ],
        "revoked-token\n",
    );
    let mut serve = app.spawn_serve();
    let store = app.store().await;
    let ws = store.list_workspaces().await.expect("ws")[0].id;
    let mut state = AccountState::Active;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        state = store.list_accounts(ws).await.expect("accounts")[0].state;
        if state == AccountState::TokenInvalid {
            break;
        }
    }
    assert_eq!(state, AccountState::TokenInvalid);
    // Keep serving a while: a stopped account must not be polled again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    serve.kill().expect("kill");
    let _ = serve.wait();
    let unauthorized: u64 = sb
        .sandbox
        .stats()
        .values()
        .filter_map(|m| m.get("401"))
        .sum();
    assert_eq!(unauthorized, 1, "one refused request, then silence");
    let account = &store.list_accounts(ws).await.expect("accounts")[0];
    assert!(
        account
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("401")),
        "{account:?}"
    );
}
