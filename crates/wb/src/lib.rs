//! Client of Wildberries' buyer-chat API (`buyer-chat-api.wildberries.ru`).
//!
//! This crate owns everything between our code and WB's wire: the JSON types exactly as WB
//! sends them ([`types`]), the HTTP calls and the bare-token `Authorization` header
//! ([`client`]), the per-seller rate budget every call of one token shares ([`limiter`]),
//! retries with exponential backoff for the idempotent GETs, and typed errors that say what WB
//! answered ([`error`]). It must not touch storage, operators, the UI or any business rule:
//! it returns what WB said (ids already typed with `domain`'s newtypes) and leaves deciding,
//! deduplicating and committing to its callers. The API token never appears in an error, a
//! log line or `Debug` output.

pub mod client;
pub mod error;
pub mod limiter;
pub mod types;

pub use client::{
    ApiToken, ChatsPage, Client, ClientConfig, DEFAULT_BASE_URL, Download, EventsPage, EventsPager,
    HttpPool, OutgoingFile, RetryConfig, SendResult,
};
pub use error::{AuthErrorBody, PaymentErrorBody, WbError, WbErrorBody};
pub use governor::Quota;
pub use limiter::{BudgetRegistry, Priority, RateBudget, WaitStats};
pub use types::{
    Attachments, Chat, Event, EventMessage, EventType, FileAttachment, GoodCard, ImageAttachment,
    LastMessage, MessageSource, Sender,
};
