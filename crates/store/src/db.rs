//! The two backends behind one type.
//!
//! [`Pool`] is an enum over a SQLite and a PostgreSQL pool. Queries are written once, in the
//! SQL both dialects accept (`$1` placeholders — SQLite reads them too — `ON CONFLICT … DO
//! NOTHING`, `RETURNING`, `CASE`/`COALESCE` instead of `GREATEST`/`max`), and
//! `on_pool!` expands the calling code once per backend, so each copy is
//! compiled against its concrete driver: no `sqlx::Any` indirection, statements stay prepared
//! and cached per connection. Where the dialects must differ (how a write transaction
//! begins; anonymous `?` placeholders in the big multi-row statements, because SQLite looks
//! each `$N` name up linearly, which is quadratic over hundreds of parameters) the
//! [`WritePool`] trait tells the backends apart. Nothing outside this crate sees which backend it
//! has beyond [`Backend`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::error::{Result, StoreError};

pub(crate) static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
pub(crate) static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL asks for: `sqlite:…` or `postgres://…`/`postgresql://…`.
    pub fn from_url(url: &str) -> Result<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StoreError::Config(
                "the database URL must start with sqlite:// \
                 (e.g. sqlite:///var/lib/agentiq/agentiq.db) \
                 or postgres:// (e.g. postgres://user@host:5432/agentiq)"
                    .to_owned(),
            )),
        }
    }
}

/// A connection pool of either backend.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool (`&SqlitePool` or `&PgPool`). The body is
/// compiled once per backend.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            $crate::db::Pool::Sqlite($p) => $body,
            $crate::db::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Begins a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later can fail
/// with `SQLITE_BUSY` when another connection wrote in between, which the busy timeout does
/// not cover.
pub(crate) trait WritePool {
    type Db: sqlx::Database;
    /// Which backend this pool is (for the few statements whose text differs).
    const BACKEND: Backend;
    fn backend(&self) -> Backend {
        Self::BACKEND
    }
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl WritePool for SqlitePool {
    type Db = Sqlite;
    const BACKEND: Backend = Backend::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl WritePool for PgPool {
    type Db = Postgres;
    const BACKEND: Backend = Backend::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
}

/// Opens a pool for `url`. SQLite: the file is created if missing (with its directory), WAL
/// journal, `synchronous=NORMAL` (durable at checkpoints, never corrupt), foreign keys on,
/// a 10 s busy timeout. PostgreSQL: a plain pool; put the user in the URL.
pub(crate) async fn connect(url: &str, max_connections: Option<u32>) -> Result<Pool> {
    match Backend::from_url(url)? {
        Backend::Sqlite => {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?;
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let options = options
                .create_if_missing(true)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .synchronous(SqliteSynchronous::Normal)
                .statement_cache_capacity(256)
                .pragma("temp_store", "memory")
                .pragma("cache_size", "-16000")
                // Reads of a large store go through the page cache of the OS without a
                // system call per page.
                .pragma("mmap_size", "268435456");
            let options = if in_memory {
                options
            } else {
                let file = options.get_filename();
                if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Config(format!(
                            "cannot create the database directory {}: {e}",
                            dir.display()
                        ))
                    })?;
                }
                options.journal_mode(SqliteJournalMode::Wal)
            };
            // An in-memory database lives in one connection.
            let max = if in_memory {
                1
            } else {
                max_connections.unwrap_or(4).max(1)
            };
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await?;
            Ok(Pool::Sqlite(pool))
        }
        Backend::Postgres => {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.unwrap_or(10).max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Pool::Postgres(pool))
        }
    }
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_url_scheme() {
        assert_eq!(
            Backend::from_url("sqlite:///tmp/a.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("sqlite::memory:").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert!(matches!(
            Backend::from_url("mysql://u@h/db"),
            Err(StoreError::Config(_))
        ));
        assert!(Backend::from_url("/var/lib/agentiq.db").is_err());
    }
}
