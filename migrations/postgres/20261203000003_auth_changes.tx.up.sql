-- Servers keep recently used sessions in memory. So that a session ended
-- anywhere else (another todo instance, `todo user set-password` or
-- `todo user delete`, a Better Auth app on the same database) stops working
-- on every server at once, these triggers log every ended session and every
-- changed or deleted user, and each server polls the log. Rows are pruned
-- after a few minutes; nothing else reads them. "at" is the clock at the
-- change, not the transaction's start, so the pollers' overlap window
-- covers transactions that commit out of sequence order.
CREATE TABLE "todo_auth_change" (
  "seq" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "session_id" text,
  "token" text,
  "user_id" text,
  "at" timestamptz NOT NULL DEFAULT clock_timestamp()
);

--bun:split

CREATE INDEX "todo_auth_change_at_idx" ON "todo_auth_change" ("at");

--bun:split

CREATE FUNCTION "todo_auth_change_session"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "todo_auth_change" ("session_id", "token", "user_id") VALUES (OLD."id", OLD."token", OLD."userId");
  RETURN NULL;
END
$$;

--bun:split

CREATE FUNCTION "todo_auth_change_user"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "todo_auth_change" ("user_id") VALUES (OLD."id");
  RETURN NULL;
END
$$;

--bun:split

CREATE TRIGGER "todo_auth_change_session_delete" AFTER DELETE ON "session"
  FOR EACH ROW EXECUTE FUNCTION "todo_auth_change_session"();

--bun:split

-- The expiry moving (the sliding refresh) is not a revocation; a new token
-- or owner is.
CREATE TRIGGER "todo_auth_change_session_update" AFTER UPDATE OF "token", "userId" ON "session"
  FOR EACH ROW EXECUTE FUNCTION "todo_auth_change_session"();

--bun:split

CREATE TRIGGER "todo_auth_change_user_change" AFTER UPDATE OR DELETE ON "user"
  FOR EACH ROW EXECUTE FUNCTION "todo_auth_change_user"();
