//! Workspaces (tenants), their operators and their triage settings.
//!
//! E-mail addresses are unique across all workspaces (a login does not name its workspace)
//! and are stored trimmed and lower-cased. Triage settings are the workspace's SLA per
//! priority, how long before a deadline escalation warns, and the outgoing webhook: its URL
//! and its HMAC secret, encrypted at rest like account tokens. A webhook URL is never stored
//! without a secret. This module does not decide what escalates (the scanner does) nor
//! deliver anything (`sync::webhook` does).

use std::time::Duration;

use domain::triage::deadline::ms;
use domain::{Sla, UserId, WorkspaceId};

use crate::Store;
use crate::db::{WritePool, now_ms, on_pool};
use crate::error::{Result, StoreError, map_constraint};
use crate::model::{User, Workspace};
use crate::secret::Secret;

/// Associated data bound into a webhook secret's ciphertext: the workspace it belongs to.
fn webhook_secret_context(workspace: i64) -> Vec<u8> {
    format!("agentiq/webhook-secret/v1/{workspace}").into_bytes()
}

/// A workspace's triage settings as stored. The secret itself is not part of it: read it with
/// [`Store::webhook_secret`] only where a request is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageSettings {
    /// Response time per priority.
    pub sla: Sla,
    /// How long before a deadline the `due_soon` escalation fires.
    pub escalation_lead: Duration,
    /// Where escalations are posted; `None` when the workspace has no webhook.
    pub webhook_url: Option<String>,
    /// Whether a webhook secret is stored (always true while `webhook_url` is set).
    pub webhook_secret_set: bool,
}

/// What to do with the webhook when settings are saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookChange {
    /// Leave URL and secret as they are.
    Keep,
    /// No webhook any more: URL and secret are removed, pending deliveries give up.
    Clear,
    /// Post to `url` from now on (pending deliveries too). `secret: None` keeps the stored
    /// secret; when there is none the change is refused with [`StoreError::Conflict`].
    Set { url: String, secret: Option<Secret> },
}

/// A new set of triage settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageSettingsUpdate {
    pub sla: Sla,
    pub escalation_lead: Duration,
    pub webhook: WebhookChange,
}

#[derive(sqlx::FromRow)]
struct TriageRow {
    sla_urgent_ms: i64,
    sla_high_ms: i64,
    sla_normal_ms: i64,
    escalation_lead_ms: i64,
    webhook_url: Option<String>,
    webhook_secret_set: bool,
}

fn duration(what: &str, value: i64) -> Result<Duration> {
    u64::try_from(value)
        .map(Duration::from_millis)
        .map_err(|e| StoreError::corrupt(what, e))
}

impl TriageRow {
    fn into_model(self) -> Result<TriageSettings> {
        Ok(TriageSettings {
            sla: Sla {
                urgent: duration("urgent SLA", self.sla_urgent_ms)?,
                high: duration("high SLA", self.sla_high_ms)?,
                normal: duration("normal SLA", self.sla_normal_ms)?,
            },
            escalation_lead: duration("escalation lead", self.escalation_lead_ms)?,
            webhook_url: self.webhook_url,
            webhook_secret_set: self.webhook_secret_set,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SecretRow {
    webhook_secret_ciphertext: Option<Vec<u8>>,
    webhook_secret_nonce: Option<Vec<u8>>,
}

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

    /// The workspace's triage settings; `NotFound` when it does not exist.
    pub async fn triage_settings(&self, workspace: WorkspaceId) -> Result<TriageSettings> {
        let row: Option<TriageRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT sla_urgent_ms, sla_high_ms, sla_normal_ms, escalation_lead_ms, \
                 webhook_url, webhook_secret_ciphertext IS NOT NULL AS webhook_secret_set \
                 FROM workspaces WHERE id = $1",
            )
            .bind(workspace.get())
            .fetch_optional(p)
            .await?
        });
        row.ok_or(StoreError::not_found("workspace"))?.into_model()
    }

    /// Saves the workspace's triage settings in one transaction. Changing the webhook also
    /// moves pending deliveries to the new URL, or gives them up when the webhook is cleared.
    /// `NotFound` when the workspace does not exist; `Conflict` for a URL without any secret.
    pub async fn set_triage_settings(
        &self,
        workspace: WorkspaceId,
        update: &TriageSettingsUpdate,
    ) -> Result<()> {
        let encrypted = match &update.webhook {
            WebhookChange::Set {
                secret: Some(secret),
                ..
            } => Some(self.key.encrypt(
                secret.expose().as_bytes(),
                &webhook_secret_context(workspace.get()),
            )?),
            _ => None,
        };
        let now = now_ms();
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE workspaces SET sla_urgent_ms = $2, sla_high_ms = $3, sla_normal_ms = $4, \
                 escalation_lead_ms = $5 WHERE id = $1",
            )
            .bind(workspace.get())
            .bind(ms(update.sla.urgent))
            .bind(ms(update.sla.high))
            .bind(ms(update.sla.normal))
            .bind(ms(update.escalation_lead))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("workspace"));
            }
            match &update.webhook {
                WebhookChange::Keep => {}
                WebhookChange::Clear => {
                    sqlx::query(
                        "UPDATE workspaces SET webhook_url = NULL, \
                         webhook_secret_ciphertext = NULL, webhook_secret_nonce = NULL \
                         WHERE id = $1",
                    )
                    .bind(workspace.get())
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE webhook_deliveries SET state = 'failed', \
                         last_error = 'вебхук отключён в настройках' \
                         WHERE workspace_id = $1 AND state = 'pending'",
                    )
                    .bind(workspace.get())
                    .execute(&mut *tx)
                    .await?;
                }
                WebhookChange::Set { url, .. } => {
                    let done = match &encrypted {
                        Some((ciphertext, nonce)) => {
                            sqlx::query(
                                "UPDATE workspaces SET webhook_url = $2, \
                             webhook_secret_ciphertext = $3, webhook_secret_nonce = $4 \
                             WHERE id = $1",
                            )
                            .bind(workspace.get())
                            .bind(url)
                            .bind(ciphertext)
                            .bind(nonce)
                            .execute(&mut *tx)
                            .await?
                        }
                        None => {
                            sqlx::query(
                                "UPDATE workspaces SET webhook_url = $2 \
                             WHERE id = $1 AND webhook_secret_ciphertext IS NOT NULL",
                            )
                            .bind(workspace.get())
                            .bind(url)
                            .execute(&mut *tx)
                            .await?
                        }
                    };
                    if done.rows_affected() == 0 {
                        return Err(StoreError::Conflict(
                            "a webhook needs a secret: none is stored".to_owned(),
                        ));
                    }
                    sqlx::query(
                        "UPDATE webhook_deliveries SET url = $2, next_attempt_at = \
                         CASE WHEN next_attempt_at < $3 THEN next_attempt_at ELSE $3 END \
                         WHERE workspace_id = $1 AND state = 'pending' AND url <> $2",
                    )
                    .bind(workspace.get())
                    .bind(url)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The workspace's decrypted webhook secret, for signing; `None` without a webhook.
    /// `Crypto` when the key differs from the one it was stored with.
    pub async fn webhook_secret(&self, workspace: WorkspaceId) -> Result<Option<Secret>> {
        let row: Option<SecretRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT webhook_secret_ciphertext, webhook_secret_nonce FROM workspaces \
                 WHERE id = $1",
            )
            .bind(workspace.get())
            .fetch_optional(p)
            .await?
        });
        let row = row.ok_or(StoreError::not_found("workspace"))?;
        let (Some(ciphertext), Some(nonce)) =
            (row.webhook_secret_ciphertext, row.webhook_secret_nonce)
        else {
            return Ok(None);
        };
        let plain = self.key.decrypt(
            &ciphertext,
            &nonce,
            &webhook_secret_context(workspace.get()),
        )?;
        let text = std::str::from_utf8(&plain)
            .map_err(|_| StoreError::Crypto("a stored webhook secret is not UTF-8".to_owned()))?;
        Ok(Some(Secret::new(text)))
    }
}
