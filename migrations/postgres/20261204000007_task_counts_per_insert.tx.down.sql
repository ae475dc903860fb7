DROP TRIGGER "task_counts_insert" ON "task";

--bun:split

DROP TRIGGER "task_counts_delete" ON "task";

--bun:split

CREATE TRIGGER "task_counts_insert_delete" AFTER INSERT OR DELETE ON "task"
  FOR EACH ROW EXECUTE FUNCTION "task_counts"();

--bun:split

DROP FUNCTION "task_counts_inserted"();
