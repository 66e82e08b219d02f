-- Deleting a blob (a sent mail's bytes, a purge) makes SQLite look for the
-- rows that point at it (ON DELETE SET NULL): without these indexes each
-- deletion read the whole ledger, documents and outbox.
CREATE INDEX messages_blob ON messages (blob_id) WHERE blob_id IS NOT NULL;
CREATE INDEX documents_blob ON documents (blob_id) WHERE blob_id IS NOT NULL;
CREATE INDEX outbox_blob ON outbox (blob_id) WHERE blob_id IS NOT NULL;
