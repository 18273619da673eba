-- The outbox: a reply is a row before it is a request (exactly-once delivery). Keep in step
-- with ../sqlite/0003_outbox.sql.

CREATE TABLE outbox (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id      BIGINT  NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id        BIGINT  NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    chat_id           BIGINT  NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    idempotency_key   TEXT,
    text              TEXT    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'queued'
                      CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'unknown')),
    error             TEXT,
    attempts          BIGINT  NOT NULL DEFAULT 0,
    created_at        BIGINT  NOT NULL,
    updated_at        BIGINT  NOT NULL,
    next_attempt_at   BIGINT  NOT NULL,
    first_sent_at     BIGINT,
    send_started_at   BIGINT,
    sent_at           BIGINT,
    wb_add_time       BIGINT,
    message_id        BIGINT  REFERENCES messages(id) ON DELETE SET NULL,
    UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_chat ON outbox(chat_id, id);
CREATE UNIQUE INDEX outbox_message ON outbox(message_id);

CREATE TABLE outbox_files (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id    BIGINT  NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    position     BIGINT  NOT NULL,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    bytes        BYTEA   NOT NULL
);
CREATE INDEX outbox_files_outbox ON outbox_files(outbox_id, position);
