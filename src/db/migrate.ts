/**
 * Applies prisma/migrations without Prisma's native schema engine: that engine is a separate binary
 * Prisma downloads, and the download is not possible on every machine (e.g. one that cannot reach
 * Prisma's servers), while queuectl must be able to migrate wherever it runs. So this applier follows
 * the engine's own bookkeeping, and `prisma migrate deploy` and this applier each accept what the
 * other applied: the same `_prisma_migrations` table, advisory lock, checksum
 * (SHA-256 of migration.sql) and folder-name order.
 *
 * One difference, on purpose: each migration runs in a transaction together with its bookkeeping row,
 * so a failed migration leaves nothing half-applied (the engine leaves a failed row, P3009).
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type pg from "pg";
import { OperationalError, PermissionDeniedError, SchemaMismatchError } from "../errors.js";

/** The lock id Prisma's schema engine takes around migrations (prisma-engines, apply_migrations.rs). */
const PRISMA_MIGRATION_LOCK_ID = 72707369;

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationStatus {
  name: string;
  applied: boolean;
  appliedAt: Date | null;
  /** The applied script differs from the file (someone edited an applied migration). */
  checksumMismatch: boolean;
}

/** prisma/migrations next to this build, whether run from dist/ or from src/ under tsx. */
export function migrationsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "..", "..", "prisma", "migrations"), join(process.cwd(), "prisma", "migrations")];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new OperationalError(`migrations folder not found (looked in ${candidates.join(", ")})`);
  return found;
}

/** The migrations' names (their directories), oldest first. */
export function migrationNames(dir = migrationsDir()): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort();
}

export function readMigrations(dir = migrationsDir()): MigrationFile[] {
  return migrationNames(dir).map((name) => {
    const sql = readFileSync(join(dir, name, "migration.sql"), "utf8");
    return { name, sql, checksum: createHash("sha256").update(sql, "utf8").digest("hex") };
  });
}

const CREATE_BOOKKEEPING = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

async function appliedRows(client: pg.Pool | pg.PoolClient): Promise<AppliedRow[] | null> {
  try {
    const res = await client.query<AppliedRow>(
      `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
    );
    return res.rows;
  } catch (err) {
    // undefined_table: never migrated. Asked this way rather than checked first: every command runs
    // this, and one round trip is half the cost of two.
    if ((err as { code?: unknown }).code === "42P01") return null;
    throw err;
  }
}

/** Every migration file with whether (and when) it is applied. */
export async function migrationStatus(pool: pg.Pool): Promise<MigrationStatus[]> {
  const rows = (await appliedRows(pool)) ?? [];
  return readMigrations().map((m) => {
    const row = rows.find((r) => r.migration_name === m.name && r.finished_at !== null);
    return {
      name: m.name,
      applied: row !== undefined,
      appliedAt: row?.finished_at ?? null,
      checksumMismatch: row !== undefined && row.checksum !== m.checksum,
    };
  });
}

/**
 * Applies pending migrations in name order; returns the names applied. Safe to run concurrently.
 *
 * Each migration runs in a transaction of its own that first takes the engine's advisory lock, as a
 * transaction-level lock: two `db migrate` runs (or a worker starting in local mode next to one)
 * serialise there, and the second finds nothing left to do. Prisma's engine holds the same key at
 * session level, so it and queuectl still exclude each other; a transaction-level lock also holds
 * through a transaction-mode pooler, where a session lock would be taken on one server connection
 * and released on another.
 */
export async function applyMigrations(pool: pg.Pool): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    for (;;) {
      await client.query("BEGIN");
      let next: MigrationFile | undefined;
      try {
        await client.query("SELECT pg_advisory_xact_lock($1)", [PRISMA_MIGRATION_LOCK_ID]);
        await client.query(CREATE_BOOKKEEPING);
        const rows = (await appliedRows(client)) ?? [];
        const failed = rows.find((r) => r.finished_at === null);
        if (failed) {
          throw new OperationalError(`migration ${failed.migration_name} failed earlier and was not rolled back; resolve it before migrating`);
        }
        next = readMigrations().find((m) => !rows.some((r) => r.migration_name === m.name));
        if (next === undefined) {
          await client.query("COMMIT");
          return applied;
        }
        const id = randomUUID();
        await client.query(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())`, [id, next.checksum, next.name]);
        await client.query(next.sql);
        await client.query(`UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1`, [id]);
        await client.query("COMMIT");
        applied.push(next.name);
      } catch (err) {
        await client.query("ROLLBACK").catch(() => {});
        if (err instanceof OperationalError || next === undefined) throw err;
        throw new OperationalError(`migration ${next.name} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    client.release();
  }
}

/**
 * A role without USAGE on any schema of its search_path sees no tables at all (current_schema() is
 * null): that is missing access, not a missing schema.
 */
async function refuseUnusableSchema(pool: pg.Pool): Promise<void> {
  const res = await pool.query<{ schema: string | null; role: string }>("SELECT current_schema() AS schema, session_user AS role");
  const row = res.rows[0];
  if (row && row.schema === null) {
    throw new PermissionDeniedError(`role '${row.role}' may not use the queue's schema: its owner gives access with queuectl db grant`);
  }
}

/**
 * Throws SchemaMismatchError unless every migration of this build is applied and the database has
 * none this build does not know. Every command but `db migrate` / `db status` calls this first.
 */
export async function assertSchemaCurrent(pool: pg.Pool): Promise<void> {
  const rows = await appliedRows(pool);
  if (rows === null) await refuseUnusableSchema(pool);
  // Names only: every command runs this check, and reading and hashing the SQL cost ~5 ms of start-up.
  const names = migrationNames();
  const done = new Set((rows ?? []).filter((r) => r.finished_at !== null).map((r) => r.migration_name));
  const pending = names.filter((n) => !done.has(n));
  if (pending.length > 0) {
    throw new SchemaMismatchError(
      `the database schema is not up to date (${pending.length} pending migration${pending.length > 1 ? "s" : ""}); run \`queuectl db migrate\``,
    );
  }
  const known = new Set(names);
  const unknown = [...done].filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new SchemaMismatchError(`the database has migrations this queuectl does not know (${unknown.join(", ")}); upgrade queuectl`);
  }
}
