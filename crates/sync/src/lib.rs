//! The sync engine: keeps the local store equal to WB's truth for every connected account.
//!
//! It owns per-account polling of `/events` from the stored cursor (each page and the cursor
//! advance commit in one store transaction), the periodic `/chats` merge that enriches chats
//! with `replySign` and `goodCard`, account health (`active | token_invalid | rate_limited |
//! error`), and the adaptive schedule that keeps many accounts inside WB's per-seller budget.
//! It must not render anything or serve HTTP (`web` does), and it reaches WB only through the
//! `wb` client, so the sandbox can stand in for WB.
//!
//! # Layout
//! * [`mapping`] — WB events and chats into the store's vocabulary (pure).
//! * [`schedule`] — when to poll an account next (pure).
//! * [`engine`] — polling one account, and the loop that polls them all.
//! * [`attachments`] — buyer files on demand: download through WB, content-addressed cache.
//! * [`escalation`] — the scanner that fires escalations as deadlines come near and pass.
//! * [`webhook`] — escalations posted to each workspace's URL: body, signature, retries.

pub mod attachments;
pub mod engine;
pub mod escalation;
pub mod mapping;
pub mod outbox;
pub mod schedule;
pub mod webhook;

pub use attachments::{AttachmentCache, DownloadPolicy, FetchError, Fetched, ReadyFile};
pub use engine::{Engine, PollReport, Progress, SyncConfig, SyncError};
pub use schedule::{Cadence, LastPoll};
pub use webhook::{DeliveryPolicy, DeliveryStats, WebhookError, deliver_due, run_webhooks};
