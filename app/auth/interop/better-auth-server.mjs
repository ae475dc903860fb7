// A minimal Better Auth server on todo's database, for interop_test.go.
//
// It runs the real better-auth package (pinned in package.json) against the
// tables `todo migrate` creates, unchanged: no migrations run here, and Better
// Auth's own schema validation stays on, so a table todo created differently
// from Better Auth's schema shows up as a SchemaMismatchError on the first
// request.
//
// Environment:
//   DATABASE            sqlite:<path> (also sqlite://<path>, as todo writes it)
//                       or a postgres:// URL
//   BETTER_AUTH_SECRET  the secret todo signs its cookies with
//   PORT                TCP port on 127.0.0.1
//   BASE_URL            http://127.0.0.1:<PORT> (default derived from PORT)
//
// Prints "listening" on stdout once it accepts connections.
import { createHash } from "node:crypto";
import http from "node:http";

import bcrypt from "bcryptjs";
import { betterAuth } from "better-auth";
import { verifyPassword as verifyScrypt } from "better-auth/crypto";
import { toNodeHandler } from "better-auth/node";

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`better-auth-server: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const databaseURL = required("DATABASE");
const secret = required("BETTER_AUTH_SECRET");
const port = Number.parseInt(required("PORT"), 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`better-auth-server: PORT ${process.env.PORT} is not a port number`);
  process.exit(2);
}
const baseURL = process.env.BASE_URL || `http://127.0.0.1:${port}`;

async function openDatabase(url) {
  if (url.startsWith("sqlite:")) {
    let path = url.slice("sqlite:".length);
    if (path.startsWith("//")) path = path.slice(2);
    path = path.replace(/\?.*$/, "");
    const { default: Database } = await import("better-sqlite3");
    // fileMustExist: todo creates and migrates the database; a typo in the
    // path must not silently give Better Auth an empty one.
    const db = new Database(path, { fileMustExist: true });
    // todo serve holds the same file open; wait for its write lock rather
    // than failing with SQLITE_BUSY.
    db.pragma("busy_timeout = 10000");
    db.pragma("foreign_keys = ON");
    return { database: db, close: async () => db.close() };
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { default: pg } = await import("pg");
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    return { database: pool, close: () => pool.end() };
  }
  console.error("better-auth-server: DATABASE must be sqlite:<path> or a postgres:// URL");
  process.exit(2);
}

// todo's bcrypt rule (app/auth/password.go): the password is NFKC-normalised;
// when its UTF-8 form is longer than bcrypt's 72-byte input limit, bcrypt is
// given base64(SHA-256(normalised password)) instead, so that no character is
// ever silently ignored.
const BCRYPT_MAX_INPUT = 72;

function todoBcryptInput(password) {
  const normalised = password.normalize("NFKC");
  if (Buffer.byteLength(normalised, "utf8") <= BCRYPT_MAX_INPUT) return normalised;
  return createHash("sha256").update(normalised, "utf8").digest("base64");
}

const bcryptPrefix = /^\$2[aby]\$\d\d\$/;

async function verify({ hash, password }) {
  if (bcryptPrefix.test(hash)) {
    return bcrypt.compare(todoBcryptInput(password), hash);
  }
  // Better Auth's own scrypt "salt:key" hashes (and todo's scrypt option,
  // which writes the same format).
  return verifyScrypt({ hash, password });
}

const { database, close } = await openDatabase(databaseURL);

const auth = betterAuth({
  baseURL,
  secret,
  database,
  emailAndPassword: {
    enabled: true,
    // New hashes stay Better Auth's default (scrypt); only verification is
    // widened to todo's bcrypt hashes.
    password: { verify },
  },
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
});

const server = http.createServer(toNodeHandler(auth));
server.on("error", (err) => {
  console.error(`better-auth-server: ${err.message}`);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write("listening\n");
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close(() => {
    Promise.resolve(close()).finally(() => process.exit(0));
  });
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
