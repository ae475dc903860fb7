DROP INDEX "task_user_completed_at_idx";

--bun:split

DROP INDEX "task_user_title_idx";

--bun:split

DROP INDEX "task_user_category_idx";

--bun:split

DROP INDEX "task_user_priority_idx";

--bun:split

DROP INDEX "task_user_status_due_date_idx";

--bun:split

DROP INDEX "task_user_updated_at_idx";

--bun:split

DROP INDEX "task_user_created_at_idx";

--bun:split

DROP TABLE "task";
