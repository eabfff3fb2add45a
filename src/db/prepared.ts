/**
 * Named prepared statements where the connection keeps them, unnamed ones where it cannot.
 *
 * The worker's hottest statement (the claim) is sent as a named prepared statement: the server plans
 * it once per connection instead of on every pass. A transaction-mode pooler (PgBouncer before 1.21,
 * or with max_prepared_statements = 0; RDS Proxy pins such sessions) hands each transaction to any
 * server connection, so a statement prepared on one is missing on the next (SQLSTATE 26000) or was
 * prepared there by another client (42P05). Either error comes before the statement runs, so it is
 * sent again, unnamed, and every later one of this process goes unnamed too.
 *
 * The name carries a hash of the text: two versions of queuectl behind one pooler (a rolling deploy)
 * never run each other's statement under a shared name.
 */
import { createHash } from "node:crypto";
import type pg from "pg";
import type { Queryable } from "./queryable.js";

let named = true;
const listeners = new Set<() => void>();
const names = new Map<string, string>();

/** Calls `fn` once when this process turns named statements off (a worker logs it). */
export function onNamedStatementsOff(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function nameFor(base: string, text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `${base}_${createHash("sha256").update(text).digest("hex").slice(0, 10)}`;
    names.set(text, name);
  }
  return name;
}

/** 26000: no prepared statement of that name here; 42P05: one of that name exists already. */
function isPreparedStatementMismatch(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "26000" || code === "42P05";
}

/** Runs `text` as the prepared statement `base` (see above), or unnamed once named ones failed. */
export async function queryPrepared<R extends pg.QueryResultRow>(db: Queryable, base: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
  if (named) {
    try {
      return await db.query<R>({ name: nameFor(base, text), text, values });
    } catch (err) {
      if (!isPreparedStatementMismatch(err)) throw err;
      if (named) {
        named = false;
        for (const fn of listeners) fn();
      }
    }
  }
  return db.query<R>({ text, values });
}
