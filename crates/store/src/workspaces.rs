//! Workspaces (tenants) and their operators.
//!
//! E-mail addresses are unique across all workspaces (a login does not name its workspace)
//! and are stored trimmed and lower-cased.

use domain::{UserId, WorkspaceId};

use crate::Store;
use crate::db::{now_ms, on_pool};
use crate::error::{Result, StoreError, map_constraint};
use crate::model::{User, Workspace};

#[derive(sqlx::FromRow)]
struct WorkspaceRow {
    id: i64,
    name: String,
    created_at: i64,
}

impl WorkspaceRow {
    fn into_model(self) -> Result<Workspace> {
        Ok(Workspace {
            id: WorkspaceId::new(self.id).map_err(|e| StoreError::corrupt("workspace id", e))?,
            name: self.name,
            created_at_ms: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    workspace_id: i64,
    email: String,
    password_hash: String,
    created_at: i64,
}

impl UserRow {
    fn into_model(self) -> Result<User> {
        Ok(User {
            id: UserId::new(self.id).map_err(|e| StoreError::corrupt("user id", e))?,
            workspace_id: WorkspaceId::new(self.workspace_id)
                .map_err(|e| StoreError::corrupt("workspace id", e))?,
            email: self.email,
            password_hash: self.password_hash,
            created_at_ms: self.created_at,
        })
    }
}

fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Store {
    /// Creates a workspace.
    pub async fn create_workspace(&self, name: &str) -> Result<WorkspaceId> {
        let now = now_ms();
        let id: i64 = on_pool!(&self.pool, |p| {
            sqlx::query_scalar(
                "INSERT INTO workspaces (name, created_at) VALUES ($1, $2) RETURNING id",
            )
            .bind(name)
            .bind(now)
            .fetch_one(p)
            .await?
        });
        WorkspaceId::new(id).map_err(|e| StoreError::corrupt("workspace id", e))
    }

    /// Every workspace, oldest first.
    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>> {
        let rows: Vec<WorkspaceRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as("SELECT id, name, created_at FROM workspaces ORDER BY id")
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(WorkspaceRow::into_model).collect()
    }

    /// One workspace.
    pub async fn get_workspace(&self, id: WorkspaceId) -> Result<Workspace> {
        let row: Option<WorkspaceRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as("SELECT id, name, created_at FROM workspaces WHERE id = $1")
                .bind(id.get())
                .fetch_optional(p)
                .await?
        });
        row.ok_or(StoreError::not_found("workspace"))?.into_model()
    }

    /// Adds an operator. `Conflict` when the e-mail is taken, `NotFound` when the workspace
    /// does not exist.
    pub async fn create_user(
        &self,
        workspace: WorkspaceId,
        email: &str,
        password_hash: &str,
    ) -> Result<UserId> {
        let email = normalize_email(email);
        let now = now_ms();
        let id: i64 = on_pool!(&self.pool, |p| {
            sqlx::query_scalar(
                "INSERT INTO users (workspace_id, email, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(workspace.get())
            .bind(&email)
            .bind(password_hash)
            .bind(now)
            .fetch_one(p)
            .await
            .map_err(|e| {
                map_constraint(
                    e,
                    "a user with this e-mail address already exists",
                    "workspace",
                )
            })?
        });
        UserId::new(id).map_err(|e| StoreError::corrupt("user id", e))
    }

    /// The user with this e-mail (compared trimmed and case-insensitively), in any workspace.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        let email = normalize_email(email);
        let row: Option<UserRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT id, workspace_id, email, password_hash, created_at FROM users \
                 WHERE email = $1",
            )
            .bind(&email)
            .fetch_optional(p)
            .await?
        });
        row.map(UserRow::into_model).transpose()
    }
}
