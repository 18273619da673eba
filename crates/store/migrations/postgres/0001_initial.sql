-- AgentIQ Chat Center, initial schema (PostgreSQL). Keep in step with ../sqlite/0001_initial.sql.
-- Timestamps are Unix milliseconds (BIGINT); every tenant-owned row carries workspace_id.

CREATE TABLE workspaces (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_workspace ON users(workspace_id);

CREATE TABLE accounts (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id     BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    marketplace      TEXT    NOT NULL DEFAULT 'wildberries' CHECK (marketplace IN ('wildberries')),
    name             TEXT    NOT NULL,
    api_base_url     TEXT,
    token_ciphertext BYTEA   NOT NULL,
    token_nonce      BYTEA   NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'active'
                     CHECK (state IN ('active', 'token_invalid', 'rate_limited', 'error')),
    last_error       TEXT,
    last_sync_at     BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX accounts_workspace ON accounts(workspace_id);

CREATE TABLE sync_state (
    account_id           BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    next_cursor          BIGINT,
    last_success_at      BIGINT,
    last_error           TEXT,
    backoff_until        BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    last_activity_at     BIGINT,
    chats_merged_at      BIGINT
);

CREATE TABLE chats (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id          BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id            BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    wb_chat_id            TEXT    NOT NULL,
    reply_sign            TEXT,
    -- when reply_sign was current: its event's addTimestamp, or the /chats merge time
    reply_sign_at         BIGINT,
    client_name           TEXT,
    nm_id                 BIGINT,
    rid                   TEXT,
    price                 BIGINT,
    price_currency        TEXT,
    size                  TEXT,
    last_message_text     TEXT,
    last_message_at       BIGINT,
    last_buyer_message_at BIGINT,
    last_read_at          BIGINT,
    unread_count          BIGINT NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    first_seen_at         BIGINT NOT NULL,
    UNIQUE (account_id, wb_chat_id)
);
CREATE INDEX chats_workspace_recent ON chats(workspace_id, last_message_at);

CREATE TABLE messages (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id    BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    chat_id       BIGINT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    event_id      TEXT    NOT NULL,
    sender        TEXT    NOT NULL CHECK (sender IN ('client', 'seller', 'wb')),
    source        TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    add_timestamp BIGINT NOT NULL CHECK (add_timestamp >= 0),
    is_platform   BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL,
    UNIQUE (account_id, event_id)
);
CREATE INDEX messages_chat_time ON messages(chat_id, add_timestamp, id);

CREATE TABLE attachments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    message_id   BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('image', 'file')),
    download_id  TEXT,
    name         TEXT,
    content_type TEXT,
    size         BIGINT,
    url          TEXT
);
CREATE INDEX attachments_message ON attachments(message_id);
