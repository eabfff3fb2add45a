import type pg from "pg";
import { applyMigrations, assertSchemaCurrent } from "./migrate.js";
import { createPool, describeDbError, resolveDatabaseUrl } from "./pool.js";
import type { PrismaClient } from "./prisma.js";

/** What every command and worker needs: one pg pool (hot path) and Prisma Client over it (the rest). */
export interface AppContext {
  pool: pg.Pool;
  prisma: PrismaClient;
  /** The connection URL. */
  url: string;
  /**
   * Where LISTEN connections go (the worker's, `logs --follow`'s): DATABASE_LISTEN_URL when set, else
   * `url`. Behind a transaction-mode pooler LISTEN needs a session of its own: a direct address, or a
   * session-mode pool.
   */
  listenUrl: string;
  /** Whether this process uses the local embedded server (DATABASE_URL unset). */
  local: boolean;
  close(): Promise<void>;
}

export interface OpenContextOptions {
  /**
   * `check` (default): fail with a clear message unless the schema is current.
   * `none`: skip (for `db migrate` / `db status`).
   * In local mode pending migrations are applied instead: the server is ours, there is no one to ask.
   */
  schema?: "check" | "none";
  /**
   * Load Prisma Client (default false). Only the dashboard asks for it (its search's dynamic filters);
   * loading it costs ~0.5 s of start-up, twice a whole CLI command's budget.
   */
  prisma?: boolean;
  poolMax?: number;
  applicationName?: string;
  /** A pool already opened for this URL (db/early-pool.ts) to use instead of a new one; closed with the context. */
  pool?: pg.Pool;
}

export async function openContext(options: OpenContextOptions = {}): Promise<AppContext> {
  const local = !process.env.DATABASE_URL;
  const url = await resolveDatabaseUrl();
  const pool = options.pool ?? createPool(url, { max: options.poolMax, applicationName: options.applicationName });
  try {
    if (options.schema !== "none") {
      if (local) await applyMigrations(pool);
      else await assertSchemaCurrent(pool);
    }
  } catch (err) {
    await pool.end().catch(() => {});
    throw describeDbError(err) ?? err;
  }
  const prisma = options.prisma !== true ? undefined : (await import("./prisma.js")).createPrismaClient(pool);
  return {
    pool,
    get prisma(): PrismaClient {
      if (!prisma) throw new Error("this command opened the database without Prisma Client (openContext({ prisma: true }) loads it)");
      return prisma;
    },
    url,
    listenUrl: process.env.DATABASE_LISTEN_URL?.trim() || url,
    local,
    async close() {
      await prisma?.$disconnect().catch(() => {});
      await pool.end().catch(() => {});
    },
  };
}
