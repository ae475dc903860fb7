-- Per-user task counts, kept by triggers in the transaction of every task
-- write, so the list's total and the stats read a handful of rows instead
-- of counting every matching task: a user with 100,000 tasks gets the first
-- page and the stats as fast as a user with 1,000.
--
-- task_count holds how many of a user's tasks share one status, priority and
-- category; a row exists only while its count is above zero. A task without
-- a category has has_category 0 and category '' (a key cannot be NULL, and
-- '' is itself a category a task may have).
CREATE TABLE "task_count" (
  "user_id" text NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
  "status" integer NOT NULL,
  "priority" integer NOT NULL,
  "has_category" integer NOT NULL,
  "category" text NOT NULL,
  "n" integer NOT NULL CONSTRAINT "task_count_positive" CHECK ("n" > 0),
  PRIMARY KEY ("user_id", "status", "priority", "has_category", "category")
) WITHOUT ROWID;

--bun:split

-- task_due_count holds how many of a user's pending tasks are due on each
-- UTC calendar day (the first 10 characters of the stored timestamp). The
-- overdue count sums the days before today and counts only today's tasks
-- one by one.
CREATE TABLE "task_due_count" (
  "user_id" text NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
  "due_day" text NOT NULL,
  "n" integer NOT NULL CONSTRAINT "task_due_count_positive" CHECK ("n" > 0),
  PRIMARY KEY ("user_id", "due_day")
) WITHOUT ROWID;

--bun:split

-- A row is deleted when its last task goes (DELETE first, so the CHECK never
-- sees a zero), and created by the first task that needs it.
CREATE TRIGGER "task_count_insert" AFTER INSERT ON "task" BEGIN
  INSERT INTO "task_count" ("user_id", "status", "priority", "has_category", "category", "n")
    VALUES (NEW."user_id", NEW."status", NEW."priority", NEW."category" IS NOT NULL, coalesce(NEW."category", ''), 1)
    ON CONFLICT DO UPDATE SET "n" = "n" + 1;
  INSERT INTO "task_due_count" ("user_id", "due_day", "n")
    SELECT NEW."user_id", substr(NEW."due_date", 1, 10), 1 WHERE NEW."status" = 0 AND NEW."due_date" IS NOT NULL
    ON CONFLICT DO UPDATE SET "n" = "n" + 1;
END;

--bun:split

CREATE TRIGGER "task_count_delete" AFTER DELETE ON "task" BEGIN
  DELETE FROM "task_count" WHERE "user_id" = OLD."user_id" AND "status" = OLD."status" AND "priority" = OLD."priority"
      AND "has_category" = (OLD."category" IS NOT NULL) AND "category" = coalesce(OLD."category", '') AND "n" = 1;
  UPDATE "task_count" SET "n" = "n" - 1 WHERE "user_id" = OLD."user_id" AND "status" = OLD."status" AND "priority" = OLD."priority"
      AND "has_category" = (OLD."category" IS NOT NULL) AND "category" = coalesce(OLD."category", '');
  DELETE FROM "task_due_count" WHERE "user_id" = OLD."user_id" AND "due_day" = substr(OLD."due_date", 1, 10)
    AND OLD."status" = 0 AND OLD."due_date" IS NOT NULL AND "n" = 1;
  UPDATE "task_due_count" SET "n" = "n" - 1 WHERE "user_id" = OLD."user_id" AND "due_day" = substr(OLD."due_date", 1, 10)
    AND OLD."status" = 0 AND OLD."due_date" IS NOT NULL;
END;

--bun:split

-- Title, description and timestamp edits, the most common updates, change
-- no count and skip both triggers.
CREATE TRIGGER "task_count_update" AFTER UPDATE OF "user_id", "status", "priority", "category" ON "task"
WHEN OLD."user_id" IS NOT NEW."user_id" OR OLD."status" IS NOT NEW."status" OR OLD."priority" IS NOT NEW."priority"
  OR OLD."category" IS NOT NEW."category"
BEGIN
  DELETE FROM "task_count" WHERE "user_id" = OLD."user_id" AND "status" = OLD."status" AND "priority" = OLD."priority"
      AND "has_category" = (OLD."category" IS NOT NULL) AND "category" = coalesce(OLD."category", '') AND "n" = 1;
  UPDATE "task_count" SET "n" = "n" - 1 WHERE "user_id" = OLD."user_id" AND "status" = OLD."status" AND "priority" = OLD."priority"
      AND "has_category" = (OLD."category" IS NOT NULL) AND "category" = coalesce(OLD."category", '');
  INSERT INTO "task_count" ("user_id", "status", "priority", "has_category", "category", "n")
    VALUES (NEW."user_id", NEW."status", NEW."priority", NEW."category" IS NOT NULL, coalesce(NEW."category", ''), 1)
    ON CONFLICT DO UPDATE SET "n" = "n" + 1;
END;

--bun:split

CREATE TRIGGER "task_due_count_update" AFTER UPDATE OF "user_id", "status", "due_date" ON "task"
WHEN OLD."user_id" IS NOT NEW."user_id" OR OLD."status" IS NOT NEW."status" OR OLD."due_date" IS NOT NEW."due_date"
BEGIN
  DELETE FROM "task_due_count" WHERE "user_id" = OLD."user_id" AND "due_day" = substr(OLD."due_date", 1, 10)
    AND OLD."status" = 0 AND OLD."due_date" IS NOT NULL AND "n" = 1;
  UPDATE "task_due_count" SET "n" = "n" - 1 WHERE "user_id" = OLD."user_id" AND "due_day" = substr(OLD."due_date", 1, 10)
    AND OLD."status" = 0 AND OLD."due_date" IS NOT NULL;
  INSERT INTO "task_due_count" ("user_id", "due_day", "n")
    SELECT NEW."user_id", substr(NEW."due_date", 1, 10), 1 WHERE NEW."status" = 0 AND NEW."due_date" IS NOT NULL
    ON CONFLICT DO UPDATE SET "n" = "n" + 1;
END;

--bun:split

-- The counts of the tasks that exist when this migration runs.
INSERT INTO "task_count" ("user_id", "status", "priority", "has_category", "category", "n")
  SELECT "user_id", "status", "priority", "category" IS NOT NULL, coalesce("category", ''), count(*)
  FROM "task" GROUP BY 1, 2, 3, 4, 5;

--bun:split

INSERT INTO "task_due_count" ("user_id", "due_day", "n")
  SELECT "user_id", substr("due_date", 1, 10), count(*)
  FROM "task" WHERE "status" = 0 AND "due_date" IS NOT NULL GROUP BY 1, 2;
