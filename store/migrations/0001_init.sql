-- The first schema of recoverybot. Migrations are append-only: never edit
-- a migration that has shipped, add the next number instead.

CREATE TABLE profiles (
	id             TEXT PRIMARY KEY,
	email          TEXT NOT NULL,
	phone          TEXT NOT NULL DEFAULT '',
	holder_kind    TEXT NOT NULL CHECK (holder_kind IN ('individual', 'company', 'association')),
	holder_name    TEXT NOT NULL,
	representative TEXT NOT NULL DEFAULT '',
	siren          TEXT NOT NULL DEFAULT '',
	rna            TEXT NOT NULL DEFAULT '',
	locale         TEXT NOT NULL DEFAULT 'fr' CHECK (locale IN ('fr', 'en')),
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX profiles_email ON profiles (email);

CREATE TABLE cases (
	id                   INTEGER PRIMARY KEY,
	ref                  TEXT NOT NULL UNIQUE,
	profile_id           TEXT NOT NULL REFERENCES profiles (id),
	kind                 TEXT NOT NULL CHECK (kind IN ('lost-email', 'totp-lockout', 'ip-lockout')),
	contact              TEXT NOT NULL,
	state                TEXT NOT NULL CHECK (state IN ('awaiting_evidence', 'ready_for_review', 'approved',
	                         'rejected', 'locked', 'expired', 'cancelled')),
	opened_by            TEXT NOT NULL,
	opened_at            TEXT NOT NULL,
	updated_at           TEXT NOT NULL,
	decided_by           TEXT NOT NULL DEFAULT '',
	decided_at           TEXT,
	note                 TEXT NOT NULL DEFAULT '',
	reason               TEXT NOT NULL DEFAULT '',
	new_email            TEXT NOT NULL DEFAULT '',
	sender_status        TEXT NOT NULL DEFAULT 'none' CHECK (sender_status IN ('none', 'verified', 'unverified', 'failed')),
	code_verified        INTEGER NOT NULL DEFAULT 0,
	failed_code_attempts INTEGER NOT NULL DEFAULT 0,
	last_auto_reply_at   TEXT,
	flags                TEXT NOT NULL DEFAULT '[]'
) STRICT;
-- At most one open case per profile and kind (SPEC §2), enforced here too.
CREATE UNIQUE INDEX cases_one_open ON cases (profile_id, kind)
	WHERE state IN ('awaiting_evidence', 'ready_for_review', 'locked');
CREATE INDEX cases_open_contact ON cases (contact)
	WHERE state IN ('awaiting_evidence', 'ready_for_review', 'locked');
CREATE INDEX cases_state ON cases (state, updated_at);

-- Codes are kept only as keyed hashes. A re-issued code supersedes the
-- previous one; the failure count lives on the case and survives it.
CREATE TABLE codes (
	id            INTEGER PRIMARY KEY,
	case_id       INTEGER NOT NULL REFERENCES cases (id),
	hash          BLOB NOT NULL,
	issued_at     TEXT NOT NULL,
	expires_at    TEXT NOT NULL,
	used_at       TEXT,
	superseded_at TEXT
) STRICT;
CREATE INDEX codes_case ON codes (case_id, id);

-- Sealed bytes: raw messages, documents, outgoing mail. Deleting a row is
-- how bytes are purged; secure_delete overwrites the freed pages.
CREATE TABLE blobs (
	id         INTEGER PRIMARY KEY,
	kind       TEXT NOT NULL CHECK (kind IN ('message', 'document', 'outgoing')),
	sha256     TEXT NOT NULL,
	size       INTEGER NOT NULL,
	sealed     BLOB NOT NULL,
	created_at TEXT NOT NULL
) STRICT;

-- Where ingestion stands in each mailbox (RFC 3501 §2.3.1.1).
CREATE TABLE mailbox_state (
	mailbox      TEXT PRIMARY KEY,
	uid_validity INTEGER NOT NULL,
	last_uid     INTEGER NOT NULL,
	updated_at   TEXT NOT NULL
) STRICT;

-- The message ledger: every message fetched, recorded before anything
-- else happens to it.
CREATE TABLE messages (
	id             INTEGER PRIMARY KEY,
	mailbox        TEXT NOT NULL,
	uid_validity   INTEGER NOT NULL,
	uid            INTEGER NOT NULL,
	message_id     TEXT NOT NULL DEFAULT '',
	sha256         TEXT NOT NULL DEFAULT '',
	-- content_key identifies the same message delivered twice: the
	-- Message-ID with the SHA-256 of the body, or the SHA-256 of the raw
	-- bytes when there is no Message-ID.
	content_key    TEXT NOT NULL DEFAULT '',
	size           INTEGER NOT NULL,
	fetched_at     TEXT NOT NULL,
	status         TEXT NOT NULL DEFAULT 'received'
	                   CHECK (status IN ('received', 'processed', 'review', 'ignored', 'duplicate')),
	reason         TEXT NOT NULL DEFAULT '',
	case_id        INTEGER REFERENCES cases (id),
	duplicate_of   INTEGER REFERENCES messages (id),
	move_to        TEXT NOT NULL DEFAULT '',
	moved_at       TEXT,
	parser_version INTEGER NOT NULL DEFAULT 0,
	blob_id        INTEGER REFERENCES blobs (id) ON DELETE SET NULL,
	UNIQUE (mailbox, uid_validity, uid)
) STRICT;
CREATE INDEX messages_sha256 ON messages (sha256) WHERE sha256 != '';
CREATE INDEX messages_message_id ON messages (message_id) WHERE message_id != '';
CREATE INDEX messages_content_key ON messages (content_key) WHERE content_key != '';
CREATE INDEX messages_case ON messages (case_id) WHERE case_id IS NOT NULL;
CREATE INDEX messages_pending_move ON messages (mailbox, uid) WHERE move_to != '' AND moved_at IS NULL;

-- What one message contributed to a case.
CREATE TABLE evidence (
	id            INTEGER PRIMARY KEY,
	case_id       INTEGER NOT NULL REFERENCES cases (id),
	message_id    INTEGER NOT NULL REFERENCES messages (id),
	sender        TEXT NOT NULL DEFAULT '',
	sender_status TEXT NOT NULL DEFAULT 'none',
	sender_detail TEXT NOT NULL DEFAULT '',
	code_result   TEXT NOT NULL DEFAULT '',
	automatic     INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT NOT NULL,
	UNIQUE (case_id, message_id)
) STRICT;

CREATE TABLE documents (
	id             INTEGER PRIMARY KEY,
	case_id        INTEGER NOT NULL REFERENCES cases (id),
	message_id     INTEGER REFERENCES messages (id),
	type           TEXT NOT NULL CHECK (type IN ('identity_document', 'company_registration',
	                   'association_statutes', 'other')),
	filename       TEXT NOT NULL,
	declared_type  TEXT NOT NULL DEFAULT '',
	media_type     TEXT NOT NULL,
	size           INTEGER NOT NULL,
	sha256         TEXT NOT NULL,
	signals        TEXT NOT NULL DEFAULT '[]',
	findings       TEXT NOT NULL DEFAULT '[]',
	parser_version INTEGER NOT NULL DEFAULT 0,
	blob_id        INTEGER REFERENCES blobs (id) ON DELETE SET NULL,
	purged_at      TEXT,
	created_at     TEXT NOT NULL
) STRICT;
CREATE INDEX documents_case ON documents (case_id, id);

-- Outgoing mail, written in the transaction of the change that causes it.
-- message_id is derived from the case and the event, so the same mail
-- cannot be queued twice.
CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY,
	case_id         INTEGER REFERENCES cases (id),
	template        TEXT NOT NULL,
	message_id      TEXT NOT NULL UNIQUE,
	sender          TEXT NOT NULL,
	recipient       TEXT NOT NULL,
	automatic       INTEGER NOT NULL DEFAULT 0,
	blob_id         INTEGER REFERENCES blobs (id) ON DELETE SET NULL,
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TEXT NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL,
	sent_at         TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state IN ('pending', 'sending');
CREATE INDEX outbox_case ON outbox (case_id);

-- The audit log is append-only: these triggers refuse any change, whatever
-- the code above them does.
CREATE TABLE audit_events (
	id      INTEGER PRIMARY KEY,
	case_id INTEGER REFERENCES cases (id),
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	at      TEXT NOT NULL,
	details TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX audit_events_case ON audit_events (case_id, id);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit events are append-only');
END;
