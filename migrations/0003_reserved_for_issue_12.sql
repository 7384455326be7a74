-- 0003 is the number of the lead's issue-12 migration (security, strict input), made on another
-- branch. This empty file only keeps the numbers of branch street-office without a gap until the
-- two branches meet: when merging, keep the lead's 0003 and delete this file.
SELECT 1;
