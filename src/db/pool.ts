import pg from "pg";
import { OperationalError } from "../errors.js";
import { ensureEmbeddedServer } from "./embedded.js";
import { firstLine, isConnectionError } from "./errors.js";

// timestamptz and bigint come back as Date and string by default. Job ids and counts fit in a JS
// number; `seq` and COUNT(*) are int8 and never exceed 2^53 in practice.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

/** `DATABASE_URL` when set; otherwise the local server under QUEUECTL_HOME, started on first use. */
export async function resolveDatabaseUrl(): Promise<string> {
  const url = process.env.DATABASE_URL;
  if (url && url.trim() !== "") return url;
  return ensureEmbeddedServer();
}

export interface PoolOptions {
  /** Connections kept at most; a worker needs one per slot plus heartbeat. Default 10. */
  max?: number;
  /** Application name shown in pg_stat_activity. */
  applicationName?: string;
}

/**
 * How long opening a connection may take (ms). A server that accepts TCP but never answers (hung,
 * frozen, a half-dead proxy) made CLI commands take 5.5-7 s to fail at 5000; the CLI must say so
 * within 5 s including its own start-up, so 2500.
 */
export const CONNECT_TIMEOUT_MS = 2500;

/**
 * A pool that fails fast when the database is unreachable (CLI commands must say so within seconds,
 * not hang) and never lets an idle connection's error crash the process.
 */
export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? "queuectl",
    keepAlive: true,
  });
  // An idle client whose server went away emits 'error' on the pool; without a listener Node exits.
  pool.on("error", () => {});
  return pool;
}

/** Codes that also mean "you cannot use this database now" to a CLI user: it does not exist, or refused the login. */
const CANNOT_USE = new Set(["3D000", "28P01", "28000"]);

/** Wraps connection-level failures in one clear OperationalError line. */
export function describeDbError(err: unknown): OperationalError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (isConnectionError(err) || (typeof code === "string" && CANNOT_USE.has(code))) {
    return new OperationalError(`database unavailable: ${firstLine(err)}`);
  }
  return undefined;
}
