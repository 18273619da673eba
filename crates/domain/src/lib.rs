//! Pure types and rules of AgentIQ Chat Center.
//!
//! This crate owns the vocabulary every other layer speaks: identifiers as newtypes
//! (`ChatId`, `ReplySign`, `EventId`, `DownloadId`, `AccountId`, and our integer keys in
//! [`keys`]), the chat vocabulary in [`chat`] (`Sender`, `GoodCard`, `AccountState`), the
//! [`guardrails`] every reply passes before sending and, later, the other rules that need no
//! I/O (priority, SLA). It must not do I/O, know a wire format or name a database: the `wb`
//! crate owns WB's JSON, `store` owns persistence.
//!
//! Each identifier is parsed once at the edge (`FromStr`/`TryFrom<String>`) and is valid from
//! then on: no empty ids, no control characters, no ids longer than WB would ever send.

pub mod chat;
pub mod guardrails;
pub mod ids;
pub mod keys;
pub mod triage;

pub use chat::{
    AccountState, AttachmentKind, GoodCard, Marketplace, OutboxState, Sender, UnknownVariant,
};
pub use guardrails::{Violation, ViolationKind, check_files, check_message, check_text};
pub use ids::{AccountId, ChatId, DownloadId, EventId, IdError, ReplySign};
pub use keys::{
    AttachmentRowId, ChatRowId, MessageRowId, NotificationId, OutboxId, UserId, WebhookDeliveryId,
    WorkspaceId,
};
pub use triage::deadline::EscalationKind;
pub use triage::{
    Classification, Intent, Priority, Reason, ReasonNote, Sla, Tone, TriageNote, classify, priority,
};
