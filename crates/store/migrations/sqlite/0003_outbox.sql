-- The outbox: a reply is a row before it is a request (exactly-once delivery). Keep in step
-- with ../postgres/0003_outbox.sql.

CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id      INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id        INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    chat_id           INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    idempotency_key   TEXT,
    text              TEXT    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'unknown')),
    error             TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    next_attempt_at   INTEGER NOT NULL,
    first_sent_at     INTEGER,
    send_started_at   INTEGER,
    sent_at           INTEGER,
    wb_add_time       INTEGER,
    message_id        INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_chat ON outbox(chat_id, id);
CREATE UNIQUE INDEX outbox_message ON outbox(message_id);

CREATE TABLE outbox_files (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id    INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    bytes        BLOB    NOT NULL
);
CREATE INDEX outbox_files_outbox ON outbox_files(outbox_id, position);
