-- Raw messages are kept, sealed, in the spool: a database file of its own
-- beside this one (see spool.go). raw_id is the message's row there;
-- blob_id stays for raw messages recorded before the spool existed.
ALTER TABLE messages ADD COLUMN raw_id INTEGER;
CREATE INDEX messages_raw ON messages (raw_id) WHERE raw_id IS NOT NULL;
