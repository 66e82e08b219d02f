-- Reserved for another branch's migration. This placeholder only keeps
-- the numbering without gaps on this branch; it is deleted at merge.
SELECT 1;
