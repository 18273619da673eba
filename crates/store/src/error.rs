//! The one error type of the store.
//!
//! Callers match on the kind (`NotFound`, `Conflict`, …) and show the message; the database's
//! own error stays reachable as the `source()`. No variant ever carries a token or a key.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist, or it belongs to another workspace (the two are deliberately
    /// indistinguishable).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A uniqueness rule was broken, e.g. an e-mail address already in use.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A token could not be encrypted or decrypted (usually: a different secret key than the
    /// one the token was stored with), or the secret key itself could not be loaded.
    #[error("secret key or token encryption: {0}")]
    Crypto(String),
    /// Applying the schema migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A query the store cannot answer as asked (e.g. an analytics period that is empty or
    /// too long); callers validate their input first, so this is a bug above the store.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The database URL or options are unusable.
    #[error("database configuration: {0}")]
    Config(String),
    /// The database failed (connection, constraint, I/O) or returned a row we cannot read.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(e)
    }
}

impl StoreError {
    /// `NotFound` for `what`.
    pub(crate) fn not_found(what: &'static str) -> Self {
        StoreError::NotFound { what }
    }

    /// A stored value that does not parse back into its type: the database was written by
    /// something else or by a newer version.
    pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> Self {
        StoreError::Database(sqlx::Error::Decode(
            format!("stored {what} is invalid: {err}").into(),
        ))
    }

    /// True for `NotFound`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }
}

/// Maps unique and foreign-key violations to `Conflict` / `NotFound`, everything else to
/// `Database`.
pub(crate) fn map_constraint(
    e: sqlx::Error,
    conflict: &str,
    missing_parent: &'static str,
) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict(conflict.to_owned());
        }
        if db.is_foreign_key_violation() {
            return StoreError::not_found(missing_parent);
        }
    }
    StoreError::Database(e)
}

/// Shorthand used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
