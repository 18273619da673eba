//! Connected marketplace accounts: connect one (after checking its token with WB), list them.
//!
//! Connecting is the one place the web layer talks to WB: a single `GET /chats` with the new
//! token, so an operator learns at once that a token is wrong instead of finding a
//! `token_invalid` account later. Nothing is stored unless WB accepted the token. The token
//! goes to the store (which encrypts it) and never comes back out of this API.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use domain::{AccountId, Marketplace};
use serde::{Deserialize, Serialize};
use store::{Account, Secret};
use utoipa::ToSchema;
use wb::{ApiToken, Client, ClientConfig, RateBudget, RetryConfig, WbError};

use crate::error::WebError;
use crate::extract::{AppJson, AppPath};
use crate::{AppState, Operator};

/// Longest account name, in characters.
const MAX_NAME_CHARS: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/accounts", get(list).post(create))
        .route("/api/v1/accounts/{id}", get(show))
}

/// `POST /api/v1/accounts` body. The token is deliberately not `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateAccount {
    /// Only `wildberries`.
    marketplace: String,
    name: String,
    /// WB API token with the «Чат с покупателями» category; checked with WB first.
    token: String,
    /// Another base URL for the WB API (a sandbox); absent for WB itself.
    #[serde(default)]
    api_base_url: Option<String>,
}

/// An account as the API shows it: everything but the token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountJson {
    #[schema(value_type = i64)]
    pub id: AccountId,
    /// `wildberries`.
    #[schema(value_type = String)]
    pub marketplace: &'static str,
    pub name: String,
    /// `null` for WB's production API.
    pub api_base_url: Option<String>,
    /// `active | token_invalid | rate_limited | error`.
    #[schema(value_type = String)]
    pub state: &'static str,
    pub last_error: Option<String>,
    /// Unix ms of the last successful poll.
    pub last_sync_at: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
}

impl From<Account> for AccountJson {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            marketplace: a.marketplace.as_str(),
            name: a.name,
            api_base_url: a.api_base_url,
            state: a.state.as_str(),
            last_error: a.last_error,
            last_sync_at: a.last_sync_at_ms,
            created_at: a.created_at_ms,
        }
    }
}

/// `GET /api/v1/accounts` → the workspace's accounts, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    responses(
        (status = 200, description = "The workspace's accounts, oldest first", body = Vec<AccountJson>),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    op: Operator,
) -> Result<Json<Vec<AccountJson>>, WebError> {
    let accounts = state.store.list_accounts(op.workspace_id).await?;
    Ok(Json(accounts.into_iter().map(AccountJson::from).collect()))
}

/// `GET /api/v1/accounts/{id}` → one account of the workspace (404 for another's).
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    params(("id" = i64, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account", body = AccountJson),
        (status = 400, description = "A malformed id or query", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 404, description = "No such account in this workspace (also for ids of other workspaces)", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    op: Operator,
    AppPath(id): AppPath<String>,
) -> Result<Json<AccountJson>, WebError> {
    let id = parse_account_id(&id)?;
    let account = state.store.get_account(op.workspace_id, id).await?;
    Ok(Json(account.into()))
}

/// `POST /api/v1/accounts` → 201 with the account, after WB accepted the token.
#[utoipa::path(
    post,
    path = "/api/v1/accounts",
    tag = "accounts",
    request_body = CreateAccount,
    responses(
        (status = 201, description = "Connected: WB accepted the token", body = AccountJson),
        (status = 400, description = "Malformed JSON", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 409, description = "Already connected", body = crate::openapi::ErrorJson),
        (status = 415, description = "Not JSON", body = crate::openapi::ErrorJson),
        (status = 422, description = "Invalid fields, or WB refused the token (`token_rejected`)", body = crate::openapi::ErrorJson),
        (status = 502, description = "WB could not be asked", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    op: Operator,
    AppJson(body): AppJson<CreateAccount>,
) -> Result<(StatusCode, Json<AccountJson>), WebError> {
    if body.marketplace.trim().parse::<Marketplace>() != Ok(Marketplace::Wildberries) {
        return Err(WebError::invalid(
            "unsupported_marketplace",
            "Поддерживается только маркетплейс «wildberries».",
        ));
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(WebError::invalid(
            "invalid_name",
            format!("Укажите название аккаунта (непустое, не длиннее {MAX_NAME_CHARS} символов)."),
        ));
    }
    let token = ApiToken::new(body.token);
    if token.expose_secret().is_empty() {
        return Err(WebError::invalid(
            "token_required",
            "Укажите API-токен WB с категорией «Чат с покупателями».",
        ));
    }
    let base_url = body
        .api_base_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if let Some(url) = base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(WebError::invalid(
            "invalid_api_base_url",
            "apiBaseUrl должен быть адресом http:// или https:// (или отсутствовать для WB).",
        ));
    }

    check_token(&state, &token, base_url).await?;

    let secret = Secret::new(token.expose_secret());
    let id = state
        .store
        .create_account(op.workspace_id, name, &secret, base_url)
        .await?;
    let account = state.store.get_account(op.workspace_id, id).await?;
    tracing::info!(account = %id, workspace = %op.workspace_id, "account connected");
    Ok((StatusCode::CREATED, Json(account.into())))
}

/// Asks WB for `/chats` with the token. 401/402/403 → [`WebError::TokenRejected`]; anything
/// else that fails → [`WebError::WbUnavailable`]. With an engine the call draws from the
/// token's shared rate budget, so a check never pushes a seller over WB's limit.
async fn check_token(
    state: &AppState,
    token: &ApiToken,
    base_url: Option<&str>,
) -> Result<(), WebError> {
    let mut config = ClientConfig::new(token.clone());
    if let Some(url) = base_url {
        config.base_url = url.to_owned();
    }
    config.timeout = state.wb_check_timeout;
    config.connect_timeout = state.wb_check_timeout.min(Duration::from_secs(5));
    // The operator is waiting: one quick retry at most, and never sleep long on a 429.
    config.retry = RetryConfig {
        max_attempts: 2,
        min_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(2),
    };
    let client = match &state.engine {
        Some(engine) => Client::from_registry(config, engine.registry()),
        None => {
            let budget = RateBudget::new(config.quota, config.poll_reserve);
            Client::new(config, budget)
        }
    }
    .map_err(|e| WebError::Invalid {
        code: "invalid_account",
        message: "Токен или apiBaseUrl записаны неверно (лишние символы, неверный адрес)."
            .to_owned(),
        detail: Some(e.to_string()),
    })?;
    match client.chats().await {
        Ok(_) => Ok(()),
        Err(
            e @ (WbError::Unauthorized(_) | WbError::Forbidden(_) | WbError::PaymentRequired(_)),
        ) => Err(WebError::TokenRejected(e)),
        Err(e) => Err(WebError::WbUnavailable(e)),
    }
}

pub(crate) fn parse_account_id(raw: &str) -> Result<AccountId, WebError> {
    raw.parse().map_err(|_| {
        WebError::bad_request(
            "invalid_id",
            "Неверный идентификатор аккаунта: ожидается положительное целое число.",
        )
    })
}
