//! Secrets at rest: the store's key and the tokens it encrypts.
//!
//! WB tokens are stored encrypted with XChaCha20-Poly1305 (a fresh random 24-byte nonce per
//! encryption; the account id is bound in as associated data, so a ciphertext copied to
//! another account's row does not decrypt). The 32-byte key comes from, in this order:
//!
//! 1. `AGENTIQ_SECRET_KEY`: the key as 64 hex digits or as base64 (standard or URL-safe
//!    alphabet, padding optional), e.g. the output of `openssl rand -base64 32`;
//! 2. a key file (`AGENTIQ_SECRET_KEY_FILE`, by default `secret.key` in the data directory)
//!    holding the key in the same text forms or as 32 raw bytes. If the file does not exist it
//!    is created with a random key and mode `0600`.
//!
//! Losing the key means every stored token must be entered again; nothing else is lost.
//! [`Secret`] and [`SecretKey`] print as `***` in `Debug` and `Display` so they cannot leak
//! through logs or error messages, and both wipe their memory on drop.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Result, StoreError};

/// Environment variable holding the key itself.
pub const SECRET_KEY_ENV: &str = "AGENTIQ_SECRET_KEY";
/// Environment variable naming the key file.
pub const SECRET_KEY_FILE_ENV: &str = "AGENTIQ_SECRET_KEY_FILE";

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;

/// A secret string such as a WB API token. Prints as `***`; read it with [`Secret::expose`]
/// only where it leaves the process (the `Authorization` header).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The secret itself. Never log or display the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The 32-byte key that encrypts tokens at rest.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Result<Self> {
        let key = chacha20poly1305::Key::try_generate()
            .map_err(|e| StoreError::Crypto(format!("no randomness for a key: {e}")))?;
        Ok(Self(key.into()))
    }

    /// Parses a key written as 64 hex digits or as base64 (standard or URL-safe alphabet,
    /// padding optional). Surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let bad = || {
            StoreError::Crypto(
                "the secret key must be 32 bytes written as 64 hex digits or as base64 \
                 (e.g. the output of `openssl rand -base64 32`)"
                    .to_owned(),
            )
        };
        if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut bytes = [0u8; KEY_LEN];
            for (i, out) in bytes.iter_mut().enumerate() {
                let pair = text.get(2 * i..2 * i + 2).ok_or_else(bad)?;
                *out = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
            }
            return Ok(Self(bytes));
        }
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        for engine in engines {
            if let Ok(decoded) = engine.decode(text) {
                let decoded = Zeroizing::new(decoded);
                let bytes: [u8; KEY_LEN] = decoded.as_slice().try_into().map_err(|_| bad())?;
                return Ok(Self(bytes));
            }
        }
        Err(bad())
    }

    /// The key from `AGENTIQ_SECRET_KEY`, if that variable is set and not empty.
    pub fn from_env() -> Result<Option<Self>> {
        match std::env::var(SECRET_KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => Self::parse(&v)
                .map(Some)
                .map_err(|e| StoreError::Crypto(format!("{SECRET_KEY_ENV}: {e}"))),
            _ => Ok(None),
        }
    }

    /// Reads the key file at `path`, or creates it (mode `0600`, parent directories included)
    /// with a fresh random key when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::read(path) {
            Ok(raw) => {
                let raw = Zeroizing::new(raw);
                if raw.len() == KEY_LEN {
                    let mut bytes = [0u8; KEY_LEN];
                    bytes.copy_from_slice(&raw);
                    return Ok(Self(bytes));
                }
                let text = std::str::from_utf8(&raw).map_err(|_| {
                    StoreError::Crypto(format!(
                        "key file {} is neither 32 raw bytes nor text",
                        path.display()
                    ))
                })?;
                Self::parse(text)
                    .map_err(|e| StoreError::Crypto(format!("key file {}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create_file(path),
            Err(e) => Err(StoreError::Crypto(format!(
                "cannot read key file {}: {e}",
                path.display()
            ))),
        }
    }

    /// The key as configured by the environment: `AGENTIQ_SECRET_KEY` when set, else the file
    /// named by `AGENTIQ_SECRET_KEY_FILE`, else `default_file` (created when missing).
    pub fn from_env_or_file(default_file: &Path) -> Result<Self> {
        if let Some(key) = Self::from_env()? {
            return Ok(key);
        }
        match std::env::var_os(SECRET_KEY_FILE_ENV).filter(|v| !v.is_empty()) {
            Some(file) => Self::load_or_create(Path::new(&file)),
            None => Self::load_or_create(default_file),
        }
    }

    /// The key from `value` (typically `AGENTIQ_SECRET_KEY`) when given, else from the key file.
    pub fn resolve(value: Option<&str>, key_file: &Path) -> Result<Self> {
        match value {
            Some(v) if !v.trim().is_empty() => Self::parse(v),
            _ => Self::load_or_create(key_file),
        }
    }

    fn create_file(path: &Path) -> Result<Self> {
        let io_err = |e: std::io::Error| {
            StoreError::Crypto(format!("cannot create key file {}: {e}", path.display()))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        let key = Self::generate()?;
        let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(key.0));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(text.as_bytes()).map_err(io_err)?;
                file.write_all(b"\n").map_err(io_err)?;
                file.sync_all().map_err(io_err)?;
                tracing::info!(path = %path.display(), "created a new secret key file");
                Ok(key)
            }
            // Another process created it between our read and our create: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load_or_create(path),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Encrypts `plaintext`, binding `context` as associated data. Returns (ciphertext, nonce).
    pub(crate) fn encrypt(&self, plaintext: &[u8], context: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
        let cipher = self.cipher()?;
        let nonce = XNonce::try_generate()
            .map_err(|e| StoreError::Crypto(format!("no randomness for a nonce: {e}")))?;
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .map_err(|_| StoreError::Crypto("encryption failed".to_owned()))?;
        Ok((ciphertext, nonce.to_vec()))
    }

    /// Decrypts what [`SecretKey::encrypt`] produced with the same `context`.
    pub(crate) fn decrypt(
        &self,
        ciphertext: &[u8],
        nonce: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let cipher = self.cipher()?;
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| StoreError::Crypto("stored nonce has the wrong length".to_owned()))?;
        let nonce = XNonce::from(nonce);
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                StoreError::Crypto(
                    "a stored token cannot be decrypted: the secret key differs from the one it \
                     was saved with (check AGENTIQ_SECRET_KEY / the key file), or enter the token \
                     again"
                        .to_owned(),
                )
            })
    }

    fn cipher(&self) -> Result<XChaCha20Poly1305> {
        XChaCha20Poly1305::new_from_slice(&self.0)
            .map_err(|_| StoreError::Crypto("invalid key length".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_base64_and_rejects_the_rest() {
        let hex = "00".repeat(31) + "ff";
        let k = SecretKey::parse(&hex).map(|k| k.0[31]);
        assert_eq!(k.ok(), Some(0xff));
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        assert_eq!(SecretKey::parse(&b64).map(|k| k.0).ok(), Some([7u8; 32]));
        let b64_url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xfbu8; 32]);
        assert_eq!(
            SecretKey::parse(&format!(" {b64_url}\n")).map(|k| k.0).ok(),
            Some([0xfbu8; 32])
        );
        assert!(SecretKey::parse("short").is_err());
        assert!(SecretKey::parse(&"zz".repeat(32)).is_err());
        let b64_16 = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        assert!(SecretKey::parse(&b64_16).is_err());
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("eyJhbGciOi.secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "eyJhbGciOi.secret");
        let k = SecretKey::from_bytes([9; 32]);
        assert_eq!(format!("{k:?}"), "SecretKey(***)");
    }

    #[test]
    fn encrypt_round_trip_and_tamper() -> Result<()> {
        let k = SecretKey::generate()?;
        let (ct, nonce) = k.encrypt(b"token", b"ctx")?;
        assert_eq!(nonce.len(), NONCE_LEN);
        assert_ne!(ct.as_slice(), b"token");
        assert_eq!(k.decrypt(&ct, &nonce, b"ctx")?.as_slice(), b"token");
        assert!(k.decrypt(&ct, &nonce, b"other").is_err());
        let other = SecretKey::generate()?;
        assert!(other.decrypt(&ct, &nonce, b"ctx").is_err());
        let (ct2, nonce2) = k.encrypt(b"token", b"ctx")?;
        assert_ne!(nonce, nonce2);
        assert_ne!(ct, ct2);
        Ok(())
    }

    #[test]
    fn key_file_is_created_once_with_0600() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Crypto(e.to_string()))?;
        let path = dir.path().join("sub").join("secret.key");
        let a = SecretKey::load_or_create(&path)?;
        let b = SecretKey::load_or_create(&path)?;
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map_err(|e| StoreError::Crypto(e.to_string()))?
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        Ok(())
    }
}
