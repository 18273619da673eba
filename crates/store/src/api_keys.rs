//! API keys: how scripts authenticate as an operator.
//!
//! The store only ever sees a key's hash (computed above the store, where keys are made), so
//! a copy of the database does not let anyone in. A key belongs to one user of one workspace;
//! looking it up yields both, which is all the web layer needs to scope a request.

use domain::{UserId, WorkspaceId};

use crate::Store;
use crate::db::{now_ms, on_pool};
use crate::error::{Result, StoreError, map_constraint};

/// `last_used_at` is refreshed at most this often, so that authenticating a burst of requests
/// does not turn every read into a write.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

#[derive(sqlx::FromRow)]
struct ApiKeyRow {
    id: i64,
    workspace_id: i64,
    user_id: i64,
    last_used_at: Option<i64>,
}

impl Store {
    /// Stores the hash of a new API key for `user` of `workspace`. `NotFound` when the user
    /// does not exist in that workspace, `Conflict` when the hash is already stored.
    pub async fn create_api_key(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        key_hash: &[u8],
    ) -> Result<()> {
        let now = now_ms();
        let inserted: Option<i64> = on_pool!(&self.pool, |p| {
            // Inserting through a SELECT of the user in that workspace keeps a key from ever
            // pairing a user with another workspace.
            sqlx::query_scalar(
                "INSERT INTO api_keys (workspace_id, user_id, key_hash, created_at) \
                 SELECT workspace_id, id, $3, $4 FROM users WHERE id = $2 AND workspace_id = $1 \
                 RETURNING id",
            )
            .bind(workspace.get())
            .bind(user.get())
            .bind(key_hash)
            .bind(now)
            .fetch_optional(p)
            .await
            .map_err(|e| map_constraint(e, "this API key already exists", "user"))?
        });
        match inserted {
            Some(_) => Ok(()),
            None => Err(StoreError::not_found("user")),
        }
    }

    /// The workspace and user an API key hash belongs to, if any. Stamps `last_used_at`
    /// (at most once a minute per key).
    pub async fn find_api_key(&self, key_hash: &[u8]) -> Result<Option<(WorkspaceId, UserId)>> {
        let now = now_ms();
        let row: Option<ApiKeyRow> = on_pool!(&self.pool, |p| {
            let row: Option<ApiKeyRow> = sqlx::query_as(
                "SELECT id, workspace_id, user_id, last_used_at FROM api_keys WHERE key_hash = $1",
            )
            .bind(key_hash)
            .fetch_optional(p)
            .await?;
            if let Some(r) = &row
                && r.last_used_at
                    .is_none_or(|at| now - at >= LAST_USED_GRANULARITY_MS)
            {
                sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                    .bind(r.id)
                    .bind(now)
                    .execute(p)
                    .await?;
            }
            row
        });
        row.map(|r| {
            Ok((
                WorkspaceId::new(r.workspace_id)
                    .map_err(|e| StoreError::corrupt("workspace id", e))?,
                UserId::new(r.user_id).map_err(|e| StoreError::corrupt("user id", e))?,
            ))
        })
        .transpose()
    }
}
