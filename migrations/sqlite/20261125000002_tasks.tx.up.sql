-- Lengths are in characters: SQLite's length() counts code points of text.
-- Timestamps are text in exactly one format, 2026-12-02T17:19:08.220Z, which
-- the GLOB checks enforce: ordering and range filters compare them as text,
-- so a value in any other format would sort wrongly without an error.
-- No timestamp has a database default, because SQLite's CURRENT_TIMESTAMP
-- would write a second format; the application always supplies them.
CREATE TABLE "task" (
  "id" INTEGER PRIMARY KEY AUTOINCREMENT,
  "user_id" text NOT NULL REFERENCES "user" ("id") ON DELETE CASCADE,
  "title" text NOT NULL CONSTRAINT "task_title_length" CHECK (length("title") BETWEEN 1 AND 200),
  "description" text CONSTRAINT "task_description_length" CHECK (length("description") <= 1000),
  "status" integer NOT NULL DEFAULT 0 CONSTRAINT "task_status_bool" CHECK ("status" IN (0, 1)),
  "category" text CONSTRAINT "task_category_length" CHECK (length("category") <= 100),
  "priority" integer NOT NULL DEFAULT 2 CONSTRAINT "task_priority_range" CHECK ("priority" BETWEEN 1 AND 3),
  "due_date" text CONSTRAINT "task_due_date_format" CHECK ("due_date" GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
  "completed_at" text CONSTRAINT "task_completed_at_format" CHECK ("completed_at" GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
  "version" integer NOT NULL DEFAULT 1 CONSTRAINT "task_version_positive" CHECK ("version" >= 1),
  "created_at" text NOT NULL CONSTRAINT "task_created_at_format" CHECK ("created_at" GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'),
  "updated_at" text NOT NULL CONSTRAINT "task_updated_at_format" CHECK ("updated_at" GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
);

--bun:split

-- Every index leads with user_id because every query is one user's; the
-- trailing id matches the API's tie-breaker so sorted pages need no extra sort.
-- The list's default order (-created_at) and keyset-style paging.
CREATE INDEX "task_user_created_at_idx" ON "task" ("user_id", "created_at", "id");

--bun:split

-- sort=updated_at and the dashboard's recently updated tasks.
CREATE INDEX "task_user_updated_at_idx" ON "task" ("user_id", "updated_at", "id");

--bun:split

-- status filters, overdue/today/week due filters and upcoming tasks.
CREATE INDEX "task_user_status_due_date_idx" ON "task" ("user_id", "status", "due_date");

--bun:split

-- priority filter/sort and the by-priority stats.
CREATE INDEX "task_user_priority_idx" ON "task" ("user_id", "priority", "id");

--bun:split

-- category filter and the by-category stats.
CREATE INDEX "task_user_category_idx" ON "task" ("user_id", "category");

--bun:split

-- sort=title.
CREATE INDEX "task_user_title_idx" ON "task" ("user_id", "title", "id");

--bun:split

-- completed-per-day on the dashboard.
CREATE INDEX "task_user_completed_at_idx" ON "task" ("user_id", "completed_at");
