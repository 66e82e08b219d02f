-- A counter bumped by every change that can tie a message to a case: a
-- case opened or changed, a mail queued (its Message-ID is what replies
-- refer to). The intake reads it when it checks a message against the
-- cases and again when it commits the message: unchanged, the check
-- stands and need not be made again.
CREATE TABLE generation (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n  INTEGER NOT NULL
) STRICT;
INSERT INTO generation (id, n) VALUES (1, 0);
CREATE TRIGGER cases_insert_generation AFTER INSERT ON cases
BEGIN
	UPDATE generation SET n = n + 1;
END;
CREATE TRIGGER cases_update_generation AFTER UPDATE ON cases
BEGIN
	UPDATE generation SET n = n + 1;
END;
CREATE TRIGGER outbox_insert_generation AFTER INSERT ON outbox
BEGIN
	UPDATE generation SET n = n + 1;
END;
