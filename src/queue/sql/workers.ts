/** Statements for the workers table: registration, state changes and `worker stop`. */
import type { Queryable } from "../../db/queryable.js";
import { notifyControl } from "./control-messages.js";

export interface WorkerRegistration {
  id: string;
  host: string;
  pid: number;
  queues: readonly string[];
  concurrency: number;
}

/** Registers (or re-registers after a database restart) a worker row. */
export async function registerWorker(db: Queryable, w: WorkerRegistration): Promise<void> {
  await db.query(
    `INSERT INTO workers (id, host, pid, queues, concurrency, state)
     VALUES ($1, $2, $3, $4, $5, 'running')
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
    [w.id, w.host, w.pid, w.queues, w.concurrency],
  );
}

/** Records a worker's state change: `stopping` once it drains, `stopped` when it exits. */
export async function setWorkerState(db: Queryable, workerId: string, state: "running" | "stopping" | "stopped"): Promise<void> {
  await db.query(
    `UPDATE workers SET state = $2, heartbeat_at = now(), stopped_at = CASE WHEN $2 = 'stopped' THEN now() ELSE stopped_at END WHERE id = $1`,
    [workerId, state],
  );
}

/**
 * Asks workers to stop gracefully, wherever they run: the flag is read by each worker's heartbeat,
 * and the NOTIFY makes listening workers react at once. `ids` null = every live worker (running, with
 * a heartbeat newer than `staleAfterMs`). With `timeoutMs`, workers end still-running commands at
 * that deadline and release their jobs.
 */
export async function requestWorkerStop(
  db: Queryable,
  p: { ids: readonly string[] | null; timeoutMs: number | null; staleAfterMs: number },
): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `WITH asked AS (
       UPDATE workers SET stop_requested = true,
              stop_deadline = CASE WHEN $2::float8 IS NULL THEN stop_deadline
                                   ELSE now() + make_interval(secs => $2::float8 / 1000) END
       WHERE state IN ('running', 'stopping') AND heartbeat_at > now() - make_interval(secs => $3::float8 / 1000)
         AND ($1::text[] IS NULL OR id = ANY($1::text[]))
       RETURNING id
     )
     SELECT id FROM asked, LATERAL (SELECT ${notifyControl("stop", { worker: "asked.id" })}) n`,
    [p.ids, p.timeoutMs, p.staleAfterMs],
  );
  return res.rows.map((r) => r.id);
}
