-- Which pipeline decided a message's move: the one that makes it. A
-- pipeline that holds the data directory's lock makes every pending move
-- (their deciders are gone); one that does not makes only its own, so
-- that two processes on one data directory never move one message twice.
ALTER TABLE messages ADD COLUMN move_owner TEXT NOT NULL DEFAULT '';
