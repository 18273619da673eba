//! The OpenAPI document of the JSON API, generated from the handlers' `#[utoipa::path]`
//! annotations and the `ToSchema` types, served at `GET /api/openapi.json` (no auth).
//!
//! Every route of [`crate::api::router`] and `/healthz` must be listed in [`ApiDoc`]'s
//! `paths(…)`; a test compares the document with the router's routes.

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::AppState;

/// Name of the security scheme every authenticated route requires (also spelled out in
/// [`ApiDoc`]'s `security`).
pub const SECURITY_SCHEME: &str = "bearer";

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "AgentIQ Chat Center API",
        description = "Support inbox for Wildberries sellers. Field names are camelCase; times \
            are Unix milliseconds; our ids are JSON numbers, WB's ids strings; errors are \
            `{\"error\", \"message\"}` with a Russian message.",
    ),
    paths(
        crate::health::healthz,
        openapi_json,
        crate::api::accounts::list,
        crate::api::accounts::create,
        crate::api::accounts::show,
        crate::api::chats::list,
        crate::api::chats::messages,
        crate::api::chats::mark_read,
        crate::api::triage::set_priority,
        crate::api::triage::snooze,
        crate::api::replies::send,
        crate::api::replies::status,
        crate::api::replies::retry,
        crate::api::guardrails::check,
        crate::api::attachments::download,
        crate::api::stream::stream,
        crate::api::notifications::list,
        crate::api::notifications::mark_read,
        crate::api::settings::show,
        crate::api::settings::update,
        crate::api::analytics::show,
        crate::session::login,
        crate::session::logout,
    ),
    components(schemas(ErrorJson, GuardrailsRejectionJson, AttachmentPendingJson)),
    modifiers(&BearerApiKey),
    security(("bearer" = [])),
    tags(
        (name = "accounts", description = "Connected WB seller accounts"),
        (name = "chats", description = "The inbox: chats and their messages"),
        (name = "replies", description = "Replies through the outbox"),
        (name = "guardrails", description = "Checks of draft replies"),
        (name = "attachments", description = "Buyer files and images"),
        (name = "notifications", description = "Escalations shown to the workspace's operators"),
        (name = "settings", description = "Per-workspace triage settings: SLA, escalation, webhook"),
        (name = "analytics", description = "Response times, SLA and the open queue"),
        (name = "session", description = "Operator login for the web UI (cookie + CSRF token)"),
        (name = "meta", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

/// The `Authorization: Bearer aiq_…` API key (`agentiq user add … --api-key` prints one).
#[derive(Debug)]
struct BearerApiKey;

impl Modify for BearerApiKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("API key (aiq_…)")
            .build();
        http.description = Some(
            "An API key: `Authorization: Bearer aiq_…` (`agentiq user add … --api-key`)."
                .to_owned(),
        );
        components.add_security_scheme(SECURITY_SCHEME, SecurityScheme::Http(http));
    }
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorJson {
    /// Stable machine-readable code (`not_found`, `invalid_query`, `unauthorized`, …).
    pub error: String,
    /// What the operator reads, in Russian.
    pub message: String,
    /// What a parser has to add (which field, which position), when it has something.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// 422 of `POST /api/v1/chats/{id}/messages`: the reply breaks the guardrails; nothing was
/// queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct GuardrailsRejectionJson {
    /// Always `guardrails`.
    pub error: String,
    pub message: String,
    pub violations: Vec<crate::api::replies::ViolationJson>,
}

/// 202 of `GET /api/v1/attachments/{id}` while WB still moderates the file.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentPendingJson {
    /// Always `pending`.
    pub state: String,
    /// Seconds to wait before asking again (also in `Retry-After`).
    pub retry_after: u64,
    pub message: String,
}

/// `GET /api/openapi.json`.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI document of this API", content_type = "application/json"))
)]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
