//! Persistence of AgentIQ Chat Center.
//!
//! This crate owns everything stored: the schema and its migrations for SQLite (the embedded
//! default, one file in WAL mode) and PostgreSQL (several instances), chosen by the database
//! URL's scheme; tenant scoping — every row carries its workspace and every query that starts
//! from a user's request filters by it, so an id from another workspace is simply `NotFound`;
//! and secrets at rest — WB tokens are encrypted with XChaCha20-Poly1305 under a [`SecretKey`]
//! and only leave as a [`Secret`] that prints `***`. The central write is
//! [`Store::ingest_page`]: one page of WB events, the chats they imply and the cursor after them,
//! in one transaction, idempotent per (account, event id). Escalations become notifications
//! and queued webhook deliveries in one transaction too ([`Store::fire_escalation`]). It must
//! not know HTTP or WB's wire format: the sync engine maps WB's JSON into [`NewMessage`]s
//! (and builds webhook bodies), the web layer maps [`Chat`]s into its own JSON. No `sqlx`
//! backend type appears in this crate's API.

mod accounts;
mod analytics;
mod api_keys;
mod attachments;
mod chats;
mod clock;
mod db;
mod error;
mod ingest;
mod model;
mod notify;
mod outbox;
mod secret;
pub mod sessions;
mod triage;
mod workspaces;

pub use analytics::{
    AccountAnalytics, Analytics, AnalyticsQuery, DayAnalytics, MAX_ANALYTICS_DAYS,
    MOSCOW_UTC_OFFSET_MINUTES, NewResponse, QueueBucket, ResponseStats, ReviewStats,
};
pub use attachments::{AttachmentCacheInfo, AttachmentCacheState, StoredAttachment};
pub use clock::Clock;
pub use db::Backend;
pub use error::{Result, StoreError};
pub use model::{
    Account, Attachment, Chat, ChatFilter, ChatSnapshot, IngestOutcome, IngestPage, MergeOutcome,
    Message, NewAttachment, NewMessage, PollTarget, SyncState, User, Workspace,
};
pub use notify::{
    EscalationEvent, FiredEscalation, MAX_NOTIFICATIONS, Notification, WebhookDelivery,
};
pub use outbox::{OutboxEntry, OutboxFile, OutboxJob, UnresolvedSend};
pub use secret::{SECRET_KEY_ENV, SECRET_KEY_FILE_ENV, Secret, SecretKey};
pub use triage::EscalationDue;
pub use workspaces::{TriageSettings, TriageSettingsUpdate, WebhookChange};

use db::{Pool, on_pool};

/// The store: a connection pool and the key that encrypts tokens. Cheap to clone (the pool is
/// shared).
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    key: SecretKey,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Connection tuning; the defaults suit one process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// Pool size (default: 4 on SQLite, 10 on PostgreSQL).
    pub max_connections: Option<u32>,
}

impl Store {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) without touching the schema.
    pub async fn connect(url: &str, key: SecretKey) -> Result<Self> {
        Self::connect_with(url, key, StoreOptions::default()).await
    }

    /// [`Store::connect`] with options.
    pub async fn connect_with(url: &str, key: SecretKey, options: StoreOptions) -> Result<Self> {
        let backend = Backend::from_url(url)?;
        let pool = db::connect(url, options.max_connections).await?;
        Ok(Self { pool, key, backend })
    }

    /// Connects and brings the schema up to date.
    pub async fn open(url: &str, key: SecretKey) -> Result<Self> {
        let store = Self::connect(url, key).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations (`migrations/sqlite` or `migrations/postgres`). Safe to run
    /// concurrently and repeatedly.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(p) => db::SQLITE_MIGRATOR.run(p).await?,
            Pool::Postgres(p) => db::POSTGRES_MIGRATOR.run(p).await?,
        }
        Ok(())
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A trivial round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(&self.pool, |p| {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }

    /// Closes every connection (waits for checked-out ones to come back).
    pub async fn close(&self) {
        on_pool!(&self.pool, |p| p.close().await)
    }
}
