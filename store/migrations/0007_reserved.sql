-- Reserved for the sweep scheduler's migration (another branch). This
-- placeholder only keeps the numbering without gaps on this branch; it
-- is deleted at merge.
SELECT 1;
