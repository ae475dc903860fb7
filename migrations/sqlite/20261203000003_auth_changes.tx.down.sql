DROP TRIGGER "todo_auth_change_user_delete";

--bun:split

DROP TRIGGER "todo_auth_change_user_update";

--bun:split

DROP TRIGGER "todo_auth_change_session_update";

--bun:split

DROP TRIGGER "todo_auth_change_session_delete";

--bun:split

DROP INDEX "todo_auth_change_at_idx";

--bun:split

DROP TABLE "todo_auth_change";
