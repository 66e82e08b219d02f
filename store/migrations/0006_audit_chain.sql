-- Each audit event carries a MAC chained to the one before it, keyed under
-- the data directory's audit key (audit.go says what it covers), so that a
-- rewritten, removed, inserted or reordered event is found by `recoverybot
-- audit verify`, even by someone who could write the file with the
-- triggers dropped. The events written before this migration are chained
-- by the migration itself, in its transaction; no open chains anything
-- later, so a row without a hash is always a broken link.
ALTER TABLE audit_events ADD COLUMN hash BLOB;

-- The chain's head: the last event's ID and a MAC over it and its hash,
-- so that events removed from the end are found too. Rewritten with every
-- event, in the same transaction.
CREATE TABLE audit_head (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	last_id INTEGER NOT NULL,
	mac     BLOB NOT NULL
) STRICT;

-- INSERT OR REPLACE deletes the row it replaces without firing DELETE
-- triggers (unless recursive_triggers is on): refuse an insert over an
-- existing event before it gets that far.
CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events
WHEN EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id)
BEGIN
	SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_need_hash BEFORE INSERT ON audit_events
WHEN NEW.hash IS NULL OR length(NEW.hash) != 32
BEGIN
	SELECT RAISE(ABORT, 'audit events must be chained');
END;

-- The one update ever allowed: giving an event written before this
-- migration its hash, every other column unchanged. After the migration
-- no event lacks one, and none can be inserted without one.
DROP TRIGGER audit_events_no_update;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN NOT (OLD.hash IS NULL AND NEW.hash IS NOT NULL AND NEW.id = OLD.id
	AND NEW.case_id IS OLD.case_id AND NEW.actor = OLD.actor AND NEW.action = OLD.action
	AND NEW.at = OLD.at AND NEW.details = OLD.details)
BEGIN
	SELECT RAISE(ABORT, 'audit events are append-only');
END;
