-- Mail that came before its case (SPEC §5). When a case opens, the mail
-- from its address that recoverybot left in the mailbox (ignored, under
-- the mailbox's current UIDVALIDITY) during the last lookback is queued
-- here, in the transaction that opens the case. The intake fetches each
-- message again by UID and decides it anew; done_at is set in the
-- transaction that commits that decision, so a message is taken once.
CREATE TABLE lookbacks (
	id         INTEGER PRIMARY KEY,
	case_id    INTEGER NOT NULL REFERENCES cases (id),
	message_id INTEGER NOT NULL REFERENCES messages (id),
	created_at TEXT NOT NULL,
	done_at    TEXT,
	UNIQUE (case_id, message_id)
) STRICT;
CREATE INDEX lookbacks_pending ON lookbacks (message_id) WHERE done_at IS NULL;

-- The ignored mail of a sender, by arrival: what a new case looks at.
CREATE INDEX messages_ignored_sender ON messages (sender, fetched_at) WHERE status = 'ignored';
