-- Nothing changes on SQLite: its single writer already commits concurrent
-- creates together (group commit), and its count triggers cannot deadlock.
-- The PostgreSQL migration of this name moves the insert count trigger to
-- one run per statement; the file exists so both engines list the same
-- migrations.
SELECT 1;
