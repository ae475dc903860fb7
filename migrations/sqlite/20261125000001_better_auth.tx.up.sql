-- Better Auth 1.7's default schema exactly as its Kysely migration generator
-- writes it for SQLite (types text/integer/date, no defaults), so a Better
-- Auth server pointed at this database finds nothing to migrate.
-- Timestamps are stored as ISO-8601 UTC text with milliseconds and Z, booleans as 0/1.
create table "user" (
  "id" text not null primary key,
  "name" text not null,
  "email" text not null unique,
  "emailVerified" integer not null,
  "image" text,
  "createdAt" date not null,
  "updatedAt" date not null
);

--bun:split

create table "session" (
  "id" text not null primary key,
  "expiresAt" date not null,
  "token" text not null unique,
  "createdAt" date not null,
  "updatedAt" date not null,
  "ipAddress" text,
  "userAgent" text,
  "userId" text not null references "user" ("id") on delete cascade
);

--bun:split

create table "account" (
  "id" text not null primary key,
  "accountId" text not null,
  "providerId" text not null,
  "userId" text not null references "user" ("id") on delete cascade,
  "accessToken" text,
  "refreshToken" text,
  "idToken" text,
  "accessTokenExpiresAt" date,
  "refreshTokenExpiresAt" date,
  "scope" text,
  "password" text,
  "createdAt" date not null,
  "updatedAt" date not null
);

--bun:split

create table "verification" (
  "id" text not null primary key,
  "identifier" text not null,
  "value" text not null,
  "expiresAt" date not null,
  "createdAt" date not null,
  "updatedAt" date not null
);

--bun:split

create index "session_userId_idx" on "session" ("userId");

--bun:split

create index "account_userId_idx" on "account" ("userId");

--bun:split

create index "verification_identifier_idx" on "verification" ("identifier");
