/** The statement behind `requeue`: finished jobs run again. */
import type { Queryable } from "../../db/queryable.js";
import { JOBS_CHANNEL } from "./channels.js";

/**
 * Runs completed or cancelled jobs again with the same spec: pending, attempts reset, run now. The
 * attempt history stays (its rows are keyed by a surrogate id). Locks the rows like retryDeadJobs; a
 * job whose unique_key another active job holds raises unique_violation.
 */
export async function requeueJobs(db: Queryable, p: { ids: readonly string[] }): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `WITH target AS (
       SELECT id FROM jobs WHERE state IN ('completed', 'cancelled') AND id = ANY($1::text[]) FOR UPDATE
     ), requeued AS (
       UPDATE jobs j SET state = 'pending', attempts = 0, run_at = now(), exit_code = NULL, last_error = NULL,
              duration_ms = NULL, worker_id = NULL, started_at = NULL, finished_at = NULL, updated_at = now()
       FROM target WHERE j.id = target.id
       RETURNING j.id, j.queue
     ), woken AS (
       SELECT pg_notify('${JOBS_CHANNEL}', queue) FROM (SELECT DISTINCT queue FROM requeued) q
     )
     SELECT id FROM requeued, (SELECT count(*) FROM woken) w`,
    [p.ids],
  );
  return res.rows.map((r) => r.id);
}
