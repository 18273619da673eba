-- Urgency order of the inbox (see Store::list_chats): chats waiting for a seller reply first,
-- longest-waiting first, then the rest by latest activity.
--
-- awaiting_since: the addTimestamp (ms) of the oldest buyer message not yet answered by a later
-- seller message; NULL when nothing waits. Maintained by Store::ingest_page (see the rule in
-- ingest.rs). Existing rows are backfilled approximately: the last buyer message when the buyer
-- wrote last.
--
-- The index is in exactly the list's ORDER BY (same expressions), so the first page reads ~50
-- index entries instead of sorting every chat of the workspace; it replaces 0006's index, which
-- nothing orders by any more. Keep in step with ../postgres/0007_awaiting.sql.
ALTER TABLE chats ADD COLUMN awaiting_since INTEGER;

UPDATE chats SET awaiting_since = last_buyer_message_at
 WHERE last_buyer_message_at IS NOT NULL
   AND (last_message_at IS NULL OR last_buyer_message_at >= last_message_at);

DROP INDEX chats_workspace_activity;

CREATE INDEX chats_workspace_awaiting
    ON chats (workspace_id, awaiting_since IS NULL, awaiting_since,
              COALESCE(last_message_at, first_seen_at) DESC, id DESC);
