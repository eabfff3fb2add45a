/** The statement behind `cancel`. */
import type { JobState } from "../job.js";
import type { Queryable } from "../../db/queryable.js";
import { notifyControl } from "./control-messages.js";

export interface CancelledJob {
  id: string;
  /** The state it was in when the cancel arrived. */
  previous_state: JobState;
  /** The state now: `cancelled`, or `processing` while its worker ends the command. */
  state: JobState;
  /** The worker ending the command (a processing job), else null. */
  worker_id: string | null;
}

/**
 * Cancels a job that has not finished. A pending or failed job (waiting for its retry) becomes
 * `cancelled` at once: nothing of it runs. A processing job is asked to stop: cancel_requested_at is
 * set and the job stays `processing`, still leased by its worker, until that worker has ended the
 * command's whole process group and recorded the attempt as cancelled (outcomes.ts). So while any
 * process of the attempt may be alive, the row is not `cancelled` yet and nothing (requeue, dlq retry)
 * can make the job claimable. The NOTIFY (on commit) tells the worker at once; its heartbeat reads the
 * request too, so a lost notification only delays the stop by a heartbeat; a worker that died leaves
 * the job to the rescuer, which ends it as cancelled once its lease has run out (and by then the
 * worker's command host has killed the command: see command-host.pl).
 *
 * Concurrent with a claim: the claim's row lock makes this statement wait, then it re-reads the row
 * and asks the new holder to stop. Concurrent with the attempt's own end: whichever commits first
 * wins; an attempt that succeeded on its own before the cancel arrived stays completed. Returns null
 * when the job is not pending, failed or processing (checked under the row lock).
 */
export async function cancelJob(db: Queryable, p: { id: string }): Promise<CancelledJob | null> {
  const res = await db.query<CancelledJob>(
    `WITH old AS (
       SELECT id, state, worker_id FROM jobs WHERE id = $1 AND state IN ('pending', 'failed', 'processing') FOR UPDATE
     ), changed AS (
       UPDATE jobs j SET
         state = CASE WHEN old.state = 'processing' THEN j.state ELSE 'cancelled' END,
         finished_at = CASE WHEN old.state = 'processing' THEN j.finished_at ELSE now() END,
         last_error = CASE WHEN old.state = 'processing' THEN j.last_error ELSE 'cancelled by an operator' END,
         cancel_requested_at = CASE WHEN old.state = 'processing' THEN coalesce(j.cancel_requested_at, now()) END,
         updated_at = now()
       FROM old WHERE j.id = old.id
       RETURNING j.id, old.state AS previous_state, j.state, CASE WHEN old.state = 'processing' THEN old.worker_id END AS worker_id
     ), told AS (
       SELECT ${notifyControl("cancel", { job: "id", worker: "worker_id" })} FROM changed WHERE worker_id IS NOT NULL
     )
     SELECT id, previous_state, state, worker_id FROM changed, (SELECT count(*) FROM told) t`,
    [p.id],
  );
  return res.rows[0] ?? null;
}
