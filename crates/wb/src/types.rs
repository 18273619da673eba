//! WB's wire types for the buyer-chat API, exactly as WB sends them (camelCase names such as
//! `chatID`, `replySign`, `nmID`), per `wb-api-contract.md`.
//!
//! Decoding policy, chosen so one odd record never fails a whole page:
//! * Every field WB's spec makes optional is an `Option` (or a `Vec` that is empty when the
//!   field is missing or `null`); unknown fields are ignored.
//! * Fields of a [`Chat`], an [`Event`] and their parts are *lenient*: a value of the wrong type,
//!   or an id that `domain`'s newtype rejects (empty, control characters, too long), decodes as
//!   `None` and is logged at `warn` (without the value). Ids are therefore typed
//!   (`Option<ChatId>`, `Option<EventId>`, `Option<ReplySign>`, `Option<DownloadId>`); a caller
//!   that needs one treats `None` as "WB sent none we can use".
//! * `sender`, `eventType` and `source` are enums with an `Other(String)` fallback, so a value
//!   WB adds tomorrow still decodes.
//! * Envelope fields that drive paging or results (`next`, `totalEvents`, the send result's
//!   `addTime`, the `202` download body) are strict: if they are malformed the call fails with
//!   `WbError::Decode` rather than guessing.
//! * `errors` lists are strings per the contract; a non-string item is kept as its JSON text.
//!
//! The error bodies of 4xx answers live here too ([`WbErrorBody`], [`AuthErrorBody`],
//! [`PaymentErrorBody`]); `error::WbError` carries them.

use std::fmt;

use domain::{ChatId, DownloadId, EventId, ReplySign};
use serde::{Deserialize, Serialize};

mod de {
    //! Private deserialisation helpers for the decoding policy of the parent module.

    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer};

    /// Decodes `Some(T)` when the value fits `T`, else `None` (missing and `null` are `None`).
    pub(super) fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        let value = serde_json::Value::deserialize(d)?;
        if value.is_null() {
            return Ok(None);
        }
        match T::deserialize(value) {
            Ok(v) => Ok(Some(v)),
            Err(err) => {
                tracing::warn!(
                    target: "wb::types",
                    ty = std::any::type_name::<T>(),
                    error = %err,
                    "ignoring a malformed field in a WB answer"
                );
                Ok(None)
            }
        }
    }

    /// Decodes a list; `null` is an empty list.
    pub(super) fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }

    /// Decodes WB's `errors` list: strings as they are, anything else as its JSON text.
    pub(super) fn error_strings<'de, D>(d: D) -> Result<Vec<String>, D::Error>
    where
        D: Deserializer<'de>,
    {
        let items = Option::<Vec<serde_json::Value>>::deserialize(d)?.unwrap_or_default();
        Ok(items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect())
    }
}

macro_rules! open_enum {
    (
        $(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $wire:literal ),+ $(,)? }
    ) => {
        $(#[$doc])*
        ///
        /// Decodes from a string; a value this crate does not know is kept in `Other`.
        #[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vdoc])* $variant, )+
            /// A value WB sent that this crate does not know yet.
            Other(String),
        }

        impl $name {
            /// The value as WB spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(s) => s,
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $( $wire => Self::$variant, )+
                    _ => Self::Other(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                match v {
                    $name::Other(s) => s,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    Self::Other(s) => write!(f, "{}::Other({s:?})", stringify!($name)),
                    known => write!(f, "{}::{}", stringify!($name), known.as_str()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum!(
    /// Who wrote a message (`sender`).
    Sender {
        /// The buyer.
        Client = "client",
        /// The seller (any of our operators, the seller portal, or this API).
        Seller = "seller",
        /// Wildberries itself (platform messages such as the negative-review template).
        Wb = "wb",
    }
);

open_enum!(
    /// The kind of a chat event (`eventType`).
    EventType {
        /// A message in a chat.
        Message = "message",
    }
);

open_enum!(
    /// Where a message was written (`source`).
    MessageSource {
        /// The WB seller portal.
        SellerPortal = "seller-portal",
        /// This API (`POST /api/v1/seller/message`).
        SellerPublicApi = "seller-public-api",
        /// The Russian WB web site.
        Rusite = "rusite",
        /// The international WB site.
        Global = "global",
        /// The iOS app.
        Ios = "ios",
        /// The Android app.
        Android = "android",
    }
);

/// A product card (`goodCard`, WB's `Listing`): what the chat is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodCard {
    /// WB article (`nmID`).
    #[serde(
        rename = "nmID",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub nm_id: Option<i64>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub price: Option<i64>,
    #[serde(
        rename = "priceCurrency",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub price_currency: Option<String>,
    /// The order id; equals `srid` in orders/returns reports.
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub rid: Option<String>,
    /// WB size (`wbSize`).
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<String>,
}

/// A chat's last message in `/chats` (`lastMessage`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastMessage {
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<String>,
    /// Unix time in milliseconds.
    #[serde(
        rename = "addTimestamp",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub add_timestamp: Option<i64>,
}

/// One chat of `GET /api/v1/seller/chats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chat {
    #[serde(
        rename = "chatID",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub chat_id: Option<ChatId>,
    /// The signature to send into this chat; always use the latest one WB gave.
    #[serde(
        rename = "replySign",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub reply_sign: Option<ReplySign>,
    #[serde(
        rename = "clientName",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_name: Option<String>,
    #[serde(
        rename = "goodCard",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub good_card: Option<GoodCard>,
    #[serde(
        rename = "lastMessage",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_message: Option<LastMessage>,
}

/// The body of `GET /api/v1/seller/chats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatsResponse {
    #[serde(default, deserialize_with = "de::null_as_empty")]
    pub result: Vec<Chat>,
    #[serde(default, deserialize_with = "de::error_strings")]
    pub errors: Vec<String>,
}

/// A file attached to a message (`attachments.files[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAttachment {
    #[serde(
        rename = "contentType",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub content_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub date: Option<String>,
    #[serde(
        rename = "downloadID",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub download_id: Option<DownloadId>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
    /// Size in bytes.
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<u64>,
}

/// An image attached to a message (`attachments.images[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAttachment {
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub date: Option<String>,
    #[serde(
        rename = "downloadID",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub download_id: Option<DownloadId>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
}

/// `message.attachments` of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachments {
    #[serde(
        rename = "goodCard",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub good_card: Option<GoodCard>,
    #[serde(default, deserialize_with = "de::null_as_empty")]
    pub files: Vec<FileAttachment>,
    #[serde(default, deserialize_with = "de::null_as_empty")]
    pub images: Vec<ImageAttachment>,
}

/// `message` of an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMessage {
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub attachments: Option<Attachments>,
}

/// One event of `GET /api/v1/seller/events`. Events can repeat: deduplicate by `event_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(
        rename = "chatID",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub chat_id: Option<ChatId>,
    #[serde(
        rename = "eventID",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_id: Option<EventId>,
    #[serde(
        rename = "eventType",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_type: Option<EventType>,
    #[serde(
        rename = "isNewChat",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_new_chat: Option<bool>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<EventMessage>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<MessageSource>,
    /// Unix time in milliseconds.
    #[serde(
        rename = "addTimestamp",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub add_timestamp: Option<i64>,
    /// UTC date-time string, as WB formats it.
    #[serde(
        rename = "addTime",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub add_time: Option<String>,
    /// Present only when `is_new_chat` is true.
    #[serde(
        rename = "replySign",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub reply_sign: Option<ReplySign>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub sender: Option<Sender>,
    #[serde(
        rename = "clientName",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_name: Option<String>,
}

/// `result` of `GET /api/v1/seller/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsResult {
    /// Unix ms to pass as `next` for the following page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
    #[serde(
        rename = "newestEventTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub newest_event_time: Option<String>,
    #[serde(
        rename = "oldestEventTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oldest_event_time: Option<String>,
    /// `0` when there is nothing more to fetch.
    #[serde(
        rename = "totalEvents",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub total_events: Option<i64>,
    #[serde(default, deserialize_with = "de::null_as_empty")]
    pub events: Vec<Event>,
}

/// The body of `GET /api/v1/seller/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<EventsResult>,
    #[serde(default, deserialize_with = "de::error_strings")]
    pub errors: Vec<String>,
}

/// `result` of `POST /api/v1/seller/message`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageResult {
    /// Unix time in milliseconds.
    #[serde(rename = "addTime", default, skip_serializing_if = "Option::is_none")]
    pub add_time: Option<i64>,
    #[serde(
        rename = "chatID",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub chat_id: Option<ChatId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign: Option<String>,
}

/// The body of `POST /api/v1/seller/message` (200).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<MessageResult>,
    /// File upload errors, if any.
    #[serde(default, deserialize_with = "de::error_strings")]
    pub errors: Vec<String>,
}

/// The `202` body of `GET /api/v1/seller/download/{id}`: the file is still in moderation.
/// Both fields are required by WB's spec (strict).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownloadPendingBody {
    #[serde(rename = "moderationState")]
    pub moderation_state: String,
    /// Seconds to wait before asking again.
    #[serde(rename = "retrySeconds")]
    pub retry_seconds: f64,
}

/// WB's error body of `400` (events, message, download) and `451` (download). All optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WbErrorBody {
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<i64>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub origin: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub detail: Option<String>,
    #[serde(
        rename = "requestId",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub error: Option<String>,
}

/// WB's error body of `401`, `403` and `429`. All optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthErrorBody {
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub detail: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    #[serde(
        rename = "requestId",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub origin: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<i64>,
    #[serde(
        rename = "statusText",
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_text: Option<String>,
    /// ISO 8601.
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<String>,
}

/// WB's error body of `402` (services outside WB's business-solutions catalogue).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentErrorBody {
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<String>,
    #[serde(
        default,
        deserialize_with = "de::lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    //! Decoding realistic WB JSON: full pages, missing and unknown fields, bad values.

    use super::*;

    const SIGN: &str =
        "1:4019cd7d-cca8-4e90-8b11-f78afbea42e3:54828159:bc3a4c0f9e8d7c6b5a4f3e2d1c0b";

    #[test]
    fn decodes_chats_with_missing_and_unknown_fields() {
        let body = format!(
            r#"{{"result":[
                {{"chatID":"1:4019cd7d-cca8-4e90-8b11-f78afbea42e3","replySign":"{SIGN}",
                  "clientName":"Иван",
                  "goodCard":{{"nmID":123456789,"price":1990,"priceCurrency":"RUB",
                               "rid":"dS.1a2b3c","size":"42","brand":"unknown field"}},
                  "lastMessage":{{"text":"Здравствуйте","addTimestamp":1717000000000}},
                  "clientID":""}},
                {{"chatID":"1:second"}}
            ],"errors":[]}}"#
        );
        let page: ChatsResponse = serde_json::from_str(&body).expect("chats decode");
        assert_eq!(page.result.len(), 2);
        let first = &page.result[0];
        assert_eq!(
            first.chat_id.as_ref().map(ChatId::as_str),
            Some("1:4019cd7d-cca8-4e90-8b11-f78afbea42e3")
        );
        assert_eq!(first.reply_sign.as_ref().map(ReplySign::as_str), Some(SIGN));
        assert_eq!(first.client_name.as_deref(), Some("Иван"));
        let card = first.good_card.as_ref().expect("good card present");
        assert_eq!(card.nm_id, Some(123_456_789));
        assert_eq!(card.price, Some(1990));
        assert_eq!(card.price_currency.as_deref(), Some("RUB"));
        assert_eq!(card.rid.as_deref(), Some("dS.1a2b3c"));
        assert_eq!(card.size.as_deref(), Some("42"));
        let last = first.last_message.as_ref().expect("last message present");
        assert_eq!(last.add_timestamp, Some(1_717_000_000_000));
        let second = &page.result[1];
        assert!(second.reply_sign.is_none() && second.good_card.is_none());
        assert!(page.errors.is_empty());
    }

    #[test]
    fn chats_with_null_result_is_empty() {
        let page: ChatsResponse =
            serde_json::from_str(r#"{"result":null,"errors":null}"#).expect("decode");
        assert!(page.result.is_empty() && page.errors.is_empty());
        let page: ChatsResponse = serde_json::from_str("{}").expect("decode");
        assert!(page.result.is_empty());
    }

    fn events_page() -> String {
        format!(
            r#"{{"result":{{"next":1717000002000,
                "newestEventTime":"2024-05-29T16:26:42Z","oldestEventTime":"2024-05-29T16:26:40Z",
                "totalEvents":3,
                "events":[
                  {{"chatID":"1:aaa","eventID":"ev-1","eventType":"message","isNewChat":true,
                    "message":{{"text":"Где мой заказ?","attachments":{{
                        "goodCard":{{"nmID":42,"price":500,"priceCurrency":"RUB","rid":"r1","size":"0"}},
                        "files":[{{"contentType":"application/pdf","date":"2024-05-29T16:26:40Z",
                                   "downloadID":"dl-file-1","name":"чек.pdf","url":"https://x/1","size":2048}}],
                        "images":[{{"date":"2024-05-29T16:26:40Z","downloadID":"dl-img-1","url":"https://x/2"}}]}}}},
                    "source":"android","addTimestamp":1717000000000,"addTime":"2024-05-29T16:26:40Z",
                    "replySign":"{SIGN}","sender":"client","clientName":"Анна","somethingNew":{{"a":1}}}},
                  {{"chatID":"1:aaa","eventID":"ev-2","eventType":"message","isNewChat":false,
                    "message":{{"text":"Ваш заказ в пути"}},
                    "source":"seller-public-api","addTimestamp":1717000001000,
                    "addTime":"2024-05-29T16:26:41Z","sender":"seller"}},
                  {{"chatID":"1:bbb","eventID":"ev-3","eventType":"chatClosed",
                    "source":"robot","addTimestamp":1717000002000,"sender":"moderator",
                    "message":{{"attachments":{{"files":null}}}}}}
                ]}},"errors":[]}}"#
        )
    }

    #[test]
    fn decodes_an_events_page() {
        let page: EventsResponse = serde_json::from_str(&events_page()).expect("events decode");
        let result = page.result.expect("result present");
        assert_eq!(result.next, Some(1_717_000_002_000));
        assert_eq!(result.total_events, Some(3));
        assert_eq!(
            result.newest_event_time.as_deref(),
            Some("2024-05-29T16:26:42Z")
        );
        assert_eq!(result.events.len(), 3);

        let first = &result.events[0];
        assert_eq!(first.event_id.as_ref().map(EventId::as_str), Some("ev-1"));
        assert_eq!(first.event_type, Some(EventType::Message));
        assert_eq!(first.is_new_chat, Some(true));
        assert_eq!(first.sender, Some(Sender::Client));
        assert_eq!(first.source, Some(MessageSource::Android));
        assert_eq!(first.reply_sign.as_ref().map(ReplySign::as_str), Some(SIGN));
        let message = first.message.as_ref().expect("message present");
        assert_eq!(message.text.as_deref(), Some("Где мой заказ?"));
        let att = message.attachments.as_ref().expect("attachments present");
        assert_eq!(att.good_card.as_ref().and_then(|c| c.nm_id), Some(42));
        assert_eq!(att.files.len(), 1);
        assert_eq!(
            att.files[0].download_id.as_ref().map(DownloadId::as_str),
            Some("dl-file-1")
        );
        assert_eq!(att.files[0].size, Some(2048));
        assert_eq!(att.files[0].name.as_deref(), Some("чек.pdf"));
        assert_eq!(
            att.images[0].download_id.as_ref().map(DownloadId::as_str),
            Some("dl-img-1")
        );

        let second = &result.events[1];
        assert_eq!(second.sender, Some(Sender::Seller));
        assert_eq!(second.source, Some(MessageSource::SellerPublicApi));
        assert!(second.reply_sign.is_none() && second.client_name.is_none());
        assert!(
            second
                .message
                .as_ref()
                .and_then(|m| m.attachments.as_ref())
                .is_none()
        );

        let third = &result.events[2];
        assert_eq!(third.sender, Some(Sender::Other("moderator".into())));
        assert_eq!(
            third.event_type,
            Some(EventType::Other("chatClosed".into()))
        );
        assert_eq!(third.source, Some(MessageSource::Other("robot".into())));
        assert!(third.add_time.is_none());
        let att = third
            .message
            .as_ref()
            .and_then(|m| m.attachments.as_ref())
            .expect("attachments present");
        assert!(att.files.is_empty() && att.images.is_empty());
    }

    #[test]
    fn one_bad_event_does_not_fail_the_page() {
        let body = r#"{"result":{"next":5,"totalEvents":2,"events":[
            {"chatID":"","eventID":"bad id with spaces","sender":7,"addTimestamp":"soon",
             "isNewChat":"yes","replySign":null,
             "message":{"text":"ok","attachments":{"files":[{"downloadID":"","size":-1}]}}},
            {"chatID":"1:ok","eventID":"ev-ok","sender":"wb"}
        ]}}"#;
        let page: EventsResponse = serde_json::from_str(body).expect("page decodes");
        let result = page.result.expect("result present");
        let bad = &result.events[0];
        assert!(bad.chat_id.is_none());
        assert!(bad.event_id.is_none());
        assert!(bad.sender.is_none());
        assert!(bad.add_timestamp.is_none());
        assert!(bad.is_new_chat.is_none());
        let file = &bad
            .message
            .as_ref()
            .and_then(|m| m.attachments.as_ref())
            .expect("att")
            .files[0];
        assert!(file.download_id.is_none() && file.size.is_none());
        assert_eq!(
            bad.message.as_ref().and_then(|m| m.text.as_deref()),
            Some("ok")
        );
        assert_eq!(result.events[1].sender, Some(Sender::Wb));
        assert!(page.errors.is_empty());
    }

    #[test]
    fn malformed_paging_fields_are_strict() {
        let body = r#"{"result":{"next":"later","totalEvents":0,"events":[]}}"#;
        assert!(serde_json::from_str::<EventsResponse>(body).is_err());
    }

    #[test]
    fn decodes_message_response_and_non_string_errors() {
        let body = r#"{"result":{"addTime":1717000003000,"chatID":"1:aaa","sign":"s1"},
                       "errors":["file too big", {"code":"X"}]}"#;
        let resp: MessageResponse = serde_json::from_str(body).expect("decode");
        let result = resp.result.expect("result");
        assert_eq!(result.add_time, Some(1_717_000_003_000));
        assert_eq!(result.chat_id.as_ref().map(ChatId::as_str), Some("1:aaa"));
        assert_eq!(result.sign.as_deref(), Some("s1"));
        assert_eq!(
            resp.errors,
            vec!["file too big".to_owned(), r#"{"code":"X"}"#.to_owned()]
        );
    }

    #[test]
    fn download_pending_body_is_strict() {
        let ok: DownloadPendingBody =
            serde_json::from_str(r#"{"moderationState":"pending","retrySeconds":30}"#)
                .expect("decode");
        assert_eq!(ok.moderation_state, "pending");
        assert!((ok.retry_seconds - 30.0).abs() < f64::EPSILON);
        assert!(
            serde_json::from_str::<DownloadPendingBody>(r#"{"moderationState":"pending"}"#)
                .is_err()
        );
    }

    #[test]
    fn decodes_error_bodies() {
        let b: WbErrorBody = serde_json::from_str(
            r#"{"status":451,"title":"Unavailable for Legal Reasons","origin":"proxy-chats",
                "detail":"moderation error","requestId":"req-1","extra":true}"#,
        )
        .expect("decode");
        assert_eq!(b.status, Some(451));
        assert_eq!(b.request_id.as_deref(), Some("req-1"));
        assert!(b.error.is_none());
        let a: AuthErrorBody = serde_json::from_str(
            r#"{"title":"unauthorized","detail":"token is malformed","code":"4a1b",
                "requestId":"r","origin":"s2s-api-auth-chat","status":401,
                "statusText":"Unauthorized","timestamp":"2024-09-30T06:52:38Z"}"#,
        )
        .expect("decode");
        assert_eq!(a.status, Some(401));
        assert_eq!(a.status_text.as_deref(), Some("Unauthorized"));
        let p: PaymentErrorBody = serde_json::from_str("{}").expect("decode");
        assert!(p.title.is_none());
    }

    #[test]
    fn open_enums_round_trip() {
        for s in ["client", "seller", "wb", "bot"] {
            let v: Sender = serde_json::from_str(&format!("\"{s}\"")).expect("decode");
            assert_eq!(v.as_str(), s);
            assert_eq!(
                serde_json::to_string(&v).expect("encode"),
                format!("\"{s}\"")
            );
        }
        assert_eq!(format!("{:?}", Sender::Wb), "Sender::wb");
    }
}
