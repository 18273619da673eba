-- The inbox lists a workspace's chats by latest activity (`ORDER BY COALESCE(last_message_at,
-- first_seen_at) DESC, id DESC`, see Store::list_chats). With an index in exactly that order the
-- first page reads ~50 index entries instead of sorting every chat of the workspace (100,000
-- chats: a full sort per request). Keep in step with ../postgres/0006_inbox_order.sql.
CREATE INDEX chats_workspace_activity
    ON chats (workspace_id, COALESCE(last_message_at, first_seen_at) DESC, id DESC);
