-- AgentIQ Chat Center, initial schema (SQLite). Keep in step with ../postgres/0001_initial.sql.
-- Timestamps are Unix milliseconds (INTEGER); every tenant-owned row carries workspace_id.

CREATE TABLE workspaces (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX users_workspace ON users(workspace_id);

CREATE TABLE accounts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id     INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    marketplace      TEXT    NOT NULL DEFAULT 'wildberries' CHECK (marketplace IN ('wildberries')),
    name             TEXT    NOT NULL,
    api_base_url     TEXT,
    token_ciphertext BLOB    NOT NULL,
    token_nonce      BLOB    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'active'
                     CHECK (state IN ('active', 'token_invalid', 'rate_limited', 'error')),
    last_error       TEXT,
    last_sync_at     INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE INDEX accounts_workspace ON accounts(workspace_id);

CREATE TABLE sync_state (
    account_id           INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    next_cursor          INTEGER,
    last_success_at      INTEGER,
    last_error           TEXT,
    backoff_until        INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_activity_at     INTEGER,
    chats_merged_at      INTEGER
);

CREATE TABLE chats (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id          INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id            INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    wb_chat_id            TEXT    NOT NULL,
    reply_sign            TEXT,
    -- when reply_sign was current: its event's addTimestamp, or the /chats merge time
    reply_sign_at         INTEGER,
    client_name           TEXT,
    nm_id                 INTEGER,
    rid                   TEXT,
    price                 INTEGER,
    price_currency        TEXT,
    size                  TEXT,
    last_message_text     TEXT,
    last_message_at       INTEGER,
    last_buyer_message_at INTEGER,
    last_read_at          INTEGER,
    unread_count          INTEGER NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    first_seen_at         INTEGER NOT NULL,
    UNIQUE (account_id, wb_chat_id)
);
CREATE INDEX chats_workspace_recent ON chats(workspace_id, last_message_at);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    chat_id       INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    event_id      TEXT    NOT NULL,
    sender        TEXT    NOT NULL CHECK (sender IN ('client', 'seller', 'wb')),
    source        TEXT    NOT NULL,
    text          TEXT    NOT NULL,
    add_timestamp INTEGER NOT NULL CHECK (add_timestamp >= 0),
    is_platform   BOOLEAN NOT NULL,
    created_at    INTEGER NOT NULL,
    UNIQUE (account_id, event_id)
);
CREATE INDEX messages_chat_time ON messages(chat_id, add_timestamp, id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('image', 'file')),
    download_id  TEXT,
    name         TEXT,
    content_type TEXT,
    size         INTEGER,
    url          TEXT
);
CREATE INDEX attachments_message ON attachments(message_id);
