//! The values the store takes and returns.
//!
//! Plain data in our own vocabulary (`domain` ids and enums); timestamps are Unix milliseconds
//! (`*_ms`), the unit WB uses for `addTimestamp` and the cursor. Nothing here knows SQL or WB's
//! JSON: the sync engine maps WB's events into [`NewMessage`]s.

use domain::triage::ReviewWindow;
use domain::{
    AccountId, AccountState, AttachmentKind, AttachmentRowId, ChatId, ChatRowId, DownloadId,
    EventId, GoodCard, Marketplace, MessageRowId, Priority, ReplySign, Sender, TriageNote, UserId,
    WorkspaceId,
};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at_ms: i64,
}

/// An operator account for the web UI.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub workspace_id: WorkspaceId,
    /// Stored trimmed and lower-cased.
    pub email: String,
    /// A password hash (argon2 PHC string, computed above the store).
    pub password_hash: String,
    pub created_at_ms: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("email", &self.email)
            .field("password_hash", &"***")
            .field("created_at_ms", &self.created_at_ms)
            .finish()
    }
}

/// A connected marketplace (seller) account. The token is not here: ask
/// [`crate::Store::account_token`] for it, only where it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub workspace_id: WorkspaceId,
    pub marketplace: Marketplace,
    pub name: String,
    /// Where to reach the marketplace API instead of its production host (a sandbox).
    pub api_base_url: Option<String>,
    pub state: AccountState,
    pub last_error: Option<String>,
    pub last_sync_at_ms: Option<i64>,
    pub created_at_ms: i64,
}

/// Where polling of one account stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    /// WB's `next` from the last ingested page; `None` before the first page.
    pub next_cursor: Option<i64>,
    pub last_success_at_ms: Option<i64>,
    pub last_error: Option<String>,
    /// Do not poll before this moment.
    pub backoff_until_ms: Option<i64>,
    pub consecutive_failures: i64,
    /// When the last new message was ingested.
    pub last_activity_at_ms: Option<i64>,
    /// When `/chats` was last merged in.
    pub chats_merged_at_ms: Option<i64>,
}

/// An account the sync engine should poll, with its sync state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollTarget {
    pub account: Account,
    pub sync: SyncState,
}

/// A stored chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub id: ChatRowId,
    pub workspace_id: WorkspaceId,
    pub account_id: AccountId,
    /// WB's chat id.
    pub chat_id: ChatId,
    /// The latest signature seen; needed to send. `None` until an `isNewChat` event or
    /// `/chats` supplied one.
    pub reply_sign: Option<ReplySign>,
    pub client_name: Option<String>,
    pub good_card: Option<GoodCard>,
    pub last_message_text: Option<String>,
    pub last_message_at_ms: Option<i64>,
    pub last_buyer_message_at_ms: Option<i64>,
    pub last_read_at_ms: Option<i64>,
    /// Buyer messages newer than `last_read_at_ms`.
    pub unread_count: i64,
    pub first_seen_at_ms: i64,
    /// Waiting for a seller reply since: the time of the oldest buyer message not answered by
    /// a later seller message (platform messages do not answer); `None` when nothing waits.
    /// Maintained from ingested messages (see `ingest.rs` for late arrivals); the inbox and
    /// the SLA deadline go by it. WB's negative-review template waits like a buyer message.
    pub awaiting_since_ms: Option<i64>,
    /// The automatic priority (see `ingest.rs`): the most urgent of the waiting messages.
    pub priority: Priority,
    /// The operator's choice, which wins over [`Chat::priority`].
    pub priority_override: Option<Priority>,
    /// Why the chat has its automatic priority; `None` before any buyer message was triaged.
    pub triage: Option<TriageNote>,
    /// WB's negative-review window, when WB opened this chat over a review under 4 stars.
    pub review: Option<ReviewWindow>,
    pub snoozed_until_ms: Option<i64>,
    /// The answer is due by then (`awaiting_since` + SLA of the priority in force, capped by
    /// the review window); `None` when nothing waits.
    pub due_at_ms: Option<i64>,
    /// The inbox sort key: `due_at`, or the end of a snooze when later.
    pub queue_at_ms: Option<i64>,
}

impl Chat {
    /// The priority in force: the operator's override, else the automatic one.
    pub fn effective_priority(&self) -> Priority {
        self.priority_override.unwrap_or(self.priority)
    }
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageRowId,
    pub chat_id: ChatRowId,
    pub account_id: AccountId,
    pub event_id: EventId,
    pub sender: Sender,
    /// Where it was written (`seller-portal`, `seller-public-api`, `rusite`, `ios`, …).
    pub source: String,
    pub text: String,
    pub add_timestamp_ms: i64,
    /// Written by the platform (`sender` is `wb`), not by the buyer or the seller.
    pub is_platform: bool,
    pub attachments: Vec<Attachment>,
}

/// A file or image of a stored message (metadata only; the bytes are fetched on demand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Our key of the stored attachment (`/api/v1/attachments/{id}`): always set on what the
    /// store returns, ignored (leave `None`) on what it is given to ingest.
    pub id: Option<AttachmentRowId>,
    pub kind: AttachmentKind,
    pub download_id: Option<DownloadId>,
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub size: Option<i64>,
    pub url: Option<String>,
}

/// An attachment of an incoming event.
pub type NewAttachment = Attachment;

/// One event of a page, in our vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub chat_id: ChatId,
    pub event_id: EventId,
    pub sender: Sender,
    pub source: String,
    pub text: String,
    pub add_timestamp_ms: i64,
    pub is_new_chat: bool,
    /// Present on `isNewChat` events; the newest one seen wins.
    pub reply_sign: Option<ReplySign>,
    pub client_name: Option<String>,
    /// The product card attached to the message; fills the chat's card if it has none.
    pub good_card: Option<GoodCard>,
    pub attachments: Vec<NewAttachment>,
}

/// One page of `/events`, to be stored together with the cursor that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestPage {
    pub events: Vec<NewMessage>,
    pub next_cursor: i64,
}

/// What one [`crate::Store::ingest_page`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Messages stored for the first time.
    pub inserted: u64,
    /// Events already stored (from an earlier page or earlier in this page).
    pub duplicates: u64,
    /// Chats first seen in this page.
    pub chats_created: u64,
}

/// One chat as `/chats` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSnapshot {
    pub chat_id: ChatId,
    pub reply_sign: Option<ReplySign>,
    pub client_name: Option<String>,
    pub good_card: Option<GoodCard>,
    /// Text and `addTimestamp` (ms) of the chat's last message.
    pub last_message: Option<(String, i64)>,
}

/// What one [`crate::Store::merge_chats`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    /// Chats `/chats` knew before any event did.
    pub created: u64,
    /// Existing chats whose signature, name, card or last message changed.
    pub updated: u64,
}

/// Which chats [`crate::Store::list_chats`] returns. Ordered by urgency: chats waiting for a
/// seller reply first, soonest deadline first ([`Chat::queue_at_ms`]), then the rest by
/// latest activity, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatFilter {
    pub account: Option<AccountId>,
    pub unread_only: bool,
    /// Only waiting chats whose priority in force is urgent.
    pub urgent_only: bool,
    /// Only chats whose buyer name, last message or any stored message contains this text,
    /// ignoring case (`%` and `_` are literal). Blank means no search. See
    /// [`crate::Store::list_chats`] for how case is folded on each backend.
    pub search: Option<String>,
    /// At most this many (clamped to 1..=1000).
    pub limit: u32,
    pub offset: u32,
}

impl Default for ChatFilter {
    fn default() -> Self {
        Self {
            account: None,
            unread_only: false,
            urgent_only: false,
            search: None,
            limit: 100,
            offset: 0,
        }
    }
}
