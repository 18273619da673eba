//! Operator authentication: API keys, password hashes, and the [`Operator`] extractor.
//!
//! This module is the single place auth lives. A handler that takes an [`Operator`] argument
//! is authenticated and knows its workspace; one that does not is public (only `/healthz`).
//! Two credentials produce the same `Operator`: an API key in `Authorization: Bearer aiq_…`
//! (scripts; checked first when the header is present), or the browser's session cookie
//! `aiq_session` (see [`crate::session`], which also enforces CSRF on cookie writes).
//!
//! An API key is 32 random bytes shown once as `aiq_<base64url>`; only the SHA-256 of that
//! text is stored, so the database alone lets nobody in. Passwords are hashed with argon2id
//! (the PHC string goes to the store) on a blocking thread, because hashing is deliberately
//! slow.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{UserId, WorkspaceId};
use sha2::{Digest, Sha256};
use store::Store;

use crate::AppState;
use crate::error::WebError;

/// Every API key starts with this, so a leaked one is easy to recognise (and to scan for).
pub const API_KEY_PREFIX: &str = "aiq_";

/// The workspace a new user lands in when none is named.
pub const DEFAULT_WORKSPACE: &str = "Default";

/// Shortest password [`add_user`] accepts, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

const API_KEY_BYTES: usize = 32;

/// The authenticated operator of a request. Every query a handler makes is scoped to
/// `workspace_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            // No API key: a browser's session cookie (with CSRF for writes), if any.
            return match crate::session::cookie_token(&parts.headers) {
                Some(token) => crate::session::operator_from_cookie(parts, state, token).await,
                None => Err(WebError::MissingCredentials),
            };
        };
        let value = value.to_str().map_err(|_| WebError::InvalidApiKey)?.trim();
        let key = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => return Err(WebError::InvalidApiKey),
        };
        if !is_well_formed(key) {
            return Err(WebError::InvalidApiKey);
        }
        let (workspace_id, user_id) = state
            .store
            .find_api_key(&hash_api_key(key))
            .await?
            .ok_or(WebError::InvalidApiKey)?;
        Ok(Operator {
            workspace_id,
            user_id,
        })
    }
}

/// A new random API key, `aiq_` + base64url (no padding) of 32 random bytes.
pub fn generate_api_key() -> String {
    let bytes: [u8; API_KEY_BYTES] = rand::random();
    format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What the store keeps of a key: SHA-256 of its full text (prefix included).
pub fn hash_api_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Whether `key` has the shape [`generate_api_key`] makes; anything else is refused before
/// touching the database.
fn is_well_formed(key: &str) -> bool {
    key.strip_prefix(API_KEY_PREFIX)
        .and_then(|rest| URL_SAFE_NO_PAD.decode(rest).ok())
        .is_some_and(|bytes| bytes.len() == API_KEY_BYTES)
}

/// Makes a new API key for a user of a workspace and stores its hash; returns the key, which
/// cannot be shown again.
pub async fn create_api_key(
    store: &Store,
    workspace: WorkspaceId,
    user: UserId,
) -> Result<String, WebError> {
    let key = generate_api_key();
    store
        .create_api_key(workspace, user, &hash_api_key(&key))
        .await?;
    Ok(key)
}

/// An argon2id PHC string for `password` (random salt, the crate's recommended parameters).
pub async fn hash_password(password: &str) -> Result<String, WebError> {
    use argon2::PasswordHasher as _;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        argon2::Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| WebError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| WebError::Internal(format!("password hashing task: {e}")))?
}

/// Whether `password` matches a PHC string made by [`hash_password`]. A malformed hash never
/// matches.
pub async fn verify_password(password: &str, phc: &str) -> bool {
    use argon2::PasswordVerifier as _;
    let password = password.to_owned();
    let phc = phc.to_owned();
    tokio::task::spawn_blocking(move || {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// Adds an operator: finds the workspace by name (`"Default"` when `None`) or creates it,
/// creates the user with an argon2id hash of `password`, and with `with_api_key` also makes an
/// API key. Returns the ids and the key (shown once). `agentiq user add` calls this.
///
/// Errors: `Invalid` for an unusable e-mail, password or workspace name; `Conflict` when the
/// e-mail is already taken (in any workspace).
pub async fn add_user(
    store: &Store,
    email: &str,
    password: &str,
    workspace_name: Option<&str>,
    with_api_key: bool,
) -> Result<(UserId, WorkspaceId, Option<String>), WebError> {
    let email = email.trim();
    if !is_plausible_email(email) {
        return Err(WebError::invalid(
            "invalid_email",
            "Укажите e-mail вида name@example.ru.",
        ));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(WebError::invalid(
            "weak_password",
            format!("Пароль должен быть не короче {MIN_PASSWORD_CHARS} символов."),
        ));
    }
    let name = workspace_name.map_or(DEFAULT_WORKSPACE, str::trim);
    if name.is_empty() || name.chars().count() > 200 {
        return Err(WebError::invalid(
            "invalid_workspace",
            "Название рабочего пространства должно быть непустым и не длиннее 200 символов.",
        ));
    }
    if store.find_user_by_email(email).await?.is_some() {
        return Err(user_exists());
    }
    let workspace = match store
        .list_workspaces()
        .await?
        .into_iter()
        .find(|w| w.name == name)
    {
        Some(w) => w.id,
        None => store.create_workspace(name).await?,
    };
    let hash = hash_password(password).await?;
    let user = match store.create_user(workspace, email, &hash).await {
        Ok(id) => id,
        Err(store::StoreError::Conflict(_)) => return Err(user_exists()),
        Err(e) => return Err(e.into()),
    };
    let key = if with_api_key {
        Some(create_api_key(store, workspace, user).await?)
    } else {
        None
    };
    Ok((user, workspace, key))
}

fn user_exists() -> WebError {
    WebError::Conflict("a user with this e-mail address already exists".to_owned())
}

fn is_plausible_email(email: &str) -> bool {
    email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_have_the_documented_shape() {
        let key = generate_api_key();
        assert!(key.starts_with(API_KEY_PREFIX));
        assert_eq!(key.len(), API_KEY_PREFIX.len() + 43);
        assert!(is_well_formed(&key));
        assert_ne!(key, generate_api_key());
        assert_eq!(hash_api_key(&key).len(), 32);
        for bad in ["", "aiq_", "aiq_abc", "xyz_AAAA", &key[..key.len() - 1]] {
            assert!(!is_well_formed(bad), "{bad:?}");
        }
    }

    #[test]
    fn emails() {
        for ok in ["a@b.ru", "Operator.One@shop.example.com"] {
            assert!(is_plausible_email(ok), "{ok}");
        }
        for bad in ["", "a", "a@b", "@b.ru", "a b@c.ru"] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn passwords_round_trip() {
        let phc = hash_password("correct horse").await.expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc).await);
        assert!(!verify_password("wrong horse", &phc).await);
        assert!(!verify_password("correct horse", "not a hash").await);
    }
}
