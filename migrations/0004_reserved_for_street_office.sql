-- 0004 is the number of branch street-office's migration (0004_street_office.sql). This empty
-- file only keeps the numbers of branch continuity without a gap until the branches meet: when
-- merging, keep street-office's 0004 and delete this file.
SELECT 1;
