-- The agents who log in to the dashboard (SPEC §6 users). password is an
-- argon2id hash in the PHC string format; a disabled agent keeps their
-- row (the audit log names them) and cannot log in.
CREATE TABLE agents (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	password    TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	disabled_at TEXT
) STRICT;
