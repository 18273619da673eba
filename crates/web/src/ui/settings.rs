//! `/settings`: the workspace's triage settings (SLA per priority, escalation lead, webhook).
//! The page shows what is stored; the script saves through `PUT /api/v1/settings/triage`,
//! which validates and answers with Russian messages. The webhook secret is never shown.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;

use super::{Chrome, page_session, render};
use crate::AppState;
use crate::error::WebError;

#[derive(Debug, Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    urgent: u64,
    high: u64,
    normal: u64,
    lead: u64,
    webhook_url: String,
    secret_set: bool,
}

fn minutes(d: std::time::Duration) -> u64 {
    d.as_secs() / 60
}

pub(super) async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, WebError> {
    let s = match page_session(&headers, &uri, &state).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let t = state.store().triage_settings(s.workspace_id).await?;
    render(&SettingsPage {
        chrome: Chrome::of(&state, &s, "settings").await?,
        urgent: minutes(t.sla.urgent),
        high: minutes(t.sla.high),
        normal: minutes(t.sla.normal),
        lead: minutes(t.escalation_lead),
        webhook_url: t.webhook_url.unwrap_or_default(),
        secret_set: t.webhook_secret_set,
    })
}
