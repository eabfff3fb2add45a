/**
 * The benchmarks' scratch databases: each run creates a database of its own on DATABASE_URL's server
 * and drops it at the end, so the database DATABASE_URL names is never touched. Statements on the
 * server go through an admin client connected to DATABASE_URL itself.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres";

/** DATABASE_URL, or the default server when it is unset or blank. */
export const serverUrlFromEnv = () => process.env.DATABASE_URL?.trim() || DEFAULT_SERVER_URL;

/** A fresh database name: `prefix` and 8 random hex digits (safe unquoted in SQL). */
export const scratchDbName = (prefix) => `${prefix}${randomBytes(4).toString("hex")}`;

/** `serverUrl` with its database replaced by `dbName`. */
export function databaseUrl(serverUrl, dbName) {
  const u = new URL(serverUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
}

/** A URL fit for printing: the password, if any, masked. */
export const redact = (url) => url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");

/** A connected client on the server's own database, for CREATE/DROP DATABASE and statistics. */
export async function connectAdmin(serverUrl, options = {}) {
  const admin = new pg.Client({ connectionString: serverUrl, ...options });
  await admin.connect();
  return admin;
}

export const createDatabase = (admin, dbName) => admin.query(`CREATE DATABASE ${dbName}`);

/** WITH (FORCE): sessions still connected (a worker just killed, a pool not closed) would make it fail. */
export const dropDatabase = (admin, dbName) => admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);

/** Transactions committed in the database so far (round trips of autocommit statements). */
export async function xactCommits(admin, dbName) {
  await admin.query("SELECT pg_stat_clear_snapshot()");
  const { rows } = await admin.query("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", [dbName]);
  return Number(rows[0]?.xact_commit ?? NaN);
}
