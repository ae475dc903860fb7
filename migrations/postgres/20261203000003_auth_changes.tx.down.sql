DROP TRIGGER "todo_auth_change_user_change" ON "user";

--bun:split

DROP TRIGGER "todo_auth_change_session_update" ON "session";

--bun:split

DROP TRIGGER "todo_auth_change_session_delete" ON "session";

--bun:split

DROP FUNCTION "todo_auth_change_user"();

--bun:split

DROP FUNCTION "todo_auth_change_session"();

--bun:split

DROP TABLE "todo_auth_change";
