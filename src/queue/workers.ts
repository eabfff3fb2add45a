/** What an operator does to workers: asks them to stop, recorded in the audit trail. */
import type pg from "pg";
import { audited, type Actor } from "./audit.js";
import { requestWorkerStop } from "./sql/workers.js";

/**
 * Asks every live worker (or the named ones) to stop (sql/workers.ts requestWorkerStop); with
 * `timeoutMs`, they end still-running commands at that deadline. One audit row per worker asked.
 * Returns the ids asked.
 */
export async function stopWorkers(
  db: pg.Pool,
  p: { ids: readonly string[] | null; timeoutMs: number | null; staleAfterMs: number; actor?: Actor },
): Promise<string[]> {
  return audited(db, { actor: p.actor, action: "worker stop", target: [] }, async (client) => {
    const ids = await requestWorkerStop(client, p);
    return { result: ids, targets: ids, after: { stop_requested: true, timeout_ms: p.timeoutMs } };
  });
}
