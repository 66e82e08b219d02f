-- A document is unique per case, message and bytes (SHA-256): a message
-- decided twice, or a part repeated inside one message, adds one row.
-- The same bytes sent in two messages keep a row each, so the listing
-- shows both messages, and count once (Tx.Documents groups them).
-- Rows that break the rule are dropped, the first of each kept, with the
-- sealed bytes no row points at any more.
DELETE FROM documents WHERE id NOT IN (
	SELECT min(id) FROM documents GROUP BY case_id, COALESCE(message_id, 0), sha256);
DELETE FROM blobs WHERE kind = 'document' AND id NOT IN (
	SELECT blob_id FROM documents WHERE blob_id IS NOT NULL);
CREATE UNIQUE INDEX documents_unique ON documents (case_id, COALESCE(message_id, 0), sha256);
CREATE INDEX documents_case_sha256 ON documents (case_id, sha256);
