-- Triage (design §8): priority with its reasons, SLA deadlines, WB's 72-hour negative-review
-- window, operator override and snooze, escalation (in-app notifications, signed webhooks) and
-- response analytics. Keep in step with ../postgres/0008_triage.sql.
--
-- Per chat, maintained by Store::ingest_page (see ingest.rs) and the operator's actions:
-- * priority: automatic (most urgent of the messages waiting, or 'urgent' for a chat WB opened
--   over a negative review); triage: JSON of the classification that decided it (intent, tone,
--   the rules that fired); priority_override: the operator's choice, which wins.
-- * review_opened_at: WB's negative-review template; review_replied_at: the buyer's first
--   message after it — the 72 h window starts there.
-- * snoozed_until: hidden from the top of the queue until then.
-- * due_at: awaiting_since + SLA of the priority in force (NULL when nothing waits);
--   queue_at: the inbox sort key, the later of due_at and snoozed_until.
-- * next_escalation_at: when the escalation scanner must look at the chat again.
ALTER TABLE chats ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal'
    CHECK (priority IN ('urgent', 'high', 'normal'));
ALTER TABLE chats ADD COLUMN triage TEXT;
ALTER TABLE chats ADD COLUMN priority_override TEXT
    CHECK (priority_override IN ('urgent', 'high', 'normal'));
ALTER TABLE chats ADD COLUMN review_opened_at INTEGER;
ALTER TABLE chats ADD COLUMN review_replied_at INTEGER;
ALTER TABLE chats ADD COLUMN snoozed_until INTEGER;
ALTER TABLE chats ADD COLUMN due_at INTEGER;
ALTER TABLE chats ADD COLUMN queue_at INTEGER;
ALTER TABLE chats ADD COLUMN next_escalation_at INTEGER;

-- Chats already waiting get the normal SLA until their next message re-triages them.
UPDATE chats SET due_at = awaiting_since + 86400000, queue_at = awaiting_since + 86400000,
                 next_escalation_at = awaiting_since + 86400000 - 900000
 WHERE awaiting_since IS NOT NULL;

-- The inbox order (Store::list_chats): waiting chats by time left, then the rest by activity.
-- The index is in exactly that ORDER BY, so a page reads ~50 entries and never sorts; it
-- replaces 0007's.
DROP INDEX chats_workspace_awaiting;
CREATE INDEX chats_workspace_queue
    ON chats (workspace_id, queue_at IS NULL, queue_at,
              COALESCE(last_message_at, first_seen_at) DESC, id DESC);
CREATE INDEX chats_escalation ON chats (next_escalation_at) WHERE next_escalation_at IS NOT NULL;

-- Per-workspace triage settings (milliseconds).
ALTER TABLE workspaces ADD COLUMN sla_urgent_ms INTEGER NOT NULL DEFAULT 3600000;
ALTER TABLE workspaces ADD COLUMN sla_high_ms INTEGER NOT NULL DEFAULT 14400000;
ALTER TABLE workspaces ADD COLUMN sla_normal_ms INTEGER NOT NULL DEFAULT 86400000;
ALTER TABLE workspaces ADD COLUMN escalation_lead_ms INTEGER NOT NULL DEFAULT 900000;
ALTER TABLE workspaces ADD COLUMN webhook_url TEXT;
-- The webhook's HMAC key, encrypted like account tokens.
ALTER TABLE workspaces ADD COLUMN webhook_secret_ciphertext BLOB;
ALTER TABLE workspaces ADD COLUMN webhook_secret_nonce BLOB;

-- One row per answered wait: a buyer (or WB's template) waited from waiting_since until the
-- seller's first reply at answered_at. The analytics read these.
CREATE TABLE responses (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    chat_id       INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    waiting_since INTEGER NOT NULL,
    answered_at   INTEGER NOT NULL,
    priority      TEXT    NOT NULL CHECK (priority IN ('urgent', 'high', 'normal')),
    due_at        INTEGER,
    review        BOOLEAN NOT NULL,
    UNIQUE (chat_id, waiting_since)
);
CREATE INDEX responses_workspace_time ON responses (workspace_id, waiting_since);

-- Escalations, each at most once per (chat, kind, key): the key is the deadline, or the
-- review's opening time for negative_review.
CREATE TABLE notifications (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    chat_id      INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('negative_review', 'due_soon', 'breached')),
    key_at       INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    read_at      INTEGER,
    UNIQUE (chat_id, kind, key_at)
);
CREATE INDEX notifications_workspace ON notifications (workspace_id, id);

-- Outgoing webhook deliveries, one per notification, retried with backoff until delivered or
-- given up ('failed').
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    notification_id INTEGER NOT NULL UNIQUE REFERENCES notifications(id) ON DELETE CASCADE,
    url             TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    delivered_at    INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
