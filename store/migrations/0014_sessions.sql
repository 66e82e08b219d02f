-- Dashboard sessions and login throttling (issue 16).
--
-- A session is known by the SHA-256 of its opaque token only: whoever
-- reads the database cannot take over a session. csrf is the session's
-- form token, useless without the session cookie. An agent's sessions go
-- with the agent's row (never deleted: disabled agents keep it, and
-- desk.Session refuses their sessions).
CREATE TABLE sessions (
	id           INTEGER PRIMARY KEY,
	token_hash   BLOB NOT NULL UNIQUE,
	agent        TEXT NOT NULL REFERENCES agents (name),
	csrf         TEXT NOT NULL,
	remote_addr  TEXT NOT NULL,
	via          TEXT NOT NULL, -- password | proxy
	created_at   TEXT NOT NULL,
	last_seen_at TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_agent ON sessions (agent);

-- Failed logins counted per name tried and per remote address, so that
-- every process serving the dashboard agrees. scope is agent or address.
CREATE TABLE login_throttle (
	scope        TEXT NOT NULL,
	key          TEXT NOT NULL,
	failures     INTEGER NOT NULL,
	window_start TEXT NOT NULL,
	locked_until TEXT,
	PRIMARY KEY (scope, key)
) STRICT;

-- The dashboard's language an agent chose: fr or en; '' not chosen yet.
ALTER TABLE agents ADD COLUMN lang TEXT NOT NULL DEFAULT '';
