-- Where the server put a message recoverybot moved (SPEC §8: the purge
-- expunges it from there): the destination folder's server name, its
-- UIDVALIDITY and the message's UID in it, from the COPYUID response
-- code (RFC 4315 section 3). Validity and UID are NULL when the server
-- did not say (no UIDPLUS); moved_folder is '' for moves made before
-- this migration, whose move_to still names the folder.
ALTER TABLE messages ADD COLUMN moved_folder TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN moved_validity INTEGER;
ALTER TABLE messages ADD COLUMN moved_uid INTEGER;

-- The messages of purged cases still to expunge from the folders they
-- were moved to, one row per ledger row. A row is done (done_at) once
-- the message is gone from the server, expunged by recoverybot or by
-- someone before it; a failed attempt counts in attempts, with its
-- error, and the row stays pending.
CREATE TABLE expunges (
	id           INTEGER PRIMARY KEY,
	message_id   INTEGER NOT NULL UNIQUE REFERENCES messages (id),
	case_id      INTEGER NOT NULL REFERENCES cases (id),
	folder       TEXT NOT NULL,
	move_to      TEXT NOT NULL,
	uid_validity INTEGER,
	uid          INTEGER,
	header_id    TEXT NOT NULL DEFAULT '', -- the Message-ID, without angle brackets
	created_at   TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	done_at      TEXT
) STRICT;
CREATE INDEX expunges_pending ON expunges (attempts, id) WHERE done_at IS NULL;

-- When a reconcile found a message of the ledger gone from its mailbox,
-- neither moved by recoverybot nor there any more (someone deleted or
-- moved it): the row stays, marked, and is reported once.
ALTER TABLE messages ADD COLUMN vanished_at TEXT;
