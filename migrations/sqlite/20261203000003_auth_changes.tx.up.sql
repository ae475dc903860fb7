-- Servers keep recently used sessions in memory. So that a session ended
-- anywhere else (another todo instance, `todo user set-password` or
-- `todo user delete`, a Better Auth app on the same database) stops working
-- on every server at once, these triggers log every ended session and every
-- changed or deleted user, and each server polls the log. Rows are pruned
-- after a few minutes; nothing else reads them.
CREATE TABLE "todo_auth_change" (
  "seq" integer PRIMARY KEY AUTOINCREMENT,
  "session_id" text,
  "token" text,
  "user_id" text,
  "at" text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

--bun:split

CREATE INDEX "todo_auth_change_at_idx" ON "todo_auth_change" ("at");

--bun:split

CREATE TRIGGER "todo_auth_change_session_delete" AFTER DELETE ON "session"
BEGIN
  INSERT INTO "todo_auth_change" ("session_id", "token", "user_id") VALUES (OLD."id", OLD."token", OLD."userId");
END;

--bun:split

-- The expiry moving (the sliding refresh) is not a revocation; a new token
-- or owner is.
CREATE TRIGGER "todo_auth_change_session_update" AFTER UPDATE OF "token", "userId" ON "session"
BEGIN
  INSERT INTO "todo_auth_change" ("session_id", "token", "user_id") VALUES (OLD."id", OLD."token", OLD."userId");
END;

--bun:split

CREATE TRIGGER "todo_auth_change_user_update" AFTER UPDATE ON "user"
BEGIN
  INSERT INTO "todo_auth_change" ("user_id") VALUES (OLD."id");
END;

--bun:split

CREATE TRIGGER "todo_auth_change_user_delete" AFTER DELETE ON "user"
BEGIN
  INSERT INTO "todo_auth_change" ("user_id") VALUES (OLD."id");
END;
