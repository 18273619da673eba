//! Test harness: every test runs once on SQLite (a temp file) and once on PostgreSQL (a fresh
//! database per test, created from `AGENTIQ_TEST_DATABASE_URL` and dropped afterwards).
//!
//! When PostgreSQL is unreachable the PostgreSQL half prints a loud `SKIPPED` line and passes,
//! unless `CI=true`, where it fails.

use std::future::Future;
use std::time::Duration;

use sqlx::Connection;
use store::{SecretKey, Store};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One test's database.
#[derive(Clone)]
pub struct TestDb {
    pub url: String,
    pub key: [u8; 32],
    _dir: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl TestDb {
    /// A store on this database with the test's key, migrated.
    pub async fn store(&self) -> Store {
        self.store_with_key(SecretKey::from_bytes(self.key)).await
    }

    pub async fn store_with_key(&self, key: SecretKey) -> Store {
        match Store::open(&self.url, key).await {
            Ok(s) => s,
            Err(e) => panic!("cannot open store at {}: {e}", self.url),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }
}

fn test_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    let id = uuid::Uuid::new_v4();
    key[..16].copy_from_slice(id.as_bytes());
    key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
}

pub async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("temp dir: {e}"),
    };
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    test(TestDb {
        url,
        key: test_key(),
        _dir: Some(std::sync::Arc::new(dir)),
    })
    .await;
}

fn pg_base_url() -> String {
    std::env::var("AGENTIQ_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_PG_URL.to_owned())
}

fn with_database(base: &str, db: &str) -> String {
    let mut url = match url::Url::parse(base) {
        Ok(u) => u,
        Err(e) => panic!("AGENTIQ_TEST_DATABASE_URL is not a URL: {e}"),
    };
    url.set_path(&format!("/{db}"));
    url.to_string()
}

async fn admin_connection(base: &str) -> Option<sqlx::PgConnection> {
    let attempt = tokio::time::timeout(Duration::from_secs(5), sqlx::PgConnection::connect(base));
    let err = match attempt.await {
        Ok(Ok(conn)) => return Some(conn),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "timed out".to_owned(),
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("PostgreSQL at {base} is unreachable ({err}) and CI=true");
    }
    eprintln!(
        "\n******** SKIPPED (PostgreSQL unreachable at {base}: {err}; \
         set AGENTIQ_TEST_DATABASE_URL or start PostgreSQL) ********\n"
    );
    None
}

pub async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    use sqlx::Executor;

    let base = pg_base_url();
    let Some(mut admin) = admin_connection(&base).await else {
        return;
    };
    let name = format!("store_test_{}", uuid::Uuid::new_v4().simple());
    if let Err(e) = admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
    {
        panic!("CREATE DATABASE {name}: {e}");
    }
    let db = TestDb {
        url: with_database(&base, &name),
        key: test_key(),
        _dir: None,
    };
    // Run the body as its own task so a panic still lets us drop the database.
    let result = tokio::spawn(test(db)).await;
    let drop = admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await;
    if let Err(e) = result {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
    if let Err(e) = drop {
        panic!("DROP DATABASE {name}: {e}");
    }
}

/// For each `name` (an `async fn name(db: TestDb)` in scope), declares two tests:
/// `name::sqlite` and `name::postgres`. Attributes before a name (e.g. `#[ignore]`) apply to
/// both.
#[macro_export]
macro_rules! both_backends {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {
        $(
            mod $name {
                $(#[$meta])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $crate::support::run_sqlite(super::$name).await;
                }

                $(#[$meta])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $crate::support::run_postgres(super::$name).await;
                }
            }
        )+
    };
}

/// `Result::unwrap` that says what failed, without tripping the workspace's `unwrap_used`.
pub trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T, E: std::fmt::Display> Must<T> for Result<T, E> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

impl<T> Must<T> for Option<T> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Some(v) => v,
            None => panic!("{what}: None"),
        }
    }
}
