//! The sandbox's own copy of WB's JSON shapes, written from WB's contract.
//!
//! Deliberately not shared with the `wb` client crate: if both drifted the same way, tests
//! between them would still pass. The contract test with WB's generated SDK checks this file.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GoodCard {
    #[serde(rename = "nmID")]
    pub nm_id: i64,
    pub price: i64,
    #[serde(rename = "priceCurrency")]
    pub price_currency: String,
    pub rid: String,
    pub size: String,
}

#[derive(Debug, Serialize)]
pub struct LastMessage {
    pub text: String,
    #[serde(rename = "addTimestamp")]
    pub add_timestamp: i64,
}

#[derive(Debug, Serialize)]
pub struct Chat {
    #[serde(rename = "chatID")]
    pub chat_id: String,
    #[serde(rename = "replySign")]
    pub reply_sign: String,
    #[serde(rename = "clientName")]
    pub client_name: String,
    #[serde(rename = "goodCard", skip_serializing_if = "Option::is_none")]
    pub good_card: Option<GoodCard>,
    #[serde(rename = "lastMessage", skip_serializing_if = "Option::is_none")]
    pub last_message: Option<LastMessage>,
}

#[derive(Debug, Serialize)]
pub struct ChatsResponse {
    pub result: Vec<Chat>,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct File {
    #[serde(rename = "contentType")]
    pub content_type: String,
    pub date: String,
    #[serde(rename = "downloadID")]
    pub download_id: String,
    pub name: String,
    pub url: String,
    pub size: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Image {
    pub date: String,
    #[serde(rename = "downloadID")]
    pub download_id: String,
    pub url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attachments {
    #[serde(rename = "goodCard", skip_serializing_if = "Option::is_none")]
    pub good_card: Option<GoodCard>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<File>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventMessage {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments: Option<Attachments>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "chatID")]
    pub chat_id: String,
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(rename = "eventType")]
    pub event_type: &'static str,
    #[serde(rename = "isNewChat")]
    pub is_new_chat: bool,
    pub message: EventMessage,
    pub source: &'static str,
    #[serde(rename = "addTimestamp")]
    pub add_timestamp: i64,
    #[serde(rename = "addTime")]
    pub add_time: String,
    #[serde(rename = "replySign", skip_serializing_if = "Option::is_none")]
    pub reply_sign: Option<String>,
    pub sender: &'static str,
    #[serde(rename = "clientName")]
    pub client_name: String,
}

#[derive(Debug, Serialize)]
pub struct EventsResult {
    pub next: i64,
    #[serde(rename = "newestEventTime", skip_serializing_if = "Option::is_none")]
    pub newest_event_time: Option<String>,
    #[serde(rename = "oldestEventTime", skip_serializing_if = "Option::is_none")]
    pub oldest_event_time: Option<String>,
    #[serde(rename = "totalEvents")]
    pub total_events: usize,
    pub events: Vec<Event>,
}

#[derive(Debug, Serialize)]
pub struct EventsResponse {
    pub result: EventsResult,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct MessageResult {
    #[serde(rename = "addTime")]
    pub add_time: i64,
    #[serde(rename = "chatID")]
    pub chat_id: String,
    pub sign: String,
}

#[derive(Debug, Serialize)]
pub struct MessageResponse {
    pub result: MessageResult,
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct DownloadPending {
    #[serde(rename = "moderationState")]
    pub moderation_state: &'static str,
    #[serde(rename = "retrySeconds")]
    pub retry_seconds: u64,
}

/// The body of a 400 (and 451): `{status, title, origin, detail, requestId, error}`.
#[derive(Debug, Serialize)]
pub struct BadRequestBody {
    pub status: u16,
    pub title: String,
    pub origin: &'static str,
    pub detail: String,
    #[serde(rename = "requestId")]
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The body of 401, 403, 429 (and our 404/405/5xx): `{title, detail, code, requestId, origin,
/// status, statusText, timestamp}`.
#[derive(Debug, Serialize)]
pub struct GatewayErrorBody {
    pub title: String,
    pub detail: String,
    pub code: String,
    #[serde(rename = "requestId")]
    pub request_id: String,
    pub origin: &'static str,
    pub status: u16,
    #[serde(rename = "statusText")]
    pub status_text: String,
    pub timestamp: String,
}
