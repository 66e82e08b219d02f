-- Retention (SPEC §8). The ledger keeps of mail tied to no case its UID,
-- Message-ID, sender, date and size: sender and sent_at are recorded at
-- decision time, and the raw copy of such mail leaves the spool.
ALTER TABLE messages ADD COLUMN sender TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN sent_at TEXT;

-- Each case's documents are sealed under a key of its own, stored here
-- wrapped (sealed) by the storage key; the purge deletes the row, which
-- makes every copy of those blobs unreadable. A blob's case_id names the
-- key it is sealed under; NULL: the storage key (blobs written before
-- this migration, and raw messages and outgoing mail).
CREATE TABLE case_keys (
	case_id    INTEGER PRIMARY KEY REFERENCES cases (id),
	wrapped    BLOB NOT NULL,
	created_at TEXT NOT NULL
) STRICT;
ALTER TABLE blobs ADD COLUMN case_id INTEGER REFERENCES cases (id);
ALTER TABLE cases ADD COLUMN purged_at TEXT;
