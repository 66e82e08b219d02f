-- The daemon's health (package health).
--
-- health_probe holds one row that the readiness check rewrites, at most
-- every few seconds, to prove that the database still takes writes.
--
-- alert_episodes holds one row per alert whose trouble is going on:
-- fetching stale, the OAuth token failing, the outbox stuck. began_at is
-- when the trouble began, cause what broke (a fault cause), alerted_at
-- when its alert mail was queued (NULL: not yet). The row is deleted when
-- the trouble ends. A restart within an episode finds it and mails
-- nothing again.
CREATE TABLE health_probe (
	id        INTEGER PRIMARY KEY CHECK (id = 1),
	probed_at TEXT NOT NULL
) STRICT;

CREATE TABLE alert_episodes (
	alert      TEXT PRIMARY KEY,
	began_at   TEXT NOT NULL,
	cause      TEXT NOT NULL DEFAULT '',
	alerted_at TEXT
) STRICT;
