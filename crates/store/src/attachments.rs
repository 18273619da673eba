//! Downloaded attachments: which attachment a request names (scoped to the workspace) and what
//! became of its download — cached on disk under its SHA-256, still in WB's moderation, or
//! blocked by it. The bytes live in the sync layer's content-addressed cache, never here.

use domain::{AccountId, AttachmentKind, AttachmentRowId, DownloadId, WorkspaceId};

use crate::Store;
use crate::db::{now_ms, on_pool};
use crate::error::{Result, StoreError};

/// What became of an attachment's download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttachmentCacheState {
    /// The bytes are in the cache under `sha256`.
    Cached,
    /// WB is still moderating the file: ask again after `retry_after_ms`.
    Pending,
    /// WB's moderation blocked the file (451).
    Blocked,
}

impl AttachmentCacheState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cached => "cached",
            Self::Pending => "pending",
            Self::Blocked => "blocked",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "cached" => Ok(Self::Cached),
            "pending" => Ok(Self::Pending),
            "blocked" => Ok(Self::Blocked),
            other => Err(StoreError::corrupt("attachment cache state", other)),
        }
    }
}

/// The recorded outcome of an attachment's last download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentCacheInfo {
    pub state: AttachmentCacheState,
    /// Lower-case hex SHA-256 of the bytes (cached only).
    pub sha256: Option<String>,
    /// The content type the bytes were served with (cached only).
    pub content_type: Option<String>,
    /// Size of the bytes (cached only).
    pub size: Option<i64>,
    /// When WB last answered for this attachment (Unix ms).
    pub fetched_at_ms: i64,
    /// Pending: do not ask WB again before this moment (Unix ms).
    pub retry_after_ms: Option<i64>,
    /// Blocked: WB's explanation.
    pub reason: Option<String>,
}

/// An attachment as a download needs it: whose token fetches it, WB's id for it, what to call
/// it, and what is known of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAttachment {
    pub id: AttachmentRowId,
    pub workspace_id: WorkspaceId,
    /// The seller account whose token downloads it.
    pub account_id: AccountId,
    pub kind: AttachmentKind,
    /// WB's `downloadID`; `None` when WB sent none (it cannot be downloaded).
    pub download_id: Option<DownloadId>,
    /// The file name WB gave (files only).
    pub name: Option<String>,
    /// The content type WB declared in the event (files only).
    pub content_type: Option<String>,
    /// `None` until the first download attempt got an answer.
    pub cache: Option<AttachmentCacheInfo>,
}

#[derive(sqlx::FromRow)]
struct StoredAttachmentRow {
    id: i64,
    workspace_id: i64,
    account_id: i64,
    kind: String,
    download_id: Option<String>,
    name: Option<String>,
    content_type: Option<String>,
    state: Option<String>,
    sha256: Option<String>,
    cache_content_type: Option<String>,
    cache_size: Option<i64>,
    fetched_at: Option<i64>,
    retry_after: Option<i64>,
    reason: Option<String>,
}

impl StoredAttachmentRow {
    fn into_model(self) -> Result<StoredAttachment> {
        let cache = match self.state {
            None => None,
            Some(state) => Some(AttachmentCacheInfo {
                state: AttachmentCacheState::parse(&state)?,
                sha256: self.sha256,
                content_type: self.cache_content_type,
                size: self.cache_size,
                fetched_at_ms: self.fetched_at.unwrap_or(0),
                retry_after_ms: self.retry_after,
                reason: self.reason,
            }),
        };
        let (id, kind, download_id) =
            crate::chats::attachment_keys(self.id, &self.kind, self.download_id)?;
        Ok(StoredAttachment {
            id,
            workspace_id: WorkspaceId::new(self.workspace_id)
                .map_err(|e| StoreError::corrupt("workspace id", e))?,
            account_id: AccountId::new(self.account_id)
                .map_err(|e| StoreError::corrupt("account id", e))?,
            kind,
            download_id,
            name: self.name,
            content_type: self.content_type,
            cache,
        })
    }
}

const FIND_ATTACHMENT: &str = "SELECT a.id, a.workspace_id, m.account_id, a.kind, \
     a.download_id, a.name, a.content_type, c.state, c.sha256, \
     c.content_type AS cache_content_type, c.size AS cache_size, c.fetched_at, c.retry_after, \
     c.reason \
     FROM attachments a JOIN messages m ON m.id = a.message_id \
     LEFT JOIN attachment_cache c ON c.attachment_id = a.id \
     WHERE a.id = $1 AND a.workspace_id = $2";

// Each `record_*` inserts the attachment's row or replaces its outcome; the workspace comes
// from the attachment itself, so a missing attachment inserts nothing (→ NotFound).
const RECORD_CACHED: &str = "INSERT INTO attachment_cache (attachment_id, workspace_id, state, \
     sha256, content_type, size, fetched_at, retry_after, reason) \
     SELECT id, workspace_id, 'cached', $2, $3, $4, $5, CAST(NULL AS BIGINT), \
     CAST(NULL AS TEXT) FROM attachments WHERE id = $1 \
     ON CONFLICT (attachment_id) DO UPDATE SET state = 'cached', sha256 = excluded.sha256, \
     content_type = excluded.content_type, size = excluded.size, \
     fetched_at = excluded.fetched_at, retry_after = NULL, reason = NULL";

const RECORD_BLOCKED: &str = "INSERT INTO attachment_cache (attachment_id, workspace_id, state, \
     sha256, content_type, size, fetched_at, retry_after, reason) \
     SELECT id, workspace_id, 'blocked', CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
     CAST(NULL AS BIGINT), $3, CAST(NULL AS BIGINT), $2 \
     FROM attachments WHERE id = $1 \
     ON CONFLICT (attachment_id) DO UPDATE SET state = 'blocked', sha256 = NULL, \
     content_type = NULL, size = NULL, fetched_at = excluded.fetched_at, retry_after = NULL, \
     reason = excluded.reason";

// A late "pending" never demotes bytes already cached (two downloads racing).
const RECORD_PENDING: &str = "INSERT INTO attachment_cache (attachment_id, workspace_id, state, \
     sha256, content_type, size, fetched_at, retry_after, reason) \
     SELECT id, workspace_id, 'pending', CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
     CAST(NULL AS BIGINT), $3, $2, CAST(NULL AS TEXT) \
     FROM attachments WHERE id = $1 \
     ON CONFLICT (attachment_id) DO UPDATE SET state = 'pending', sha256 = NULL, \
     content_type = NULL, size = NULL, fetched_at = excluded.fetched_at, \
     retry_after = excluded.retry_after, reason = NULL \
     WHERE attachment_cache.state <> 'cached'";

impl Store {
    /// An attachment of the workspace, with the account that downloads it and its cache
    /// state. `NotFound` for a missing id or one of another workspace.
    pub async fn find_attachment(
        &self,
        workspace: WorkspaceId,
        id: AttachmentRowId,
    ) -> Result<StoredAttachment> {
        let row: Option<StoredAttachmentRow> = on_pool!(&self.pool, |p| {
            sqlx::query_as(FIND_ATTACHMENT)
                .bind(id.get())
                .bind(workspace.get())
                .fetch_optional(p)
                .await?
        });
        row.ok_or(StoreError::not_found("attachment"))?.into_model()
    }

    /// The attachment's bytes are in the cache under `sha256` (lower-case hex).
    pub async fn record_attachment_cached(
        &self,
        id: AttachmentRowId,
        sha256: &str,
        content_type: &str,
        size: i64,
    ) -> Result<()> {
        let now = now_ms();
        let done = on_pool!(&self.pool, |p| {
            sqlx::query(RECORD_CACHED)
                .bind(id.get())
                .bind(sha256)
                .bind(content_type)
                .bind(size)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::not_found("attachment"));
        }
        Ok(())
    }

    /// WB's moderation blocked the attachment (451); `reason` is WB's explanation.
    pub async fn record_attachment_blocked(&self, id: AttachmentRowId, reason: &str) -> Result<()> {
        let now = now_ms();
        let done = on_pool!(&self.pool, |p| {
            sqlx::query(RECORD_BLOCKED)
                .bind(id.get())
                .bind(reason)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::not_found("attachment"));
        }
        Ok(())
    }

    /// WB is still moderating the attachment (202): do not ask before `retry_at_ms` (Unix
    /// ms). Ignored when the bytes are already cached.
    pub async fn record_attachment_pending(
        &self,
        id: AttachmentRowId,
        retry_at_ms: i64,
    ) -> Result<()> {
        let now = now_ms();
        let (done, exists) = on_pool!(&self.pool, |p| {
            let done = sqlx::query(RECORD_PENDING)
                .bind(id.get())
                .bind(retry_at_ms)
                .bind(now)
                .execute(p)
                .await?
                .rows_affected();
            let exists = if done == 0 {
                sqlx::query_scalar::<_, i64>("SELECT id FROM attachments WHERE id = $1")
                    .bind(id.get())
                    .fetch_optional(p)
                    .await?
                    .is_some()
            } else {
                true
            };
            (done, exists)
        });
        if done == 0 && !exists {
            return Err(StoreError::not_found("attachment"));
        }
        Ok(())
    }
}
