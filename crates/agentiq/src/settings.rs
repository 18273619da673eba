//! Settings of `agentiq serve`, `sync`, `migrate` and `user`: defaults, then an optional TOML
//! file, then `AGENTIQ_*` environment variables. Loading never writes anything; the secret key
//! file is created (mode 0600) only when the store is opened.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address of the HTTP API.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`; default: SQLite under the data directory.
    #[serde(default)]
    pub database_url: Option<String>,
    /// Where the SQLite file, the key file and the attachment cache live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The 32-byte key that encrypts WB tokens (hex or base64); else the key file.
    #[serde(default)]
    pub secret_key: Option<String>,
    /// Default: `<data_dir>/secret.key`, created with mode 0600 on first use.
    #[serde(default)]
    pub secret_key_file: Option<PathBuf>,
    /// Whole-request timeout of WB calls, in milliseconds (default 30000).
    #[serde(default)]
    pub wb_timeout_ms: Option<u64>,
    /// How long an unanswered reply waits for its echo before it may be re-sent, in
    /// milliseconds (default 30000).
    #[serde(default)]
    pub outbox_resend_after_ms: Option<u64>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("data_dir", &self.data_dir)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("secret_key_file", &self.secret_key_file)
            .field("wb_timeout_ms", &self.wb_timeout_ms)
            .field("outbox_resend_after_ms", &self.outbox_resend_after_ms)
            .finish()
    }
}

/// A database URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("agentiq-data")
}

impl Settings {
    /// Defaults ← `file` (TOML) ← `AGENTIQ_*` environment variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            anyhow::ensure!(
                file.exists(),
                "config file {} does not exist",
                file.display()
            );
            builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
        }
        // Only the known variables: other AGENTIQ_* (AGENTIQ_LOG, test settings) are not ours.
        for key in [
            "listen",
            "database_url",
            "data_dir",
            "secret_key",
            "secret_key_file",
        ] {
            let var = format!("AGENTIQ_{}", key.to_ascii_uppercase());
            if let Ok(value) = std::env::var(&var) {
                builder = builder
                    .set_override(key, value)
                    .with_context(|| format!("cannot use {var}"))?;
            }
        }
        let raw = builder.build().context("cannot read the settings")?;
        let mut settings: Settings = raw.try_deserialize().context(
            "invalid settings: known keys are listen, database_url, data_dir, secret_key, \
             secret_key_file, wb_timeout_ms, outbox_resend_after_ms (as AGENTIQ_LISTEN, \
             AGENTIQ_DATABASE_URL, …)",
        )?;
        if settings
            .database_url
            .as_deref()
            .is_some_and(|u| u.trim().is_empty())
        {
            settings.database_url = None;
        }
        Ok(settings)
    }

    /// The sync engine's settings (buyer files are cached under `<data_dir>/attachments`).
    pub fn sync_config(&self) -> sync::SyncConfig {
        let mut c = sync::SyncConfig {
            attachment_cache: Some(sync::AttachmentCache::in_data_dir(&self.data_dir)),
            ..sync::SyncConfig::default()
        };
        if let Some(ms) = self.wb_timeout_ms {
            c.client_timeout = std::time::Duration::from_millis(ms.max(100));
        }
        if let Some(ms) = self.outbox_resend_after_ms {
            c.outbox_resend_after = std::time::Duration::from_millis(ms);
        }
        c
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("agentiq.db").display()))
    }

    pub fn key_file(&self) -> PathBuf {
        self.secret_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }

    /// Opens the store (creating the data directory for SQLite) and applies migrations.
    pub async fn open_store(&self) -> anyhow::Result<store::Store> {
        let url = self.database_url();
        if url.starts_with("sqlite:") {
            std::fs::create_dir_all(&self.data_dir).with_context(|| {
                format!(
                    "cannot create the data directory {}",
                    self.data_dir.display()
                )
            })?;
        }
        let key = store::SecretKey::resolve(self.secret_key.as_deref(), &self.key_file())
            .context("cannot load the secret key")?;
        let store = store::Store::open(&url, key)
            .await
            .with_context(|| format!("cannot open the database {}", redact_url(&url)))?;
        Ok(store)
    }
}
