/** The statement behind `cancel`. */
import type { JobState } from "../job.js";
import type { Queryable } from "../../db/queryable.js";
import { CONTROL_CHANNEL } from "./channels.js";

export interface CancelledJob {
  id: string;
  /** The state it was cancelled from. */
  previous_state: JobState;
  /** The worker whose command is being stopped (a processing job), else null. */
  worker_id: string | null;
}

/**
 * Cancels a job that has not finished: pending, failed (waiting for its retry) or processing. The row
 * becomes `cancelled` at once, whoever holds it; for a processing job the NOTIFY (delivered on
 * commit) tells the holding worker to end the command's process group, and its heartbeat finds out
 * too (the job is no longer held), so a lost notification only delays the kill by one heartbeat. The
 * holder's late result fails the completion fence (state is no longer processing), so a cancelled job
 * is never retried or completed. Concurrent with a claim: the claim's row lock makes this UPDATE wait,
 * then it re-checks the row and cancels the now-processing job. Returns null when the job is not in a
 * cancellable state (checked under the row lock).
 */
export async function cancelJob(db: Queryable, p: { id: string }): Promise<CancelledJob | null> {
  const res = await db.query<CancelledJob>(
    `WITH old AS (
       SELECT id, state, worker_id, attempts FROM jobs WHERE id = $1 FOR UPDATE
     ), cancelled AS (
       UPDATE jobs j SET state = 'cancelled', finished_at = now(), updated_at = now(), lease_expires_at = NULL,
              last_error = 'cancelled by an operator', signal_requested = NULL
       FROM old WHERE j.id = old.id AND old.state IN ('pending', 'failed', 'processing')
       RETURNING j.id, old.state AS previous_state, CASE WHEN old.state = 'processing' THEN old.worker_id END AS worker_id, old.attempts
     ), history AS (
       UPDATE job_attempts a SET finished_at = now(), error = 'cancelled by an operator'
       FROM cancelled c WHERE a.job_id = c.id AND a.attempt = c.attempts AND a.finished_at IS NULL
     ), told AS (
       SELECT pg_notify('${CONTROL_CHANNEL}', json_build_object('cancel', id, 'worker', worker_id)::text)
       FROM cancelled WHERE worker_id IS NOT NULL
     )
     SELECT id, previous_state, worker_id FROM cancelled, (SELECT count(*) FROM told) t`,
    [p.id],
  );
  return res.rows[0] ?? null;
}
