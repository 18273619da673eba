//! Buyer files and images on demand: downloaded through the account's WB client (drawing from
//! the token's shared budget), kept in a content-addressed cache on disk, and their outcome
//! (cached, still in moderation, blocked) recorded in the store.
//!
//! The cache lives at `<data_dir>/attachments/<sha[0..2]>/<sha256>`. A file is written to a
//! temporary name in the same directory and renamed into place, so a reader sees either nothing
//! or the whole file; the same bytes arriving twice (two attachments, or two racing downloads)
//! land on the same name. Reading checks the bytes against their name: a file that is missing
//! or damaged counts as not cached and is downloaded again.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use domain::{AttachmentKind, AttachmentRowId, WorkspaceId};
use sha2::{Digest, Sha256};
use store::{AttachmentCacheState, StoreError, StoredAttachment};
use wb::{Download, WbError};

use crate::engine::{Engine, SyncError, now_ms};

/// Used when neither WB nor the bytes say what a file is.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// The content-addressed store of downloaded bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentCache {
    dir: PathBuf,
}

impl AttachmentCache {
    /// The cache of a data directory: `<data_dir>/attachments`.
    pub fn in_data_dir(data_dir: impl AsRef<Path>) -> Self {
        Self::at(data_dir.as_ref().join("attachments"))
    }

    /// A cache rooted exactly at `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the bytes with this SHA-256 live; `None` for anything but 64 lower-case hex
    /// digits (a stored value is never trusted to name a path).
    pub fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| self.dir.join(&sha256[..2]).join(sha256))
    }

    /// Stores `bytes` under their SHA-256 (returned, lower-case hex): temp file, fsync,
    /// rename. Storing bytes already present is a cheap no-op.
    pub async fn put(&self, bytes: Bytes) -> std::io::Result<String> {
        let cache = self.clone();
        run_blocking(move || cache.put_blocking(&bytes)).await
    }

    /// The bytes with this SHA-256, if present and intact.
    pub async fn get(&self, sha256: &str) -> std::io::Result<Option<Bytes>> {
        let Some(path) = self.path_of(sha256) else {
            return Ok(None);
        };
        let expected = sha256.to_owned();
        run_blocking(move || match std::fs::read(&path) {
            Ok(data) if sha256_hex(&data) == expected => Ok(Some(Bytes::from(data))),
            Ok(_) => {
                tracing::warn!(path = %path.display(), "cached attachment is damaged; dropping it");
                let _ = std::fs::remove_file(&path);
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    fn put_blocking(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha = sha256_hex(bytes);
        let path = self
            .path_of(&sha)
            .ok_or_else(|| std::io::Error::other("unexpected digest"))?;
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(sha);
        }
        let shard = path
            .parent()
            .ok_or_else(|| std::io::Error::other("cache path without a parent"))?;
        std::fs::create_dir_all(shard)?;
        let mut tmp = tempfile_in(shard)?;
        tmp.1.write_all(bytes)?;
        tmp.1.sync_all()?;
        drop(tmp.1);
        if let Err(e) = std::fs::rename(&tmp.0, &path) {
            let _ = std::fs::remove_file(&tmp.0);
            return Err(e);
        }
        Ok(sha)
    }
}

/// A fresh, exclusively created temporary file in `dir` (removed by the caller on failure).
fn tempfile_in(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    for _ in 0..16 {
        let name = format!(".tmp-{:016x}", rand::random::<u64>());
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("cannot create a temporary file"))
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| std::io::Error::other(format!("cache task failed: {e}")))?
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

/// The content type of well-known files by their first bytes.
pub fn sniff_content_type(bytes: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\xFF\xD8\xFF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"%PDF-", "application/pdf"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
    ];
    if let Some((_, ct)) = SIGNATURES.iter().find(|(sig, _)| bytes.starts_with(sig)) {
        return Some(ct);
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        return Some("image/webp");
    }
    None
}

/// What to serve the bytes as: what WB's answer said, else what the bytes look like, else
/// what the event declared, else `application/octet-stream`.
pub fn choose_content_type(from_wb: Option<&str>, declared: Option<&str>, bytes: &[u8]) -> String {
    let usable = |ct: &&str| {
        let ct = ct.trim();
        !ct.is_empty() && !ct.eq_ignore_ascii_case(OCTET_STREAM)
    };
    from_wb
        .filter(usable)
        .or_else(|| sniff_content_type(bytes))
        .or_else(|| declared.filter(usable))
        .unwrap_or(OCTET_STREAM)
        .trim()
        .to_owned()
}

/// Bytes ready to serve.
#[derive(Clone, PartialEq, Eq)]
pub struct ReadyFile {
    pub bytes: Bytes,
    pub content_type: String,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    pub kind: AttachmentKind,
    /// The file name WB gave (files only).
    pub name: Option<String>,
    /// Served from the cache, without asking WB.
    pub from_cache: bool,
}

impl std::fmt::Debug for ReadyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyFile")
            .field("len", &self.bytes.len())
            .field("content_type", &self.content_type)
            .field("sha256", &self.sha256)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("from_cache", &self.from_cache)
            .finish()
    }
}

/// What [`Engine::fetch_attachment`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Ready(ReadyFile),
    /// WB is still moderating the file: ask again after `retry_after`.
    Pending {
        retry_after: Duration,
    },
    /// WB's moderation blocked the file.
    Blocked,
}

/// Why an attachment could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No such attachment in the workspace.
    #[error("attachment not found")]
    NotFound,
    /// WB sent the attachment without a `downloadID`: there is nothing to download.
    #[error("the attachment has no download id")]
    NoDownloadId,
    /// WB could not be asked or refused (network, 5xx, 429, 401/403, an unreadable answer).
    #[error("WB download failed: {0}")]
    Wb(#[source] WbError),
    #[error("store: {0}")]
    Store(#[source] StoreError),
    /// The on-disk cache failed.
    #[error("attachment cache: {0}")]
    Cache(#[from] std::io::Error),
}

impl From<StoreError> for FetchError {
    fn from(e: StoreError) -> Self {
        if e.is_not_found() {
            FetchError::NotFound
        } else {
            FetchError::Store(e)
        }
    }
}

impl From<SyncError> for FetchError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Store(s) => s.into(),
            SyncError::TokenInvalid(w) | SyncError::Wb(w) => FetchError::Wb(w),
            SyncError::RateLimited { retry_after } => {
                FetchError::Wb(WbError::RateLimited { retry_after })
            }
        }
    }
}

/// How downloads wait through WB's moderation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadPolicy {
    /// Download attempts per fetch, the first included (202 answers lead to another one).
    pub max_tries: u32,
    /// Longest total wait through 202s inside one fetch; a longer `retrySeconds` is returned
    /// to the caller as [`Fetched::Pending`] instead.
    pub max_wait: Duration,
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        Self {
            max_tries: 3,
            max_wait: Duration::from_secs(30),
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn blocked_reason(e: &WbError) -> String {
    match e {
        WbError::UnavailableForLegalReasons(body) => body
            .detail
            .clone()
            .or_else(|| body.title.clone())
            .unwrap_or_else(|| "blocked by moderation".to_owned()),
        other => other.to_string(),
    }
}

impl Engine {
    /// The attachment's bytes: from the cache when they are there, else downloaded through
    /// the account's WB client (sharing the token's budget), waiting through WB's moderation
    /// (202) within the configured [`DownloadPolicy`], then cached and recorded. A 451 is
    /// recorded as blocked and never asked again; a file still pending is not asked again
    /// before the moment WB named.
    pub async fn fetch_attachment(
        &self,
        workspace: WorkspaceId,
        id: AttachmentRowId,
    ) -> Result<Fetched, FetchError> {
        let att = self.store().find_attachment(workspace, id).await?;
        let cache = self.config.attachment_cache.clone();
        if let Some(info) = &att.cache {
            match info.state {
                AttachmentCacheState::Blocked => return Ok(Fetched::Blocked),
                AttachmentCacheState::Pending => {
                    let left = info.retry_after_ms.unwrap_or(0) - now_ms();
                    if left > 0 {
                        return Ok(Fetched::Pending {
                            retry_after: Duration::from_millis(left.unsigned_abs()),
                        });
                    }
                }
                AttachmentCacheState::Cached => {
                    if let (Some(cache), Some(sha)) = (&cache, &info.sha256)
                        && let Some(bytes) = cache.get(sha).await?
                    {
                        let content_type = info.content_type.clone().unwrap_or_else(|| {
                            choose_content_type(None, att.content_type.as_deref(), &bytes)
                        });
                        return Ok(Fetched::Ready(ReadyFile {
                            bytes,
                            content_type,
                            sha256: sha.clone(),
                            kind: att.kind,
                            name: att.name.clone(),
                            from_cache: true,
                        }));
                    }
                }
            }
        }
        self.download_attachment(&att, cache.as_ref()).await
    }

    async fn download_attachment(
        &self,
        att: &StoredAttachment,
        cache: Option<&AttachmentCache>,
    ) -> Result<Fetched, FetchError> {
        let download_id = att.download_id.as_ref().ok_or(FetchError::NoDownloadId)?;
        let account = self
            .store()
            .get_account(att.workspace_id, att.account_id)
            .await?;
        let client = self.client_for(&account).await?;
        let policy = self.config.downloads;
        let mut waited = Duration::ZERO;
        let mut tries = 0;
        loop {
            tries += 1;
            match client.download(download_id).await {
                Ok(Download::Ready {
                    bytes,
                    content_type,
                }) => {
                    let content_type = choose_content_type(
                        content_type.as_deref(),
                        att.content_type.as_deref(),
                        &bytes,
                    );
                    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
                    let sha256 = match cache {
                        Some(cache) => {
                            let sha = cache.put(bytes.clone()).await?;
                            self.store()
                                .record_attachment_cached(att.id, &sha, &content_type, size)
                                .await?;
                            sha
                        }
                        None => sha256_hex(&bytes),
                    };
                    return Ok(Fetched::Ready(ReadyFile {
                        bytes,
                        content_type,
                        sha256,
                        kind: att.kind,
                        name: att.name.clone(),
                        from_cache: false,
                    }));
                }
                Ok(Download::Pending { retry_after, .. }) => {
                    let retry_after = retry_after.max(Duration::from_millis(100));
                    if tries >= policy.max_tries.max(1) || waited + retry_after > policy.max_wait {
                        self.store()
                            .record_attachment_pending(att.id, now_ms() + ms(retry_after))
                            .await?;
                        return Ok(Fetched::Pending { retry_after });
                    }
                    tracing::debug!(attachment = %att.id, ?retry_after, "attachment in moderation; waiting");
                    tokio::time::sleep(retry_after).await;
                    waited += retry_after;
                }
                Err(e @ WbError::UnavailableForLegalReasons(_)) => {
                    self.store()
                        .record_attachment_blocked(att.id, &blocked_reason(&e))
                        .await?;
                    return Ok(Fetched::Blocked);
                }
                Err(e) => return Err(FetchError::Wb(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let jpeg = b"\xFF\xD8\xFF\xE0rest";
        assert_eq!(sniff_content_type(jpeg), Some("image/jpeg"));
        assert_eq!(sniff_content_type(b"%PDF-1.4"), Some("application/pdf"));
        assert_eq!(
            sniff_content_type(b"RIFF\0\0\0\0WEBPVP8"),
            Some("image/webp")
        );
        assert_eq!(sniff_content_type(b"hello"), None);
        assert_eq!(
            choose_content_type(Some("image/png"), None, jpeg),
            "image/png"
        );
        assert_eq!(choose_content_type(None, None, jpeg), "image/jpeg");
        assert_eq!(
            choose_content_type(Some(OCTET_STREAM), Some("application/pdf"), b"x"),
            "application/pdf"
        );
        assert_eq!(choose_content_type(Some(" "), None, b"x"), OCTET_STREAM);
    }

    #[test]
    fn digest_is_lower_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn cache_round_trip_is_content_addressed_and_verified() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("temp dir: {e}"),
        };
        let cache = AttachmentCache::in_data_dir(dir.path());
        let bytes = Bytes::from_static(b"%PDF-1.4 receipt");
        let sha = match cache.put(bytes.clone()).await {
            Ok(s) => s,
            Err(e) => panic!("put: {e}"),
        };
        assert_eq!(sha, sha256_hex(&bytes));
        let path = cache.path_of(&sha);
        assert_eq!(
            path.as_deref(),
            Some(
                dir.path()
                    .join("attachments")
                    .join(&sha[..2])
                    .join(&sha)
                    .as_path()
            )
        );
        // Again: the same name, nothing else left behind.
        assert_eq!(cache.put(bytes.clone()).await.ok(), Some(sha.clone()));
        let shard = dir.path().join("attachments").join(&sha[..2]);
        let entries = std::fs::read_dir(&shard).map(Iterator::count).unwrap_or(0);
        assert_eq!(entries, 1);
        assert_eq!(cache.get(&sha).await.ok().flatten(), Some(bytes));

        // Damaged or missing files are not served; bad names never become paths.
        if let Some(p) = &path {
            let _ = std::fs::write(p, b"tampered");
        }
        assert_eq!(cache.get(&sha).await.ok().flatten(), None);
        assert_eq!(cache.get(&sha).await.ok().flatten(), None);
        assert!(cache.path_of("../../etc/passwd").is_none());
        assert!(cache.path_of(&sha.to_uppercase()).is_none());
    }
}
