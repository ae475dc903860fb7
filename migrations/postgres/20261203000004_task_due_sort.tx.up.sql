-- sort=due_date orders by (due_date IS NULL), due_date, id so tasks without
-- a due date come last in both directions; this index has that exact
-- expression, so the first page is read in order instead of sorting every
-- task of the user.
CREATE INDEX "task_user_due_sort_idx" ON "task" ("user_id", ("due_date" IS NULL), "due_date", "id");
