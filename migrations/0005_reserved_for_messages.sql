-- 0005 is the number of branch messages' migration (0005_outbox.sql). This empty file only keeps
-- the numbers of branch continuity without a gap until the branches meet: when merging, keep
-- messages' 0005 and delete this file.
SELECT 1;
