//! `GET /healthz`: the process is up and its database answers. Public (no auth), cheap, and
//! says nothing about WB, whose outages must not make load balancers drop the instance.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::WebError;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(value_type = String)]
    pub status: &'static str,
}

/// `{"status":"ok"}` after a store round trip; 503 `unavailable` otherwise.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    security(()),
    responses(
        (status = 200, description = "The process is up and its database answers", body = Health),
        (status = 503, description = "The database does not answer", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, WebError> {
    state.store.ping().await.map_err(WebError::Unavailable)?;
    Ok(Json(Health { status: "ok" }))
}
