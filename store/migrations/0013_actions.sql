-- The calls of the action hook (issue 16): what an approval asks the
-- provider's admin system to do, queued in the approval's transaction and
-- sent by the action courier like the outbox's mail. One per case.
-- idem_key is sent with every attempt; a call cut short by a crash
-- (state 'calling') is sent again with the same key, and the admin
-- system applies it once.
CREATE TABLE action_calls (
	id              INTEGER PRIMARY KEY,
	case_id         INTEGER NOT NULL UNIQUE REFERENCES cases (id),
	case_ref        TEXT NOT NULL,
	profile_id      TEXT NOT NULL,
	action          TEXT NOT NULL CHECK (action IN ('disable_totp', 'clear_ip_allowlist', 'change_email', 'tell_email')),
	new_email       TEXT NOT NULL DEFAULT '',
	approvers       TEXT NOT NULL DEFAULT '[]',
	approved_at     TEXT NOT NULL,
	idem_key        TEXT NOT NULL UNIQUE,
	not_before      TEXT NOT NULL,
	state           TEXT NOT NULL CHECK (state IN ('pending', 'calling', 'done', 'failed', 'stopped')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TEXT NOT NULL,
	last_error      TEXT NOT NULL DEFAULT '',
	result          TEXT NOT NULL DEFAULT '',
	stopped_by      TEXT NOT NULL DEFAULT '',
	stop_reason     TEXT NOT NULL DEFAULT '',
	created_at      TEXT NOT NULL,
	done_at         TEXT
) STRICT;
CREATE INDEX action_calls_due ON action_calls (next_attempt_at) WHERE state = 'pending';
CREATE INDEX action_calls_calling ON action_calls (state) WHERE state = 'calling';
