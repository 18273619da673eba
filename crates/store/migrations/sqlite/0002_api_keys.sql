-- API keys for scripts (`Authorization: Bearer aiq_…`). Keep in step with
-- ../postgres/0002_api_keys.sql. Only the SHA-256 of a key is stored: the key itself is shown
-- once when it is created and cannot be recovered from the database.

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_hash     BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX api_keys_user ON api_keys(user_id);
