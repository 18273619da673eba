//! Connected marketplace accounts, their encrypted tokens and their sync state.
//!
//! Reads and changes an operator asks for take the workspace and filter by it; the calls the
//! sync engine makes (`account_token`, `set_account_state`, `record_sync_*`,
//! `accounts_to_poll`) work across workspaces by account id, because the engine serves them
//! all.

use domain::{AccountId, AccountState, Marketplace, WorkspaceId};

use crate::Store;
use crate::db::{WritePool, now_ms, on_pool};
use crate::error::{Result, StoreError, map_constraint};
use crate::model::{Account, PollTarget, SyncState};
use crate::secret::Secret;

/// Associated data bound into a token's ciphertext: the row it belongs to.
fn token_context(id: i64) -> Vec<u8> {
    format!("agentiq/account-token/v1/{id}").into_bytes()
}

macro_rules! account_columns {
    () => {
        "a.id, a.workspace_id, a.marketplace, a.name, a.api_base_url, a.state, a.last_error, \
         a.last_sync_at, a.created_at"
    };
}

macro_rules! sync_columns {
    () => {
        "s.next_cursor, s.last_success_at, s.last_error AS sync_last_error, s.backoff_until, \
         s.consecutive_failures, s.last_activity_at, s.chats_merged_at"
    };
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: i64,
    workspace_id: i64,
    marketplace: String,
    name: String,
    api_base_url: Option<String>,
    state: String,
    last_error: Option<String>,
    last_sync_at: Option<i64>,
    created_at: i64,
}

impl AccountRow {
    fn into_model(self) -> Result<Account> {
        Ok(Account {
            id: AccountId::new(self.id).map_err(|e| StoreError::corrupt("account id", e))?,
            workspace_id: WorkspaceId::new(self.workspace_id)
                .map_err(|e| StoreError::corrupt("workspace id", e))?,
            marketplace: self
                .marketplace
                .parse::<Marketplace>()
                .map_err(|e| StoreError::corrupt("marketplace", e))?,
            name: self.name,
            api_base_url: self.api_base_url,
            state: self
                .state
                .parse::<AccountState>()
                .map_err(|e| StoreError::corrupt("account state", e))?,
            last_error: self.last_error,
            last_sync_at_ms: self.last_sync_at,
            created_at_ms: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SyncRow {
    next_cursor: Option<i64>,
    last_success_at: Option<i64>,
    sync_last_error: Option<String>,
    backoff_until: Option<i64>,
    consecutive_failures: i64,
    last_activity_at: Option<i64>,
    chats_merged_at: Option<i64>,
}

impl SyncRow {
    fn into_model(self) -> SyncState {
        SyncState {
            next_cursor: self.next_cursor,
            last_success_at_ms: self.last_success_at,
            last_error: self.sync_last_error,
            backoff_until_ms: self.backoff_until,
            consecutive_failures: self.consecutive_failures,
            last_activity_at_ms: self.last_activity_at,
            chats_merged_at_ms: self.chats_merged_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PollRow {
    #[sqlx(flatten)]
    account: AccountRow,
    #[sqlx(flatten)]
    sync: SyncRow,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    token_ciphertext: Vec<u8>,
    token_nonce: Vec<u8>,
}

impl Store {
    /// Connects a WB seller account to `workspace`; the token is stored encrypted. `NotFound`
    /// when the workspace does not exist.
    pub async fn create_account(
        &self,
        workspace: WorkspaceId,
        name: &str,
        token: &Secret,
        api_base_url: Option<&str>,
    ) -> Result<AccountId> {
        let now = now_ms();
        let id: i64 = on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            // Insert first to learn the id the ciphertext is bound to, then store it.
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO accounts (workspace_id, marketplace, name, api_base_url, \
                 token_ciphertext, token_nonce, state, created_at) \
                 VALUES ($1, 'wildberries', $2, $3, $4, $4, 'active', $5) RETURNING id",
            )
            .bind(workspace.get())
            .bind(name)
            .bind(api_base_url)
            .bind(Vec::<u8>::new())
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| map_constraint(e, "account already exists", "workspace"))?;
            let (ciphertext, nonce) = self
                .key
                .encrypt(token.expose().as_bytes(), &token_context(id))?;
            sqlx::query(
                "UPDATE accounts SET token_ciphertext = $2, token_nonce = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(ciphertext)
            .bind(nonce)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO sync_state (account_id) VALUES ($1)")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            id
        });
        AccountId::new(id).map_err(|e| StoreError::corrupt("account id", e))
    }

    /// The workspace's accounts, oldest first.
    pub async fn list_accounts(&self, workspace: WorkspaceId) -> Result<Vec<Account>> {
        let rows: Vec<AccountRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                account_columns!(),
                " FROM accounts a WHERE a.workspace_id = $1 ORDER BY a.id"
            ))
            .bind(workspace.get())
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(AccountRow::into_model).collect()
    }

    /// One account of the workspace; `NotFound` if it is another workspace's.
    pub async fn get_account(&self, workspace: WorkspaceId, id: AccountId) -> Result<Account> {
        let row: Option<AccountRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                account_columns!(),
                " FROM accounts a WHERE a.id = $1 AND a.workspace_id = $2"
            ))
            .bind(id.get())
            .bind(workspace.get())
            .fetch_optional(p)
            .await?
        });
        row.ok_or(StoreError::not_found("account"))?.into_model()
    }

    /// The decrypted token of an account, for the sync engine and the sender. `Crypto` when
    /// the key differs from the one it was stored with.
    pub async fn account_token(&self, id: AccountId) -> Result<Secret> {
        let row: Option<TokenRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as("SELECT token_ciphertext, token_nonce FROM accounts WHERE id = $1")
                .bind(id.get())
                .fetch_optional(p)
                .await?
        });
        let row = row.ok_or(StoreError::not_found("account"))?;
        let plain = self.key.decrypt(
            &row.token_ciphertext,
            &row.token_nonce,
            &token_context(id.get()),
        )?;
        let text = std::str::from_utf8(&plain)
            .map_err(|_| StoreError::Crypto("a stored token is not UTF-8".to_owned()))?;
        Ok(Secret::new(text))
    }

    /// Stores a new token for an account of the workspace and makes it pollable again
    /// (state `active`, errors and back-off cleared).
    pub async fn replace_token(
        &self,
        workspace: WorkspaceId,
        id: AccountId,
        token: &Secret,
    ) -> Result<()> {
        let (ciphertext, nonce) = self
            .key
            .encrypt(token.expose().as_bytes(), &token_context(id.get()))?;
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE accounts SET token_ciphertext = $3, token_nonce = $4, state = 'active', \
                 last_error = NULL WHERE id = $1 AND workspace_id = $2",
            )
            .bind(id.get())
            .bind(workspace.get())
            .bind(ciphertext)
            .bind(nonce)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("account"));
            }
            sqlx::query(
                "UPDATE sync_state SET last_error = NULL, backoff_until = NULL, \
                 consecutive_failures = 0 WHERE account_id = $1",
            )
            .bind(id.get())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Sets an account's state and the error shown to operators (`None` clears it).
    pub async fn set_account_state(
        &self,
        id: AccountId,
        state: AccountState,
        last_error: Option<&str>,
    ) -> Result<()> {
        let done = on_pool!(&self.pool, |p| {
            sqlx::query("UPDATE accounts SET state = $2, last_error = $3 WHERE id = $1")
                .bind(id.get())
                .bind(state.as_str())
                .bind(last_error)
                .execute(p)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::not_found("account"));
        }
        Ok(())
    }

    /// Every account of every workspace that should be polled (state `active`,
    /// `rate_limited` or `error`; not `token_invalid`), with its sync state.
    pub async fn accounts_to_poll(&self) -> Result<Vec<PollTarget>> {
        let rows: Vec<PollRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                account_columns!(),
                ", ",
                sync_columns!(),
                " FROM accounts a JOIN sync_state s ON s.account_id = a.id \
                 WHERE a.state IN ('active', 'rate_limited', 'error') ORDER BY a.id"
            ))
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(PollTarget {
                    account: r.account.into_model()?,
                    sync: r.sync.into_model(),
                })
            })
            .collect()
    }

    /// The sync state of one account.
    pub async fn sync_state(&self, id: AccountId) -> Result<SyncState> {
        let row: Option<SyncRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(concat!(
                "SELECT ",
                sync_columns!(),
                " FROM sync_state s WHERE s.account_id = $1"
            ))
            .bind(id.get())
            .fetch_optional(p)
            .await?
        });
        Ok(row.ok_or(StoreError::not_found("account"))?.into_model())
    }

    /// A poll round succeeded: clears errors and back-off, stamps `last_sync_at`, and makes
    /// the account `active`.
    pub async fn record_sync_success(&self, id: AccountId) -> Result<()> {
        let now = now_ms();
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query(
                "UPDATE accounts SET state = 'active', last_error = NULL, last_sync_at = $2 \
                 WHERE id = $1",
            )
            .bind(id.get())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("account"));
            }
            sqlx::query(
                "UPDATE sync_state SET last_success_at = $2, last_error = NULL, \
                 backoff_until = NULL, consecutive_failures = 0 WHERE account_id = $1",
            )
            .bind(id.get())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// A poll round failed: counts it, remembers the error and when to try again, and sets
    /// the account's state (`rate_limited`, `error` or `token_invalid`). Returns the number of
    /// consecutive failures so far.
    pub async fn record_sync_failure(
        &self,
        id: AccountId,
        state: AccountState,
        error: &str,
        backoff_until_ms: Option<i64>,
    ) -> Result<i64> {
        let failures: i64 = on_pool!(&self.pool, |p| {
            let mut tx = p.begin_write().await?;
            let done = sqlx::query("UPDATE accounts SET state = $2, last_error = $3 WHERE id = $1")
                .bind(id.get())
                .bind(state.as_str())
                .bind(error)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("account"));
            }
            let failures: i64 = sqlx::query_scalar(
                "UPDATE sync_state SET last_error = $2, backoff_until = $3, \
                 consecutive_failures = consecutive_failures + 1 WHERE account_id = $1 \
                 RETURNING consecutive_failures",
            )
            .bind(id.get())
            .bind(error)
            .bind(backoff_until_ms)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            failures
        });
        Ok(failures)
    }
}
