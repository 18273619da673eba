//! The workspace's triage settings: SLA per priority, escalation lead, outgoing webhook.
//!
//! Times travel as whole minutes. The webhook secret goes in (`webhookSecret` on `PUT`) and
//! never comes back out: the API only says whether one is set. This module validates what the
//! operator sends and hands it to the store; it does not compute deadlines, escalate or post
//! webhooks.

use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use domain::Sla;
use serde::{Deserialize, Deserializer, Serialize};
use store::{Secret, TriageSettings, TriageSettingsUpdate, WebhookChange};
use utoipa::ToSchema;

use crate::error::WebError;
use crate::extract::AppJson;
use crate::{AppState, Operator};

/// Shortest and longest SLA or lead, in minutes (one minute to one week).
pub const MINUTES: std::ops::RangeInclusive<u64> = 1..=10_080;
/// Shortest webhook secret, in characters.
pub const MIN_SECRET_CHARS: usize = 16;
/// Longest webhook secret, in characters.
pub const MAX_SECRET_CHARS: usize = 512;
/// Longest webhook URL, in characters.
pub const MAX_URL_CHARS: usize = 2_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/settings/triage", get(show).put(update))
}

/// Response times per priority, in minutes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaMinutesJson {
    pub urgent: u64,
    pub high: u64,
    pub normal: u64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriageSettingsJson {
    pub sla_minutes: SlaMinutesJson,
    /// How long before a deadline the «скоро истечёт срок» escalation fires.
    pub escalation_lead_minutes: u64,
    /// Where escalations are posted; `null` without a webhook.
    pub webhook_url: Option<String>,
    /// Whether a webhook secret is stored (it is never shown).
    pub webhook_secret_set: bool,
}

fn minutes(d: Duration) -> u64 {
    d.as_secs() / 60
}

impl From<TriageSettings> for TriageSettingsJson {
    fn from(s: TriageSettings) -> Self {
        Self {
            sla_minutes: SlaMinutesJson {
                urgent: minutes(s.sla.urgent),
                high: minutes(s.sla.high),
                normal: minutes(s.sla.normal),
            },
            escalation_lead_minutes: minutes(s.escalation_lead),
            webhook_url: s.webhook_url,
            webhook_secret_set: s.webhook_secret_set,
        }
    }
}

/// `PUT /api/v1/settings/triage` body. The secret is deliberately not `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateTriageSettings {
    sla_minutes: SlaMinutesJson,
    escalation_lead_minutes: u64,
    /// Absent: keep the webhook; `null` or `""`: remove it; a string: post there.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    webhook_url: Option<Option<String>>,
    /// The HMAC key shared with the receiver, at least 16 characters. Required when a webhook
    /// is set up for the first time; absent keeps the stored one.
    #[serde(default)]
    webhook_secret: Option<String>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn check_minutes(value: u64, what: &str) -> Result<Duration, WebError> {
    if MINUTES.contains(&value) {
        Ok(Duration::from_secs(value * 60))
    } else {
        Err(WebError::invalid(
            "invalid_minutes",
            format!(
                "{what}: укажите целое число минут от {} до {} (неделя).",
                MINUTES.start(),
                MINUTES.end()
            ),
        ))
    }
}

fn check_url(raw: &str) -> Result<String, WebError> {
    let bad = || {
        WebError::invalid(
            "invalid_webhook_url",
            format!(
                "webhookUrl должен быть адресом http:// или https:// с именем хоста, не длиннее \
                 {MAX_URL_CHARS} символов."
            ),
        )
    };
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(bad());
    }
    let parsed = url::Url::parse(raw).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(raw.to_owned())
}

fn check_secret(raw: &str) -> Result<Secret, WebError> {
    let chars = raw.chars().count();
    if !(MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&chars) || raw.chars().any(char::is_control)
    {
        return Err(WebError::invalid(
            "invalid_webhook_secret",
            format!(
                "webhookSecret: от {MIN_SECRET_CHARS} до {MAX_SECRET_CHARS} символов без \
                 управляющих символов (например, вывод «openssl rand -hex 32»)."
            ),
        ));
    }
    Ok(Secret::new(raw))
}

/// What to do with the webhook, given what is stored now.
fn webhook_change(
    body: &UpdateTriageSettings,
    current: &TriageSettings,
) -> Result<WebhookChange, WebError> {
    let secret = body
        .webhook_secret
        .as_deref()
        .map(check_secret)
        .transpose()?;
    let url = match &body.webhook_url {
        None => match (&current.webhook_url, secret) {
            (_, None) => return Ok(WebhookChange::Keep),
            // A new secret for the webhook already set up.
            (Some(url), Some(secret)) => {
                return Ok(WebhookChange::Set {
                    url: url.clone(),
                    secret: Some(secret),
                });
            }
            (None, Some(_)) => {
                return Err(WebError::invalid(
                    "webhook_url_required",
                    "Вебхук не настроен: вместе с webhookSecret укажите webhookUrl.",
                ));
            }
        },
        Some(url) => url.as_deref().map(str::trim).unwrap_or_default(),
    };
    if url.is_empty() {
        return Ok(WebhookChange::Clear);
    }
    let url = check_url(url)?;
    if secret.is_none() && !current.webhook_secret_set {
        return Err(WebError::invalid(
            "webhook_secret_required",
            format!(
                "Для нового вебхука укажите webhookSecret — общий с получателем ключ подписи \
                 не короче {MIN_SECRET_CHARS} символов."
            ),
        ));
    }
    Ok(WebhookChange::Set { url, secret })
}

/// `GET /api/v1/settings/triage` → the workspace's triage settings.
#[utoipa::path(
    get,
    path = "/api/v1/settings/triage",
    tag = "settings",
    responses(
        (status = 200, description = "The workspace's triage settings", body = TriageSettingsJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    op: Operator,
) -> Result<Json<TriageSettingsJson>, WebError> {
    let settings = state.store.triage_settings(op.workspace_id).await?;
    Ok(Json(settings.into()))
}

/// `PUT /api/v1/settings/triage` → saves the settings and answers with them.
#[utoipa::path(
    put,
    path = "/api/v1/settings/triage",
    tag = "settings",
    request_body = UpdateTriageSettings,
    responses(
        (status = 200, description = "Saved; the settings now in force", body = TriageSettingsJson),
        (status = 400, description = "Malformed JSON", body = crate::openapi::ErrorJson),
        (status = 401, description = "No or an invalid API key", body = crate::openapi::ErrorJson),
        (status = 403, description = "A cookie-authenticated write without the CSRF token", body = crate::openapi::ErrorJson),
        (status = 415, description = "Not JSON", body = crate::openapi::ErrorJson),
        (status = 422, description = "Minutes out of range or out of order, a bad URL, a missing or short secret", body = crate::openapi::ErrorJson),
    )
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    op: Operator,
    AppJson(body): AppJson<UpdateTriageSettings>,
) -> Result<Json<TriageSettingsJson>, WebError> {
    let sla = Sla {
        urgent: check_minutes(body.sla_minutes.urgent, "Срок ответа для срочных")?,
        high: check_minutes(body.sla_minutes.high, "Срок ответа для высокого приоритета")?,
        normal: check_minutes(body.sla_minutes.normal, "Срок ответа для обычных")?,
    };
    if !(sla.urgent <= sla.high && sla.high <= sla.normal) {
        return Err(WebError::invalid(
            "invalid_sla_order",
            "Сроки ответа должны идти по возрастанию: срочные ≤ высокий приоритет ≤ обычные.",
        ));
    }
    let escalation_lead = check_minutes(
        body.escalation_lead_minutes,
        "За сколько минут до срока предупреждать",
    )?;
    let current = state.store.triage_settings(op.workspace_id).await?;
    let webhook = webhook_change(&body, &current)?;
    state
        .store
        .set_triage_settings(
            op.workspace_id,
            &TriageSettingsUpdate {
                sla,
                escalation_lead,
                webhook,
            },
        )
        .await
        .map_err(|e| match e {
            // The webhook's secret was removed by a concurrent change.
            store::StoreError::Conflict(_) => WebError::invalid(
                "webhook_secret_required",
                "Для вебхука нужен webhookSecret: сохранённого ключа подписи нет.",
            ),
            other => other.into(),
        })?;
    // Deadlines of the chats waiting now follow the new SLA and lead at once.
    if current.sla != sla || current.escalation_lead != escalation_lead {
        let n = state.store.reschedule_workspace(op.workspace_id).await?;
        tracing::info!(workspace = %op.workspace_id, chats = n, "deadlines recomputed");
    }
    tracing::info!(workspace = %op.workspace_id, "triage settings saved");
    let settings = state.store.triage_settings(op.workspace_id).await?;
    Ok(Json(settings.into()))
}
