-- Browser sessions of operators (cookie `aiq_session`). Keep in step with
-- ../sqlite/0005_sessions.sql. Only the SHA-256 of the cookie's token is stored, so a copy of
-- the database lets nobody in. The CSRF token is per session and sent back by the pages.

CREATE TABLE sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash   BYTEA  NOT NULL UNIQUE,
    csrf_token   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX sessions_user ON sessions(user_id);
