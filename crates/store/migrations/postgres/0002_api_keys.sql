-- API keys for scripts (`Authorization: Bearer aiq_…`). Keep in step with
-- ../sqlite/0002_api_keys.sql. Only the SHA-256 of a key is stored: the key itself is shown
-- once when it is created and cannot be recovered from the database.

CREATE TABLE api_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key_hash     BYTEA  NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX api_keys_user ON api_keys(user_id);
