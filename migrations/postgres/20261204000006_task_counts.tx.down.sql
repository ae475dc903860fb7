DROP TRIGGER "task_counts_update" ON "task";

--bun:split

DROP TRIGGER "task_counts_insert_delete" ON "task";

--bun:split

DROP FUNCTION "task_counts"();

--bun:split

DROP FUNCTION "task_due_count_add"(text, boolean, timestamptz, integer);

--bun:split

DROP FUNCTION "task_count_add"(text, boolean, integer, text, integer);

--bun:split

DROP TABLE "task_due_count";

--bun:split

DROP TABLE "task_count";
