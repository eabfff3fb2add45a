/**
 * A fresh database per test file, migrated with the product's own applier, on the server the global
 * setup chose. `useTestDatabase()` sets DATABASE_URL for this file (and the CLI processes it spawns)
 * and drops the database afterwards.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { applyMigrations } from "../../src/db/migrate.js";
import { createPool } from "../../src/db/pool.js";

function adminUrl(): string {
  const url = process.env.QUEUECTL_TEST_ADMIN_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error("no test database server (global setup did not run)");
  return url;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  name: string;
  pool: pg.Pool;
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `queuectl_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl(), name);
  const pool = createPool(url, { max: 10, applicationName: "queuectl-test" });
  if (options.migrate !== false) await applyMigrations(pool);
  return { url, name, pool };
}

export async function dropTestDatabase(db: TestDatabase): Promise<void> {
  await db.pool.end().catch(() => {});
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${db.name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/** Registers beforeAll/afterAll for a per-file database; the returned object is filled in beforeAll. */
export function useTestDatabase(options: { migrate?: boolean } = {}): TestDatabase {
  const handle = {} as TestDatabase;
  beforeAll(async () => {
    Object.assign(handle, await createTestDatabase(options));
    process.env.DATABASE_URL = handle.url;
  });
  afterAll(async () => {
    await dropTestDatabase(handle);
  });
  return handle;
}
