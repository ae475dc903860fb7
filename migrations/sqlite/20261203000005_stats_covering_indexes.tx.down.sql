DROP INDEX "task_user_category_idx";

--bun:split

CREATE INDEX "task_user_category_idx" ON "task" ("user_id", "category");

--bun:split

DROP INDEX "task_user_status_due_date_idx";

--bun:split

CREATE INDEX "task_user_status_due_date_idx" ON "task" ("user_id", "status", "due_date");
