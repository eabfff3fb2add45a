/**
 * A pool whose first connection opens, and whose schema is checked, while the CLI is still loading
 * the command's code. PostgreSQL forks a server process for every connection: opening one and
 * asking for the applied migrations costs ~25 ms here, as long as loading and parsing a command, so
 * main.ts starts both at once and cli/context.ts hands the pool to the command.
 */
import type pg from "pg";
import { assertSchemaCurrent } from "./migrate.js";
import { createPool, type PoolOptions } from "./pool.js";

export interface EarlyPool {
  pool: pg.Pool;
  /** Why the first connection failed, for the command to report as it would have itself; else undefined. */
  failure: unknown;
  /** What assertSchemaCurrent threw (undefined: the schema is current), for commands that check it. */
  schemaProblem: unknown;
}

/** A pool for `url` with one connection open (idle in it) and the schema checked, or why it could not open one. */
export async function openEarlyPool(url: string, options: PoolOptions): Promise<EarlyPool> {
  const pool = createPool(url, options);
  try {
    (await pool.connect()).release();
  } catch (err) {
    return { pool, failure: err, schemaProblem: undefined };
  }
  try {
    await assertSchemaCurrent(pool);
    return { pool, failure: undefined, schemaProblem: undefined };
  } catch (err) {
    return { pool, failure: undefined, schemaProblem: err };
  }
}
