DROP TRIGGER "task_due_count_update";

--bun:split

DROP TRIGGER "task_count_update";

--bun:split

DROP TRIGGER "task_count_delete";

--bun:split

DROP TRIGGER "task_count_insert";

--bun:split

DROP TABLE "task_due_count";

--bun:split

DROP TABLE "task_count";
