-- Downloaded attachments (SQLite). Keep in step with ../postgres/0004_attachment_cache.sql.
-- One row per attachment that was asked for at least once: whether its bytes are in the
-- content-addressed cache on disk (`<data_dir>/attachments/<sha[0..2]>/<sha256>`), still in
-- WB's moderation (ask again after retry_after) or blocked by it. The bytes themselves are
-- never stored in the database. An attachment without a row has not been fetched yet.

CREATE TABLE attachment_cache (
    attachment_id INTEGER PRIMARY KEY REFERENCES attachments(id) ON DELETE CASCADE,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    state         TEXT    NOT NULL CHECK (state IN ('cached', 'pending', 'blocked')),
    -- lower-case hex SHA-256 of the bytes; set when cached
    sha256        TEXT,
    content_type  TEXT,
    size          INTEGER CHECK (size IS NULL OR size >= 0),
    -- when WB last answered for this attachment (Unix ms)
    fetched_at    INTEGER NOT NULL,
    -- pending: do not ask WB again before this moment (Unix ms)
    retry_after   INTEGER,
    -- blocked: WB's explanation
    reason        TEXT,
    CHECK (state <> 'cached' OR (sha256 IS NOT NULL AND size IS NOT NULL))
);
CREATE INDEX attachment_cache_sha256 ON attachment_cache(sha256);
