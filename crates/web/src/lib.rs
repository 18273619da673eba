//! The app's HTTP side of AgentIQ Chat Center.
//!
//! This crate owns the REST API under `/api/v1` (later also the Russian HTML inbox and the
//! server-sent events stream), operator authentication ([`auth`]: API keys today, sessions
//! later, always through the one [`Operator`] extractor), and the mapping of every failure to
//! one JSON error shape ([`WebError`]). Every query it makes is scoped to the operator's
//! workspace. It must not call WB, except the one live token check when an account is
//! connected (replies will go through the outbox and its sender), and it must not name `sqlx`:
//! persistence is the `store` crate's API.
//!
//! # Layout
//! * [`auth`] — API keys, password hashing, [`add_user`], the [`Operator`] extractor.
//! * [`api`] — the JSON routes, one module per resource.
//! * [`health`] — `/healthz`.
//! * [`error`] — [`WebError`] and its `IntoResponse`.
//! * [`extract`] — `Json`/`Query`/`Path` wrappers that reject in our error format.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use store::Store;
use sync::Engine;
use tokio::net::TcpListener;

pub mod api;
pub mod auth;
pub mod error;
pub mod extract;
pub mod health;

pub use auth::{Operator, add_user, create_api_key};
pub use error::WebError;

/// How long connecting an account waits for WB to answer the token check, by default.
pub const DEFAULT_WB_CHECK_TIMEOUT: Duration = Duration::from_secs(15);

/// What every handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    /// The sync engine of this process, when it runs one: handlers tell it which inboxes are
    /// open, and the token check shares its per-token rate budgets.
    engine: Option<Arc<Engine>>,
    wb_check_timeout: Duration,
}

impl AppState {
    pub fn new(store: Store, engine: Option<Arc<Engine>>) -> Self {
        Self {
            store,
            engine,
            wb_check_timeout: DEFAULT_WB_CHECK_TIMEOUT,
        }
    }

    /// The same state with another timeout for the live token check.
    pub fn with_wb_check_timeout(mut self, timeout: Duration) -> Self {
        self.wb_check_timeout = timeout;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn engine(&self) -> Option<&Arc<Engine>> {
        self.engine.as_ref()
    }
}

impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.store.clone()
    }
}

/// The whole app: API, health check, and the error-logging middleware around them.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::router())
        .merge(health::router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn(error::log_errors))
        .with_state(state)
}

/// Unknown routes answer in the API's error format too.
async fn not_found() -> WebError {
    WebError::NotFound { what: "route" }
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then finishes the requests in
/// flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
