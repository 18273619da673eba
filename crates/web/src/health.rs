//! `GET /healthz`: the process is up and its database answers. Public (no auth), cheap, and
//! says nothing about WB, whose outages must not make load balancers drop the instance.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::AppState;
use crate::error::WebError;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
}

/// `{"status":"ok"}` after a store round trip; 503 `unavailable` otherwise.
async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, WebError> {
    state.store.ping().await.map_err(WebError::Unavailable)?;
    Ok(Json(Health { status: "ok" }))
}
