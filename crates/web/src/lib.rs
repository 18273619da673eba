//! The app's HTTP side of AgentIQ Chat Center.
//!
//! This crate owns the REST API under `/api/v1`, the Russian HTML UI for operators ([`ui`]) and
//! the server-sent events stream (`/api/v1/stream`), operator authentication ([`auth`]: API
//! keys and browser sessions ([`session`]), always through the one [`Operator`] extractor),
//! and the mapping of every failure to one JSON error shape ([`WebError`]). Every query it
//! makes is scoped to the operator's workspace. It must not call WB, except the one live token check when an account is
//! connected (replies will go through the outbox and its sender), and it must not name `sqlx`:
//! persistence is the `store` crate's API.
//!
//! # Layout
//! * [`auth`] — API keys, password hashing, [`add_user`], the [`Operator`] extractor.
//! * [`api`] — the JSON routes, one module per resource.
//! * [`session`] — login/logout, the session cookie, CSRF, login throttling.
//! * [`ui`] — the HTML pages (askama templates in `templates/`, our own JS/CSS in `static/`).
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
pub mod openapi;
pub mod session;
pub mod ui;

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
    /// Failed logins per (e-mail, IP), shared by every request of this process.
    login_throttle: Arc<session::LoginThrottle>,
    /// "Now" for countdowns and breach marks (tests move a manual one).
    clock: store::Clock,
}

impl AppState {
    pub fn new(store: Store, engine: Option<Arc<Engine>>) -> Self {
        Self {
            store,
            engine,
            wb_check_timeout: DEFAULT_WB_CHECK_TIMEOUT,
            login_throttle: Arc::default(),
            clock: store::Clock::System,
        }
    }

    /// The same state reading "now" from `clock`.
    pub fn with_clock(mut self, clock: store::Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn clock(&self) -> &store::Clock {
        &self.clock
    }

    /// The same state with another timeout for the live token check.
    pub fn with_wb_check_timeout(mut self, timeout: Duration) -> Self {
        self.wb_check_timeout = timeout;
        self
    }

    /// The same state with another login throttle (tests use a small one).
    pub fn with_login_throttle(mut self, throttle: session::LoginThrottle) -> Self {
        self.login_throttle = Arc::new(throttle);
        self
    }

    pub fn login_throttle(&self) -> &session::LoginThrottle {
        &self.login_throttle
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
        .merge(session::router())
        .merge(api::stream::router())
        .merge(ui::router())
        .merge(openapi::router())
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
    // The peer address feeds login throttling (per e-mail and IP).
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
