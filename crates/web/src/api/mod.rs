//! The JSON API under `/api/v1`, one module per resource, each exporting its `router()`.
//!
//! Conventions shared by every route: field names are camelCase; times are Unix milliseconds
//! (UTC), the unit WB itself uses for `addTimestamp`, as JSON numbers (`null` when unknown);
//! our ids are JSON numbers, WB's ids strings; errors are [`crate::WebError`]'s
//! `{"error", "message"}`. Every handler takes an [`crate::Operator`] and scopes each query to
//! its workspace, so an id of another workspace answers 404 exactly like a missing one.

use axum::Router;

use crate::AppState;

pub mod accounts;
pub mod analytics;
pub mod attachments;
pub mod chats;
pub mod guardrails;
pub mod notifications;
pub mod replies;
pub mod settings;
pub mod stream;
pub mod triage;

/// Every `/api/v1` route.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(accounts::router())
        .merge(analytics::router())
        .merge(attachments::router())
        .merge(chats::router())
        .merge(guardrails::router())
        .merge(notifications::router())
        .merge(replies::router())
        .merge(triage::router())
        .merge(settings::router())
}
