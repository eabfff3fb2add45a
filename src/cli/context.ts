import { openContext, type AppContext, type OpenContextOptions } from "../db/context.js";
import type { EarlyPool } from "../db/early-pool.js";
import { isPermissionDenied } from "../db/errors.js";
import { describeDbError } from "../db/pool.js";
import { readSessionRole } from "../queue/sql/roles.js";
import { CLI_POOL } from "./cli-pool.js";
import { describeRefusal } from "./running-command.js";

/** The pool main.ts started connecting, until a command takes it (db/early-pool.ts). */
let early: Promise<EarlyPool> | undefined;

/** Offers withContext a pool opened early; runCli ends it with endUnusedEarlyPool if no command takes it. */
export function offerEarlyPool(pool: Promise<EarlyPool>): void {
  early = pool;
}

/** How long a command that took no pool (a usage error, say) waits for the early connection to finish opening. */
const EARLY_SETTLE_MS = 100;

/**
 * Closes the early pool when no command took it (a usage error, a command that opened its own). It
 * waits for the connection to finish opening, so the server sees a goodbye rather than a dropped
 * handshake, but not longer than EARLY_SETTLE_MS: a usage error must not wait for an unreachable server.
 */
export async function endUnusedEarlyPool(): Promise<void> {
  const offered = early;
  early = undefined;
  if (!offered) return;
  let timer: NodeJS.Timeout | undefined;
  const settleLimit = new Promise<void>((resolve) => (timer = setTimeout(resolve, EARLY_SETTLE_MS)));
  await Promise.race([offered.then(({ pool }) => void pool.end().catch(() => {})), settleLimit]);
  clearTimeout(timer);
}

/**
 * The early pool, taken once, when the command asks for the CLI's usual pool; else undefined. What
 * went wrong opening it (or, unless the command skips the check, in its schema check) is thrown as
 * openContext would throw it, at once: trying again would double the wait for a server that does not answer.
 */
async function takeEarlyPool(options: OpenContextOptions): Promise<EarlyPool | undefined> {
  if (!early || options.poolMax !== undefined || options.applicationName !== undefined) return undefined;
  const offered = early;
  early = undefined;
  const taken = await offered;
  const problem = taken.failure ?? (options.schema === "none" ? undefined : taken.schemaProblem);
  if (problem === undefined) return taken;
  await taken.pool.end().catch(() => {});
  throw describeDbError(problem) ?? problem;
}

/**
 * Opens the database for one command, runs it, and closes the pool. A statement the role may not run
 * (SQLSTATE 42501) becomes PermissionDeniedError naming the role, its kind (read while the pool is
 * still open) and the command. The close is not awaited: each connection's goodbye is sent at once,
 * and main.ts exits when the output is flushed instead of waiting ~8 ms per connection for the server
 * to end its session.
 */
export async function withContext<T>(fn: (ctx: AppContext) => Promise<T>, options: OpenContextOptions = {}): Promise<T> {
  const taken = await takeEarlyPool(options);
  // An early pool's schema was checked while the command loaded.
  const schema = taken ? "none" : options.schema;
  const ctx = await openContext({ applicationName: CLI_POOL.applicationName, poolMax: CLI_POOL.max, ...options, schema, pool: taken?.pool });
  try {
    return await fn(ctx);
  } catch (err) {
    if (!isPermissionDenied(err)) throw err;
    const who = await readSessionRole(ctx.pool).catch(() => null);
    throw describeRefusal(err, who ? `role '${who.role}'${who.kind ? ` (${who.kind})` : ""}` : undefined) ?? err;
  } finally {
    void ctx.close();
  }
}
