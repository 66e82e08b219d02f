-- Retention (SPEC §8). The ledger keeps of mail tied to no case its UID,
-- Message-ID, sender, date and size: sender and sent_at are recorded at
-- decision time, and the raw copy of such mail leaves the spool.
ALTER TABLE messages ADD COLUMN sender TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN sent_at TEXT;
