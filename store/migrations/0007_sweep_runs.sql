-- One row per run of a scheduled job (package sweep), on its schedule or
-- by `recoverybot sweep NAME`: when it started and ended, how it ended
-- (ok, failed, panicked), what it counted (a JSON object of integers)
-- and the error it ended with. `sweep status` and the digest read it.
CREATE TABLE sweep_runs (
	id         INTEGER PRIMARY KEY,
	job        TEXT NOT NULL,
	started_at TEXT NOT NULL,
	ended_at   TEXT NOT NULL,
	outcome    TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'panicked')),
	counts     TEXT NOT NULL DEFAULT '{}',
	error      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sweep_runs_job ON sweep_runs (job, id);
