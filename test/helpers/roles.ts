/**
 * PostgreSQL login roles for the role tests: created with a password (so they log in whatever the
 * server's auth method), named per test process so files running side by side never share one, and
 * dropped afterwards (their privileges in the file's database first: DROP ROLE refuses a role that holds any).
 */
import { afterAll } from "vitest";
import pg from "pg";
import type { TestDatabase } from "./db.js";

const PASSWORD = "queuectl-role-test";

/** `db`'s URL as `role`. */
export function urlAs(db: TestDatabase, role: string): string {
  const u = new URL(db.url);
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
}

/** Registers afterAll cleanup; `create(suffix)` makes a login role and returns its name. */
export function useLoginRoles(db: TestDatabase): { create(suffix: string): Promise<string> } {
  const made: string[] = [];
  afterAll(async () => {
    for (const role of made) {
      await db.pool.query(`DROP OWNED BY ${pg.escapeIdentifier(role)}`).catch(() => {});
      await db.pool.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`).catch(() => {});
    }
  });
  return {
    async create(suffix: string): Promise<string> {
      const role = `qtest_${process.pid}_${suffix}`;
      await db.pool.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`).catch(() => {});
      await db.pool.query(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD '${PASSWORD}'`);
      made.push(role);
      return role;
    },
  };
}
