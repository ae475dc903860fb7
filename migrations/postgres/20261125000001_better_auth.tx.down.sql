drop index "verification_identifier_idx";

--bun:split

drop index "account_userId_idx";

--bun:split

drop index "session_userId_idx";

--bun:split

drop table "verification";

--bun:split

drop table "account";

--bun:split

drop table "session";

--bun:split

drop table "user";
