DROP INDEX "task_user_due_sort_idx";
