//! Browser sessions: how the web UI authenticates an operator after logging in.
//!
//! Like API keys, the store only sees the hash of a session's token (computed above the store,
//! where tokens are made). A session belongs to one user of one workspace and expires at a
//! fixed moment; an expired session is never returned and is deleted the next time a session
//! is created. The per-session CSRF token is kept in clear: alone it authenticates nothing.

use domain::{UserId, WorkspaceId};

use crate::Store;
use crate::db::{now_ms, on_pool};
use crate::error::{Result, StoreError, map_constraint};

/// A live session, as [`Store::find_session`] returns it.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    /// The user's e-mail (shown in the UI's header).
    pub email: String,
    pub csrf_token: String,
    pub expires_at_ms: i64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("workspace_id", &self.workspace_id)
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("csrf_token", &"***")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    workspace_id: i64,
    user_id: i64,
    email: String,
    csrf_token: String,
    expires_at: i64,
}

impl Store {
    /// Stores a new session of `user` in `workspace` (by the hash of its token), valid until
    /// `expires_at_ms`. Deletes expired sessions on the way. `NotFound` when the user does not
    /// exist in that workspace, `Conflict` when the hash is already stored.
    pub async fn create_session(
        &self,
        workspace: WorkspaceId,
        user: UserId,
        token_hash: &[u8],
        csrf_token: &str,
        expires_at_ms: i64,
    ) -> Result<()> {
        let now = now_ms();
        let inserted: Option<i64> = on_pool!(&self.pool, |p| {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(p)
                .await?;
            sqlx::query_scalar(
                "INSERT INTO sessions \
                 (workspace_id, user_id, token_hash, csrf_token, created_at, expires_at) \
                 SELECT workspace_id, id, $3, $4, $5, $6 FROM users \
                 WHERE id = $2 AND workspace_id = $1 \
                 RETURNING id",
            )
            .bind(workspace.get())
            .bind(user.get())
            .bind(token_hash)
            .bind(csrf_token)
            .bind(now)
            .bind(expires_at_ms)
            .fetch_optional(p)
            .await
            .map_err(|e| map_constraint(e, "this session already exists", "user"))?
        });
        match inserted {
            Some(_) => Ok(()),
            None => Err(StoreError::not_found("user")),
        }
    }

    /// The unexpired session with this token hash, if any.
    pub async fn find_session(&self, token_hash: &[u8]) -> Result<Option<Session>> {
        let now = now_ms();
        let row: Option<SessionRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT s.workspace_id, s.user_id, u.email, s.csrf_token, s.expires_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(p)
            .await?
        });
        row.map(|r| {
            Ok(Session {
                workspace_id: WorkspaceId::new(r.workspace_id)
                    .map_err(|e| StoreError::corrupt("workspace id", e))?,
                user_id: UserId::new(r.user_id).map_err(|e| StoreError::corrupt("user id", e))?,
                email: r.email,
                csrf_token: r.csrf_token,
                expires_at_ms: r.expires_at,
            })
        })
        .transpose()
    }

    /// Deletes the session with this token hash (logging out). Returns whether one existed.
    pub async fn delete_session(&self, token_hash: &[u8]) -> Result<bool> {
        let done = on_pool!(&self.pool, |p| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }
}
