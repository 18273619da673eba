//! Integration tests of the store, each run on SQLite and on PostgreSQL (see `support`).

mod analytics;
mod attachments;
mod notify;
mod sessions;
mod support;
mod triage;

use domain::{
    AccountId, AccountState, AttachmentKind, ChatId, DownloadId, EventId, GoodCard, ReplySign,
    Sender, WorkspaceId,
};
use store::{
    Attachment, ChatFilter, ChatSnapshot, IngestPage, NewMessage, Secret, SecretKey, Store,
    StoreError,
};
use support::{Must, TestDb};

// ---------------------------------------------------------------- helpers

const TOKEN: &str = "eyJhbGciOiJFUzI1NiIsImtpZCI6IjIwMjUwNTIwdjEifQ.payload.signature";

async fn fixture(store: &Store) -> (WorkspaceId, AccountId) {
    let ws = store
        .create_workspace("Магазин")
        .await
        .must("create workspace");
    let account = store
        .create_account(
            ws,
            "WB main",
            &Secret::new(TOKEN),
            Some("http://127.0.0.1:9"),
        )
        .await
        .must("create account");
    (ws, account)
}

fn chat_id(n: u32) -> ChatId {
    ChatId::parse(format!("1:chat-{n:04}")).must("chat id")
}

fn sign(n: u32, v: u32) -> ReplySign {
    ReplySign::parse(format!("1:chat-{n:04}:{v}:{}", "ab".repeat(32))).must("reply sign")
}

fn ev(chat: u32, event: &str, sender: Sender, ts: i64, text: &str) -> NewMessage {
    NewMessage {
        chat_id: chat_id(chat),
        event_id: EventId::parse(event).must("event id"),
        sender,
        source: "android".to_owned(),
        text: text.to_owned(),
        add_timestamp_ms: ts,
        is_new_chat: false,
        reply_sign: None,
        client_name: Some("Иван".to_owned()),
        good_card: None,
        attachments: Vec::new(),
    }
}

fn new_chat_ev(chat: u32, event: &str, ts: i64, text: &str) -> NewMessage {
    NewMessage {
        is_new_chat: true,
        reply_sign: Some(sign(chat, 1)),
        ..ev(chat, event, Sender::Client, ts, text)
    }
}

fn page(events: Vec<NewMessage>, next: i64) -> IngestPage {
    IngestPage {
        events,
        next_cursor: next,
    }
}

async fn only_chat(store: &Store, ws: WorkspaceId) -> store::Chat {
    let chats = store
        .list_chats(ws, &ChatFilter::default())
        .await
        .must("list chats");
    assert_eq!(chats.len(), 1, "expected exactly one chat: {chats:?}");
    chats.into_iter().next().must("one chat")
}

/// Reads one integer or blob straight from the database, bypassing the store's API.
async fn raw_i64(db: &TestDb, sql: &'static str) -> i64 {
    if db.is_postgres() {
        let pool = sqlx::PgPool::connect(&db.url).await.must("raw pg");
        let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.must(sql);
        pool.close().await;
        v
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.must("raw sqlite");
        let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.must(sql);
        pool.close().await;
        v
    }
}

async fn raw_bytes(db: &TestDb, sql: &'static str) -> Vec<u8> {
    if db.is_postgres() {
        let pool = sqlx::PgPool::connect(&db.url).await.must("raw pg");
        let v: Vec<u8> = sqlx::query_scalar(sql).fetch_one(&pool).await.must(sql);
        pool.close().await;
        v
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.must("raw sqlite");
        let v: Vec<u8> = sqlx::query_scalar(sql).fetch_one(&pool).await.must(sql);
        pool.close().await;
        v
    }
}

/// Runs one statement directly on the database (for settings no API writes yet).
async fn raw_exec(db: &TestDb, sql: &str) {
    if db.is_postgres() {
        let pool = sqlx::PgPool::connect(&db.url).await.must("raw pg");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&pool)
            .await
            .must(sql);
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.must("raw sqlite");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&pool)
            .await
            .must(sql);
        pool.close().await;
    }
}

async fn message_count(db: &TestDb) -> i64 {
    raw_i64(db, "SELECT COUNT(*) FROM messages").await
}

// ---------------------------------------------------------------- tests

both_backends!(
    migrations_apply_and_are_idempotent,
    users_are_unique_by_email,
    tokens_are_encrypted_at_rest,
    sync_state_and_polling_set,
    ingest_is_idempotent,
    a_failing_page_writes_nothing,
    chats_come_from_events_alone,
    merge_chats_enriches_without_duplicates,
    unread_counts_and_mark_read,
    workspaces_are_isolated,
    platform_messages_and_attachments,
    ingest_rejects_unknown_accounts,
    large_pages_span_statement_chunks,
    search_finds_names_and_message_text,
    waiting_since_and_urgency_order,
);

async fn migrations_apply_and_are_idempotent(db: TestDb) {
    let store = db.store().await;
    store.migrate().await.must("second migrate");
    store.ping().await.must("ping");
    let expected = if db.is_postgres() {
        store::Backend::Postgres
    } else {
        store::Backend::Sqlite
    };
    assert_eq!(store.backend(), expected);
    // A second process opening the same database migrates nothing and works.
    let again = db.store().await;
    assert!(again.list_workspaces().await.must("list").is_empty());
    for table in [
        "workspaces",
        "users",
        "accounts",
        "sync_state",
        "chats",
        "messages",
        "attachments",
    ] {
        let sql: &'static str = match table {
            "workspaces" => "SELECT COUNT(*) FROM workspaces",
            "users" => "SELECT COUNT(*) FROM users",
            "accounts" => "SELECT COUNT(*) FROM accounts",
            "sync_state" => "SELECT COUNT(*) FROM sync_state",
            "chats" => "SELECT COUNT(*) FROM chats",
            "messages" => "SELECT COUNT(*) FROM messages",
            _ => "SELECT COUNT(*) FROM attachments",
        };
        assert_eq!(raw_i64(&db, sql).await, 0, "{table}");
    }
}

async fn users_are_unique_by_email(db: TestDb) {
    let store = db.store().await;
    let ws = store.create_workspace("Команда").await.must("ws");
    let user = store
        .create_user(ws, " Anna@Example.ru ", "$argon2id$fake")
        .await
        .must("user");
    let found = store
        .find_user_by_email("anna@example.RU")
        .await
        .must("find")
        .must("some");
    assert_eq!(found.id, user);
    assert_eq!(found.workspace_id, ws);
    assert_eq!(found.email, "anna@example.ru");
    assert!(!format!("{found:?}").contains("argon2"), "hash in Debug");
    let dup = store.create_user(ws, "ANNA@example.ru", "x").await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    let missing_ws = WorkspaceId::new(999_999).must("id");
    let orphan = store.create_user(missing_ws, "b@example.ru", "x").await;
    assert!(
        matches!(orphan, Err(StoreError::NotFound { .. })),
        "{orphan:?}"
    );
    assert!(
        store
            .find_user_by_email("nobody@example.ru")
            .await
            .must("find")
            .is_none()
    );
    assert_eq!(store.get_workspace(ws).await.must("get ws").name, "Команда");
}

async fn tokens_are_encrypted_at_rest(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    let token = store.account_token(account).await.must("token");
    assert_eq!(token.expose(), TOKEN);
    assert_eq!(format!("{token:?} {token}"), "Secret(***) ***");

    let ciphertext = raw_bytes(&db, "SELECT token_ciphertext FROM accounts").await;
    let nonce = raw_bytes(&db, "SELECT token_nonce FROM accounts").await;
    assert_eq!(nonce.len(), 24);
    assert_ne!(ciphertext.as_slice(), TOKEN.as_bytes());
    assert!(
        !ciphertext
            .windows(16)
            .any(|w| TOKEN.as_bytes().windows(16).any(|t| t == w)),
        "plaintext fragment in the ciphertext"
    );

    // Another key cannot read it, and says so without revealing anything.
    let other = db.store_with_key(SecretKey::generate().must("key")).await;
    match other.account_token(account).await {
        Err(StoreError::Crypto(msg)) => assert!(!msg.contains(TOKEN)),
        other => panic!("expected a crypto error, got {other:?}"),
    }

    // Replacing the token re-encrypts with a fresh nonce and revives the account.
    store
        .set_account_state(
            account,
            AccountState::TokenInvalid,
            Some("401 Unauthorized"),
        )
        .await
        .must("state");
    store
        .replace_token(ws, account, &Secret::new("eyJnew"))
        .await
        .must("replace");
    assert_eq!(
        store.account_token(account).await.must("token").expose(),
        "eyJnew"
    );
    assert_ne!(
        raw_bytes(&db, "SELECT token_nonce FROM accounts").await,
        nonce
    );
    let acc = store.get_account(ws, account).await.must("account");
    assert_eq!(acc.state, AccountState::Active);
    assert_eq!(acc.last_error, None);
    assert_eq!(acc.api_base_url.as_deref(), Some("http://127.0.0.1:9"));
    assert!(!format!("{acc:?}").contains("eyJ"));
    assert!(matches!(
        store
            .account_token(AccountId::new(424_242).must("id"))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn sync_state_and_polling_set(db: TestDb) {
    let store = db.store().await;
    let (ws, a1) = fixture(&store).await;
    let a2 = store
        .create_account(ws, "second", &Secret::new("t2"), None)
        .await
        .must("a2");
    let other_ws = store.create_workspace("other").await.must("ws2");
    let a3 = store
        .create_account(other_ws, "third", &Secret::new("t3"), None)
        .await
        .must("a3");

    let ids =
        |targets: &[store::PollTarget]| targets.iter().map(|t| t.account.id).collect::<Vec<_>>();
    let all = store.accounts_to_poll().await.must("poll");
    assert_eq!(ids(&all), vec![a1, a2, a3]);
    assert_eq!(all[0].sync, store::SyncState::default());

    let n = store
        .record_sync_failure(a1, AccountState::RateLimited, "429", Some(5_000))
        .await
        .must("failure");
    assert_eq!(n, 1);
    let n = store
        .record_sync_failure(a1, AccountState::Error, "502 Bad Gateway", Some(9_000))
        .await
        .must("failure");
    assert_eq!(n, 2);
    store
        .record_sync_failure(a2, AccountState::TokenInvalid, "401", None)
        .await
        .must("failure");
    let targets = store.accounts_to_poll().await.must("poll");
    assert_eq!(ids(&targets), vec![a1, a3], "token_invalid is not polled");
    let t1 = &targets[0];
    assert_eq!(t1.account.state, AccountState::Error);
    assert_eq!(t1.sync.consecutive_failures, 2);
    assert_eq!(t1.sync.backoff_until_ms, Some(9_000));
    assert_eq!(t1.sync.last_error.as_deref(), Some("502 Bad Gateway"));

    store.record_sync_success(a1).await.must("success");
    let s = store.sync_state(a1).await.must("sync");
    assert_eq!(s.consecutive_failures, 0);
    assert_eq!(s.backoff_until_ms, None);
    assert!(s.last_success_at_ms.is_some());
    let acc = store.get_account(ws, a1).await.must("acc");
    assert_eq!(acc.state, AccountState::Active);
    assert!(acc.last_sync_at_ms.is_some());
    assert_eq!(store.list_accounts(ws).await.must("list").len(), 2);
}

async fn ingest_is_idempotent(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    let mut with_file = ev(1, "e3", Sender::Client, 1_300, "фото");
    with_file.attachments = vec![Attachment {
        id: None,
        kind: AttachmentKind::Image,
        download_id: Some(DownloadId::parse("img-1").must("dl")),
        name: None,
        content_type: None,
        size: None,
        url: Some("https://example.invalid/img-1".to_owned()),
    }];
    let p = page(
        vec![
            new_chat_ev(1, "e1", 1_100, "Здравствуйте"),
            ev(1, "e2", Sender::Seller, 1_200, "Добрый день"),
            with_file.clone(),
            with_file, // the same event twice in one page
            ev(2, "e4", Sender::Client, 1_400, "Где заказ?"),
        ],
        1_401,
    );
    let first = store.ingest_page(account, &p).await.must("ingest");
    assert_eq!(
        (first.inserted, first.duplicates, first.chats_created),
        (4, 1, 2)
    );
    assert_eq!(
        store.sync_state(account).await.must("sync").next_cursor,
        Some(1_401)
    );

    let before = store
        .list_chats(ws, &ChatFilter::default())
        .await
        .must("chats");
    let second = store.ingest_page(account, &p).await.must("again");
    assert_eq!(
        (second.inserted, second.duplicates, second.chats_created),
        (0, 5, 0)
    );
    assert_eq!(message_count(&db).await, 4);
    assert_eq!(raw_i64(&db, "SELECT COUNT(*) FROM attachments").await, 1);
    assert_eq!(
        store
            .list_chats(ws, &ChatFilter::default())
            .await
            .must("chats"),
        before
    );

    // Overlapping next page: one old event, one new.
    let third = store
        .ingest_page(
            account,
            &page(
                vec![
                    ev(2, "e4", Sender::Client, 1_400, "Где заказ?"),
                    ev(2, "e5", Sender::Client, 1_500, "Ау"),
                ],
                1_501,
            ),
        )
        .await
        .must("overlap");
    assert_eq!((third.inserted, third.duplicates), (1, 1));
    assert_eq!(message_count(&db).await, 5);

    // An empty page moves only the cursor.
    let empty = store
        .ingest_page(account, &page(vec![], 1_600))
        .await
        .must("empty");
    assert_eq!(empty, store::IngestOutcome::default());
    assert_eq!(
        store.sync_state(account).await.must("sync").next_cursor,
        Some(1_600)
    );
}

async fn a_failing_page_writes_nothing(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    store
        .ingest_page(
            account,
            &page(vec![new_chat_ev(1, "a1", 1_000, "первое")], 1_001),
        )
        .await
        .must("first page");
    let chats_before = store
        .list_chats(ws, &ChatFilter::default())
        .await
        .must("chats");
    let sync_before = store.sync_state(account).await.must("sync");

    // Valid events around one the database rejects (a negative timestamp violates a CHECK):
    // the new chat, the messages before the bad one and the cursor must all roll back.
    let mut bad = ev(2, "a4", Sender::Client, -5, "сломано");
    bad.reply_sign = Some(sign(2, 1));
    let failing = page(
        vec![
            ev(1, "a2", Sender::Client, 2_000, "второе"),
            new_chat_ev(2, "a3", 2_100, "новый чат"),
            bad,
            ev(1, "a5", Sender::Client, 2_300, "после"),
        ],
        2_301,
    );
    let err = store.ingest_page(account, &failing).await;
    assert!(matches!(err, Err(StoreError::Database(_))), "{err:?}");
    assert_eq!(message_count(&db).await, 1);
    assert_eq!(
        store
            .list_chats(ws, &ChatFilter::default())
            .await
            .must("chats"),
        chats_before
    );
    assert_eq!(store.sync_state(account).await.must("sync"), sync_before);
    assert_eq!(raw_i64(&db, "SELECT COUNT(*) FROM chats").await, 1);

    // The store still works, and the corrected page goes in whole.
    let mut fixed = failing.clone();
    fixed.events[2].add_timestamp_ms = 2_200;
    let ok = store.ingest_page(account, &fixed).await.must("fixed page");
    assert_eq!((ok.inserted, ok.duplicates, ok.chats_created), (4, 0, 1));
    assert_eq!(
        store.sync_state(account).await.must("sync").next_cursor,
        Some(2_301)
    );
}

async fn chats_come_from_events_alone(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    // Never called merge_chats: /chats may be empty while /events has data.
    let mut first = new_chat_ev(7, "n1", 5_000, "Хочу вернуть товар");
    first.good_card = Some(GoodCard {
        nm_id: Some(123_456_789),
        rid: Some("rid-1".to_owned()),
        price: Some(1_990),
        price_currency: Some("RUB".to_owned()),
        size: Some("M".to_owned()),
    });
    store
        .ingest_page(
            account,
            &page(
                vec![first, ev(7, "n2", Sender::Seller, 5_100, "Оформим")],
                5_101,
            ),
        )
        .await
        .must("ingest");
    let chat = only_chat(&store, ws).await;
    assert_eq!(chat.chat_id, chat_id(7));
    assert_eq!(chat.account_id, account);
    assert_eq!(chat.reply_sign, Some(sign(7, 1)));
    assert_eq!(chat.client_name.as_deref(), Some("Иван"));
    assert_eq!(
        chat.good_card.as_ref().and_then(|c| c.nm_id),
        Some(123_456_789)
    );
    assert_eq!(chat.last_message_text.as_deref(), Some("Оформим"));
    assert_eq!(chat.last_message_at_ms, Some(5_100));
    assert_eq!(chat.last_buyer_message_at_ms, Some(5_000));
    let by_wb = store
        .find_chat_by_wb_id(ws, account, &chat_id(7))
        .await
        .must("by wb id");
    assert_eq!(by_wb.map(|c| c.id), Some(chat.id));

    // A newer isNewChat event carries a new-format signature: the newest wins, and an older
    // event arriving later does not roll it back.
    let mut newer = ev(7, "n3", Sender::Client, 6_000, "ещё");
    newer.reply_sign = Some(sign(7, 2));
    let mut stale = ev(7, "n0", Sender::Client, 4_000, "старое");
    stale.reply_sign = Some(sign(7, 0));
    store
        .ingest_page(account, &page(vec![newer, stale], 6_001))
        .await
        .must("ingest");
    let chat = only_chat(&store, ws).await;
    // Within one page the newest by timestamp wins; across pages the latest page wins.
    assert_eq!(chat.reply_sign, Some(sign(7, 2)));
    assert_eq!(
        chat.last_message_text.as_deref(),
        Some("ещё"),
        "late old message is not 'last'"
    );
    assert_eq!(chat.last_message_at_ms, Some(6_000));
}

async fn merge_chats_enriches_without_duplicates(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    // An event without isNewChat: no signature yet.
    let mut first = ev(3, "m1", Sender::Client, 1_000, "Вопрос по размеру");
    first.client_name = None;
    store
        .ingest_page(account, &page(vec![first], 1_001))
        .await
        .must("ingest");
    let before = only_chat(&store, ws).await;
    assert_eq!(before.reply_sign, None);
    assert_eq!(before.client_name, None);
    let messages_before = store.list_messages(ws, before.id).await.must("messages");

    let card = GoodCard {
        nm_id: Some(42),
        rid: Some("order-77".to_owned()),
        price: Some(500),
        price_currency: Some("RUB".to_owned()),
        size: Some("42".to_owned()),
    };
    let snapshots = vec![
        ChatSnapshot {
            chat_id: chat_id(3),
            reply_sign: Some(sign(3, 9)),
            client_name: Some("Мария".to_owned()),
            good_card: Some(card.clone()),
            last_message: Some(("Вопрос по размеру".to_owned(), 1_000)),
        },
        ChatSnapshot {
            chat_id: chat_id(4),
            reply_sign: Some(sign(4, 1)),
            client_name: Some("Пётр".to_owned()),
            good_card: None,
            last_message: Some(("Привет".to_owned(), 900)),
        },
    ];
    let outcome = store.merge_chats(account, &snapshots).await.must("merge");
    assert_eq!((outcome.created, outcome.updated), (1, 1));
    let chats = store
        .list_chats(ws, &ChatFilter::default())
        .await
        .must("chats");
    assert_eq!(chats.len(), 2, "{chats:?}");
    let merged = store.find_chat(ws, before.id).await.must("find");
    assert_eq!(merged.reply_sign, Some(sign(3, 9)));
    assert_eq!(merged.client_name.as_deref(), Some("Мария"));
    assert_eq!(merged.good_card, Some(card));
    assert_eq!(merged.unread_count, before.unread_count);
    assert_eq!(
        store.list_messages(ws, before.id).await.must("messages"),
        messages_before
    );
    let created = store
        .find_chat_by_wb_id(ws, account, &chat_id(4))
        .await
        .must("find")
        .must("chat 4");
    assert_eq!(created.last_message_text.as_deref(), Some("Привет"));
    assert_eq!(created.unread_count, 0);
    assert!(
        store
            .list_messages(ws, created.id)
            .await
            .must("none")
            .is_empty()
    );
    assert!(
        store
            .sync_state(account)
            .await
            .must("sync")
            .chats_merged_at_ms
            .is_some()
    );

    // Same snapshot again: nothing changes.
    let again = store
        .merge_chats(account, &snapshots)
        .await
        .must("merge again");
    assert_eq!((again.created, again.updated), (0, 0));
    // Events for the chat /chats created attach to it, not to a new one.
    let out = store
        .ingest_page(
            account,
            &page(vec![ev(4, "m2", Sender::Client, 2_000, "Есть?")], 2_001),
        )
        .await
        .must("ingest");
    assert_eq!(out.chats_created, 0);
    assert_eq!(
        store
            .list_chats(ws, &ChatFilter::default())
            .await
            .must("chats")
            .len(),
        2
    );
    // An event without a signature keeps the one /chats gave.
    let after = store.find_chat(ws, created.id).await.must("find");
    assert_eq!(after.reply_sign, Some(sign(4, 1)));
    // A backfill re-reading an old isNewChat event (an outdated signature) does not replace
    // the current one /chats gave.
    let mut old = new_chat_ev(3, "m0", 500, "самое первое");
    old.reply_sign = Some(sign(3, 0));
    store
        .ingest_page(account, &page(vec![old], 2_002))
        .await
        .must("backfill");
    let merged = store.find_chat(ws, before.id).await.must("find");
    assert_eq!(merged.reply_sign, Some(sign(3, 9)));
    assert_eq!(after.client_name.as_deref(), Some("Иван"));
}

async fn unread_counts_and_mark_read(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    store
        .ingest_page(
            account,
            &page(
                vec![
                    new_chat_ev(5, "u1", 1_000, "раз"),
                    ev(5, "u2", Sender::Client, 1_100, "два"),
                    ev(5, "u3", Sender::Seller, 1_200, "ответ продавца"),
                    ev(5, "u4", Sender::Client, 1_300, "три"),
                ],
                1_301,
            ),
        )
        .await
        .must("ingest");
    let chat = only_chat(&store, ws).await;
    assert_eq!(chat.unread_count, 3, "seller messages are not unread");
    let unread = ChatFilter {
        unread_only: true,
        ..ChatFilter::default()
    };
    assert_eq!(store.list_chats(ws, &unread).await.must("unread").len(), 1);

    store.mark_read(ws, chat.id).await.must("mark read");
    let chat = store.find_chat(ws, chat.id).await.must("find");
    assert_eq!(chat.unread_count, 0);
    assert_eq!(chat.last_read_at_ms, Some(1_300));
    assert!(
        store
            .list_chats(ws, &unread)
            .await
            .must("unread")
            .is_empty()
    );

    // A new buyer message counts; a late-arriving old one does not.
    store
        .ingest_page(
            account,
            &page(
                vec![
                    ev(5, "u5", Sender::Client, 1_400, "четыре"),
                    ev(5, "u0", Sender::Client, 900, "нулевое"),
                ],
                1_401,
            ),
        )
        .await
        .must("ingest");
    let chat = store.find_chat(ws, chat.id).await.must("find");
    assert_eq!(chat.unread_count, 1);
    assert_eq!(chat.last_buyer_message_at_ms, Some(1_400));
    let filter = ChatFilter {
        account: Some(account),
        limit: 10,
        ..ChatFilter::default()
    };
    assert_eq!(
        store.list_chats(ws, &filter).await.must("by account").len(),
        1
    );
    let other_account = store
        .create_account(ws, "other", &Secret::new("t"), None)
        .await
        .must("acc");
    let filter = ChatFilter {
        account: Some(other_account),
        ..ChatFilter::default()
    };
    assert!(
        store
            .list_chats(ws, &filter)
            .await
            .must("by account")
            .is_empty()
    );
}

async fn workspaces_are_isolated(db: TestDb) {
    let store = db.store().await;
    let (ws_a, account) = fixture(&store).await;
    store
        .ingest_page(
            account,
            &page(vec![new_chat_ev(1, "w1", 1_000, "секрет A")], 1_001),
        )
        .await
        .must("ingest");
    let chat = only_chat(&store, ws_a).await;
    let ws_b = store.create_workspace("B").await.must("ws b");

    let not_found = |r: &Result<_, StoreError>| matches!(r, Err(StoreError::NotFound { .. }));
    assert!(not_found(
        &store.get_account(ws_b, account).await.map(|_| ())
    ));
    assert!(not_found(&store.find_chat(ws_b, chat.id).await.map(|_| ())));
    assert!(not_found(
        &store.list_messages(ws_b, chat.id).await.map(|_| ())
    ));
    assert!(not_found(&store.mark_read(ws_b, chat.id).await));
    assert!(not_found(
        &store
            .replace_token(ws_b, account, &Secret::new("stolen"))
            .await
    ));
    assert!(store.list_accounts(ws_b).await.must("accounts").is_empty());
    assert!(
        store
            .list_chats(ws_b, &ChatFilter::default())
            .await
            .must("chats")
            .is_empty()
    );
    let b_filter = ChatFilter {
        account: Some(account),
        ..ChatFilter::default()
    };
    assert!(
        store
            .list_chats(ws_b, &b_filter)
            .await
            .must("chats")
            .is_empty()
    );
    assert!(
        store
            .find_chat_by_wb_id(ws_b, account, &chat_id(1))
            .await
            .must("wb id")
            .is_none()
    );

    // A's data is untouched by B's attempts.
    assert_eq!(
        store.account_token(account).await.must("token").expose(),
        TOKEN
    );
    assert_eq!(
        store
            .find_chat(ws_a, chat.id)
            .await
            .must("a chat")
            .unread_count,
        1
    );
    assert_eq!(
        store
            .list_messages(ws_a, chat.id)
            .await
            .must("a messages")
            .len(),
        1
    );
}

async fn platform_messages_and_attachments(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    let mut template = ev(
        9,
        "p1",
        Sender::Wb,
        1_000,
        "Покупатель оставил отзыв с оценкой 2",
    );
    template.is_new_chat = true;
    template.reply_sign = Some(sign(9, 1));
    template.source = "rusite".to_owned();
    let mut reply = ev(9, "p2", Sender::Client, 1_100, "");
    reply.attachments = vec![
        Attachment {
            id: None,
            kind: AttachmentKind::Image,
            download_id: Some(DownloadId::parse("img-9").must("dl")),
            name: None,
            content_type: None,
            size: None,
            url: Some("https://example.invalid/img-9".to_owned()),
        },
        Attachment {
            id: None,
            kind: AttachmentKind::File,
            download_id: Some(DownloadId::parse("pdf-9").must("dl")),
            name: Some("чек.pdf".to_owned()),
            content_type: Some("application/pdf".to_owned()),
            size: Some(48_213),
            url: Some("https://example.invalid/pdf-9".to_owned()),
        },
    ];
    store
        .ingest_page(account, &page(vec![template, reply.clone()], 1_101))
        .await
        .must("ingest");
    // The same event again does not duplicate its attachments.
    store
        .ingest_page(account, &page(vec![reply], 1_102))
        .await
        .must("again");

    let chat = only_chat(&store, ws).await;
    assert_eq!(chat.unread_count, 1, "platform messages are not unread");
    let messages = store.list_messages(ws, chat.id).await.must("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].sender, Sender::Wb);
    assert!(messages[0].is_platform);
    assert_eq!(messages[0].source, "rusite");
    assert!(messages[0].attachments.is_empty());
    assert!(!messages[1].is_platform);
    assert_eq!(messages[1].attachments.len(), 2);
    assert_eq!(messages[1].attachments[1].name.as_deref(), Some("чек.pdf"));
    assert_eq!(messages[1].attachments[1].size, Some(48_213));
    assert_eq!(messages[1].attachments[0].kind, AttachmentKind::Image);
    assert_eq!(raw_i64(&db, "SELECT COUNT(*) FROM attachments").await, 2);
}

async fn ingest_rejects_unknown_accounts(db: TestDb) {
    let store = db.store().await;
    let _ = fixture(&store).await;
    let ghost = AccountId::new(777).must("id");
    let r = store
        .ingest_page(ghost, &page(vec![ev(1, "g1", Sender::Client, 1, "x")], 2))
        .await;
    assert!(matches!(r, Err(StoreError::NotFound { .. })), "{r:?}");
    assert_eq!(message_count(&db).await, 0);
}

async fn large_pages_span_statement_chunks(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    // 150 events over 70 chats (more than one multi-row statement of each kind), with every
    // tenth event repeated later in the page, and an attachment on every event.
    let mut events: Vec<NewMessage> = (0..150u32)
        .map(|n| {
            let sender = if n % 4 == 3 {
                Sender::Seller
            } else {
                Sender::Client
            };
            let mut e = ev(
                n % 70,
                &format!("big-{n}"),
                sender,
                10_000 + i64::from(n),
                "текст",
            );
            e.attachments = vec![Attachment {
                id: None,
                kind: AttachmentKind::File,
                download_id: Some(DownloadId::parse(format!("f-{n}")).must("dl")),
                name: Some(format!("{n}.pdf")),
                content_type: Some("application/pdf".to_owned()),
                size: Some(i64::from(n)),
                url: None,
            }];
            e
        })
        .collect();
    let repeats: Vec<NewMessage> = events.iter().step_by(10).cloned().collect();
    events.extend(repeats);
    let out = store
        .ingest_page(account, &page(events.clone(), 20_000))
        .await
        .must("ingest");
    assert_eq!(
        (out.inserted, out.duplicates, out.chats_created),
        (150, 15, 70)
    );
    assert_eq!(raw_i64(&db, "SELECT COUNT(*) FROM attachments").await, 150);
    let filter = ChatFilter {
        limit: 1000,
        ..ChatFilter::default()
    };
    let chats = store.list_chats(ws, &filter).await.must("chats");
    assert_eq!(chats.len(), 70);
    let unread: i64 = chats.iter().map(|c| c.unread_count).sum();
    let buyer = (0..150).filter(|n| n % 4 != 3).count();
    assert_eq!(unread, i64::try_from(buyer).must("count"));
    // Urgency order: waiting chats first (oldest wait first), then by latest activity.
    let keys: Vec<(bool, i64, i64)> = chats
        .iter()
        .map(|c| {
            (
                c.awaiting_since_ms.is_none(),
                c.awaiting_since_ms.unwrap_or(0),
                -c.last_message_at_ms.unwrap_or(0),
            )
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
    // Event 149 went to chat 149 % 70 = 9: buyer 9, seller 79, buyer 149.
    let nine = chats
        .iter()
        .find(|c| c.chat_id == chat_id(9))
        .must("chat 9");
    assert_eq!(nine.last_message_at_ms, Some(10_149));
    assert_eq!(nine.awaiting_since_ms, Some(10_149));
    let messages = store.list_messages(ws, nine.id).await.must("messages");
    let stamps: Vec<i64> = messages.iter().map(|m| m.add_timestamp_ms).collect();
    assert_eq!(stamps, vec![10_009, 10_079, 10_149]);
    assert!(messages.iter().all(|m| m.attachments.len() == 1));
    let again = store
        .ingest_page(account, &page(events, 20_000))
        .await
        .must("again");
    assert_eq!((again.inserted, again.duplicates), (0, 165));
    let paged = ChatFilter {
        limit: 30,
        offset: 60,
        ..ChatFilter::default()
    };
    assert_eq!(store.list_chats(ws, &paged).await.must("page").len(), 10);
}

async fn waiting_since_and_urgency_order(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    let waiting = |c: &store::Chat| c.awaiting_since_ms;
    let find = |n: u32| {
        let store = &store;
        async move {
            store
                .find_chat_by_wb_id(ws, account, &chat_id(n))
                .await
                .must("find")
                .must("chat")
        }
    };

    // A buyer message: waiting since it; a second one keeps the oldest.
    store
        .ingest_page(
            account,
            &page(
                vec![
                    new_chat_ev(1, "a1", 1_000, "Где заказ?"),
                    ev(1, "a2", Sender::Client, 1_100, "Ау"),
                ],
                1,
            ),
        )
        .await
        .must("buyer");
    assert_eq!(waiting(&find(1).await), Some(1_000));
    // A platform message changes nothing.
    store
        .ingest_page(
            account,
            &page(vec![ev(1, "a3", Sender::Wb, 1_200, "WB: напоминание")], 2),
        )
        .await
        .must("wb");
    assert_eq!(waiting(&find(1).await), Some(1_000));
    // The seller replies: nothing waits.
    store
        .ingest_page(
            account,
            &page(vec![ev(1, "a4", Sender::Seller, 1_300, "Едет")], 3),
        )
        .await
        .must("seller");
    assert_eq!(waiting(&find(1).await), None);
    // WB alone never starts a wait.
    store
        .ingest_page(
            account,
            &page(vec![ev(1, "a5", Sender::Wb, 1_400, "WB: оцените")], 4),
        )
        .await
        .must("wb again");
    assert_eq!(waiting(&find(1).await), None);
    // Buyer, seller, buyer in one page: waiting since the buyer message after the reply.
    store
        .ingest_page(
            account,
            &page(
                vec![
                    ev(1, "a6", Sender::Client, 1_500, "А когда?"),
                    ev(1, "a7", Sender::Seller, 1_600, "Завтра"),
                    ev(1, "a8", Sender::Client, 1_700, "Спасибо, а чек?"),
                    ev(1, "a9", Sender::Client, 1_800, "?"),
                    ev(1, "a10", Sender::Wb, 1_900, "WB"),
                ],
                5,
            ),
        )
        .await
        .must("mixed");
    assert_eq!(waiting(&find(1).await), Some(1_700));
    // A repeated page inserts nothing and changes nothing.
    store
        .ingest_page(
            account,
            &page(vec![ev(1, "a7", Sender::Seller, 1_600, "Завтра")], 6),
        )
        .await
        .must("repeat");
    assert_eq!(waiting(&find(1).await), Some(1_700));
    // Late arrivals: a seller reply older than the wait does not answer it; a late buyer
    // message older than the wait does not move it.
    store
        .ingest_page(
            account,
            &page(
                vec![
                    ev(1, "b1", Sender::Seller, 1_650, "поздний ответ"),
                    ev(1, "b2", Sender::Client, 1_550, "поздний вопрос"),
                ],
                7,
            ),
        )
        .await
        .must("late");
    assert_eq!(waiting(&find(1).await), Some(1_700));
    // A late buyer message older than an answered one does not start a wait.
    store
        .ingest_page(
            account,
            &page(
                vec![
                    new_chat_ev(2, "c1", 2_000, "вопрос"),
                    ev(2, "c2", Sender::Seller, 2_100, "ответ"),
                ],
                8,
            ),
        )
        .await
        .must("chat 2");
    assert_eq!(waiting(&find(2).await), None);
    store
        .ingest_page(
            account,
            &page(vec![ev(2, "c0", Sender::Client, 1_900, "ещё раньше")], 9),
        )
        .await
        .must("late buyer");
    assert_eq!(waiting(&find(2).await), None);
    // merge_chats keeps it, and a chat it creates does not wait.
    let snapshots = vec![
        ChatSnapshot {
            chat_id: chat_id(1),
            reply_sign: Some(sign(1, 2)),
            client_name: Some("Мария".to_owned()),
            good_card: None,
            last_message: Some(("новее".to_owned(), 5_000)),
        },
        ChatSnapshot {
            chat_id: chat_id(3),
            reply_sign: None,
            client_name: None,
            good_card: None,
            last_message: Some(("привет".to_owned(), 4_000)),
        },
    ];
    store.merge_chats(account, &snapshots).await.must("merge");
    assert_eq!(waiting(&find(1).await), Some(1_700));
    assert_eq!(waiting(&find(3).await), None);

    // Ordering: chat 4 waits since 1_200 (longer than chat 1's 1_700), then the answered
    // chats by latest activity: 3 (4_000), 2 (2_100).
    store
        .ingest_page(
            account,
            &page(vec![new_chat_ev(4, "d1", 1_200, "давно жду")], 10),
        )
        .await
        .must("chat 4");
    let order =
        |chats: Vec<store::Chat>| -> Vec<ChatId> { chats.into_iter().map(|c| c.chat_id).collect() };
    let all = store
        .list_chats(ws, &ChatFilter::default())
        .await
        .must("list");
    assert_eq!(
        order(all),
        vec![chat_id(4), chat_id(1), chat_id(3), chat_id(2)]
    );
    let by_account = ChatFilter {
        account: Some(account),
        ..ChatFilter::default()
    };
    let listed = store.list_chats(ws, &by_account).await.must("by account");
    assert_eq!(
        order(listed),
        vec![chat_id(4), chat_id(1), chat_id(3), chat_id(2)]
    );
    let paged = ChatFilter {
        limit: 2,
        offset: 1,
        ..ChatFilter::default()
    };
    let listed = store.list_chats(ws, &paged).await.must("paged");
    assert_eq!(order(listed), vec![chat_id(1), chat_id(3)]);

    // Workspace scoping is unchanged: another workspace sees none of it, and its own waiting
    // chat does not show up here.
    let ws_b = store.create_workspace("B").await.must("ws b");
    assert!(
        store
            .list_chats(ws_b, &ChatFilter::default())
            .await
            .must("b")
            .is_empty()
    );
    let account_b = store
        .create_account(ws_b, "B main", &Secret::new(TOKEN), None)
        .await
        .must("account b");
    store
        .ingest_page(
            account_b,
            &page(vec![new_chat_ev(9, "e1", 100, "самый давний")], 1),
        )
        .await
        .must("b ingest");
    let b = store
        .list_chats(ws_b, &ChatFilter::default())
        .await
        .must("b");
    assert_eq!(order(b), vec![chat_id(9)]);
    let a = store.list_chats(ws, &ChatFilter::default()).await.must("a");
    assert_eq!(
        order(a),
        vec![chat_id(4), chat_id(1), chat_id(3), chat_id(2)]
    );
}

#[tokio::test]
async fn sqlite_in_memory_and_nested_directories() {
    let key = || SecretKey::from_bytes([3; 32]);
    let mem = Store::open("sqlite::memory:", key())
        .await
        .must("in-memory");
    let (_ws, account) = fixture(&mem).await;
    assert_eq!(
        mem.account_token(account).await.must("token").expose(),
        TOKEN
    );

    let dir = tempfile::tempdir().must("tempdir");
    let url = format!("sqlite://{}/a/b/agentiq.db", dir.path().display());
    let store = Store::open(&url, key()).await.must("nested path");
    store.ping().await.must("ping");
    store.close().await;
    assert!(dir.path().join("a/b/agentiq.db").exists());
    let bad = Store::open("mysql://localhost/x", key()).await;
    assert!(matches!(bad, Err(StoreError::Config(_))), "{bad:?}");
}

async fn search_finds_names_and_message_text(db: TestDb) {
    let store = db.store().await;
    let (ws, account) = fixture(&store).await;
    let named = |chat, event: &str, ts, text: &str, name: &str| NewMessage {
        client_name: Some(name.to_owned()),
        ..new_chat_ev(chat, event, ts, text)
    };
    store
        .ingest_page(
            account,
            &page(
                vec![
                    named(1, "s1", 1_000, "Где мой заказ?", "Иван Петров"),
                    named(2, "s2", 1_100, "Размер M подойдёт?", "Мария"),
                    NewMessage {
                        client_name: None,
                        ..ev(
                            2,
                            "s3",
                            Sender::Seller,
                            1_200,
                            "Да, ПОДОЙДЁТ. Скидка 50%_off",
                        )
                    },
                    NewMessage {
                        client_name: None,
                        ..ev(2, "s4", Sender::Client, 1_300, "Спасибо")
                    },
                    named(3, "s5", 1_400, "Return please", "John SMITH"),
                ],
                1_401,
            ),
        )
        .await
        .must("ingest");
    let ws_b = store.create_workspace("B").await.must("ws b");

    let find = |ws, q: &str| {
        let store = store.clone();
        let filter = ChatFilter {
            search: Some(q.to_owned()),
            ..ChatFilter::default()
        };
        async move {
            let mut names: Vec<String> = store
                .list_chats(ws, &filter)
                .await
                .must("search")
                .into_iter()
                .map(|c| c.client_name.unwrap_or_default())
                .collect();
            names.sort();
            names
        }
    };
    // Buyer names, ignoring case, Cyrillic included.
    assert_eq!(find(ws, "иван").await, ["Иван Петров"]);
    assert_eq!(find(ws, "ИВАН ПЕТРОВ").await, ["Иван Петров"]);
    assert_eq!(find(ws, "иван петров").await, ["Иван Петров"]);
    assert_eq!(find(ws, "smith").await, ["John SMITH"]);
    assert_eq!(find(ws, "jOhN").await, ["John SMITH"]);
    // Any message of the chat, not only the last one, and the seller's too.
    assert_eq!(find(ws, "подойдёт").await, ["Мария"]);
    assert_eq!(find(ws, "Размер m").await, ["Мария"]);
    assert_eq!(find(ws, "гДЕ МОЙ").await, ["Иван Петров"]);
    assert_eq!(find(ws, "где мой").await, ["Иван Петров"]);
    assert_eq!(find(ws, "RETURN").await, ["John SMITH"]);
    // LIKE metacharacters are literal.
    assert_eq!(find(ws, "50%_").await, ["Мария"]);
    assert_eq!(find(ws, "%").await, ["Мария"]);
    assert_eq!(find(ws, "_").await, ["Мария"]);
    assert!(find(ws, "5_%").await.is_empty());
    assert!(find(ws, "0_").await.is_empty());
    assert!(find(ws, "ма%я").await.is_empty());
    // Blank is no search; nothing leaks across workspaces.
    assert_eq!(find(ws, "  ").await.len(), 3);
    assert!(find(ws_b, "иван").await.is_empty());
    // Combined with the other filters and the order.
    store
        .mark_read(ws, only_by_name(&store, ws, "Мария").await)
        .await
        .must("read");
    let filter = ChatFilter {
        search: Some("о".to_owned()),
        unread_only: true,
        ..ChatFilter::default()
    };
    let names: Vec<_> = store
        .list_chats(ws, &filter)
        .await
        .must("unread search")
        .into_iter()
        .map(|c| c.client_name.unwrap_or_default())
        .collect();
    assert_eq!(names, ["Иван Петров"]);
}

async fn only_by_name(store: &Store, ws: WorkspaceId, name: &str) -> domain::ChatRowId {
    store
        .list_chats(ws, &ChatFilter::default())
        .await
        .must("chats")
        .into_iter()
        .find(|c| c.client_name.as_deref() == Some(name))
        .expect("chat by name")
        .id
}
