-- Who works a case (SPEC §6 cases claim): only the holder decides it.
ALTER TABLE cases ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN claimed_at TEXT;
-- A first approval waiting for a second agent ([policy] second_approval),
-- as JSON; and the agents who approved, as a JSON array.
ALTER TABLE cases ADD COLUMN pending_approval TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN approvers TEXT NOT NULL DEFAULT '[]';
-- An agent's judgement of a document, on every row of its SHA-256 in the
-- case.
ALTER TABLE documents ADD COLUMN verdict TEXT NOT NULL DEFAULT '' CHECK (verdict IN ('', 'accepted', 'refused'));
ALTER TABLE documents ADD COLUMN verdict_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN verdict_by TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN verdict_at TEXT;
