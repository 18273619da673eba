//! Browser sessions: create, find (only while unexpired), delete; scoped to the user's workspace.

use domain::UserId;
use store::StoreError;

use crate::support::{Must, TestDb};

crate::both_backends!(sessions_round_trip_and_expire);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn sessions_round_trip_and_expire(db: TestDb) {
    let store = db.store().await;
    let ws = store.create_workspace("Команда").await.must("ws");
    let other = store.create_workspace("Чужие").await.must("ws 2");
    let user = store
        .create_user(ws, "Anna@Example.ru", "$argon2id$fake")
        .await
        .must("user");
    let later = now_ms() + 60_000;

    store
        .create_session(ws, user, b"hash-1", "csrf-1", later)
        .await
        .must("create");
    let s = store
        .find_session(b"hash-1")
        .await
        .must("find")
        .expect("session");
    assert_eq!((s.workspace_id, s.user_id), (ws, user));
    assert_eq!(s.email, "anna@example.ru");
    assert_eq!(s.csrf_token, "csrf-1");
    assert_eq!(s.expires_at_ms, later);
    assert!(!format!("{s:?}").contains("csrf-1"));

    // Same hash twice is a conflict; a user of another workspace is not found.
    assert!(matches!(
        store.create_session(ws, user, b"hash-1", "x", later).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store
            .create_session(other, user, b"hash-2", "x", later)
            .await
            .is_err_and(|e| e.is_not_found())
    );
    let ghost = UserId::new(999_999).must("id");
    assert!(
        store
            .create_session(ws, ghost, b"hash-3", "x", later)
            .await
            .is_err_and(|e| e.is_not_found())
    );

    // Expired sessions are not found.
    store
        .create_session(ws, user, b"old", "csrf-old", now_ms() - 1)
        .await
        .must("create expired");
    assert!(store.find_session(b"old").await.must("find old").is_none());
    assert!(
        store
            .find_session(b"nope")
            .await
            .must("find none")
            .is_none()
    );

    assert!(store.delete_session(b"hash-1").await.must("delete"));
    assert!(!store.delete_session(b"hash-1").await.must("delete again"));
    assert!(store.find_session(b"hash-1").await.must("gone").is_none());
}
