/** Statements behind `kill`: a signal for a running command, stored on the row until its worker takes it. */
import type { Queryable } from "../../db/queryable.js";
import { CONTROL_CHANNEL } from "./channels.js";

/**
 * Asks the worker holding a processing job to send `signal` to the command's process group: stored on
 * the row (so the worker's heartbeat finds it even when the NOTIFY is lost) and announced by NOTIFY.
 * Returns the holding worker, or null when the job is not processing.
 */
export async function requestJobSignal(db: Queryable, p: { id: string; signal: string }): Promise<{ worker_id: string } | null> {
  const res = await db.query<{ worker_id: string }>(
    `WITH asked AS (
       UPDATE jobs SET signal_requested = $2 WHERE id = $1 AND state = 'processing' RETURNING id, worker_id
     )
     SELECT worker_id FROM asked, LATERAL (SELECT pg_notify('${CONTROL_CHANNEL}', json_build_object('signal', asked.id, 'worker', asked.worker_id)::text)) n`,
    [p.id, p.signal],
  );
  return res.rows[0] ?? null;
}

/**
 * Takes the signals waiting for this worker's running jobs (`jobIds`) and clears them, in one
 * statement: each signal is handed out once (the row lock serialises two takers; the second finds
 * NULL). A job claimed ahead whose command has not started keeps its signal for a later beat.
 */
export async function takeJobSignals(db: Queryable, p: { workerId: string; jobIds: readonly string[] }): Promise<Array<{ id: string; attempts: number; signal: string }>> {
  const res = await db.query<{ id: string; attempts: number; signal: string }>(
    `WITH waiting AS (
       SELECT id, signal_requested FROM jobs
       WHERE worker_id = $1 AND state = 'processing' AND signal_requested IS NOT NULL AND id = ANY ($2::text[])
       FOR UPDATE
     )
     UPDATE jobs j SET signal_requested = NULL FROM waiting w WHERE j.id = w.id
     RETURNING j.id, j.attempts, w.signal_requested AS signal`,
    [p.workerId, p.jobIds],
  );
  return res.rows;
}

/** Whether a kill request is still waiting for its worker (for `kill`, which reports delivery). */
export async function jobSignalPending(db: Queryable, p: { id: string }): Promise<boolean> {
  const res = await db.query<{ pending: boolean }>(`SELECT signal_requested IS NOT NULL AS pending FROM jobs WHERE id = $1`, [p.id]);
  return res.rows[0]?.pending === true;
}
