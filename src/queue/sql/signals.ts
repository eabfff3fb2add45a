/** Statements behind `kill`: a signal for a running command, stored on the row until its worker takes it. */
import type { Queryable } from "../../db/queryable.js";
import { notifyControl } from "./control-messages.js";

/**
 * Asks the worker holding a processing job to send `signal` to the command's process group: stored on
 * the row (so the worker's heartbeat finds it even when the NOTIFY is lost) and announced by NOTIFY.
 * Returns the holding worker and when its claim started (which tells that claim from a later one), or
 * null when the job is not processing.
 */
export async function requestJobSignal(db: Queryable, p: { id: string; signal: string }): Promise<{ worker_id: string; started_at: Date } | null> {
  const res = await db.query<{ worker_id: string; started_at: Date }>(
    `WITH asked AS (
       UPDATE jobs SET signal_requested = $2 WHERE id = $1 AND state = 'processing' RETURNING id, worker_id, started_at
     )
     SELECT worker_id, started_at FROM asked, LATERAL (SELECT ${notifyControl("signal", { job: "asked.id", worker: "asked.worker_id" })}) n`,
    [p.id, p.signal],
  );
  return res.rows[0] ?? null;
}

/**
 * Takes the signals waiting for this worker's running jobs (`jobIds`) and clears them, in one
 * statement: each signal is handed out once (the row lock serialises two takers; the second finds
 * NULL). A job claimed ahead whose command has not started keeps its signal for a later beat.
 */
export async function takeJobSignals(db: Queryable, p: { workerId: string; jobIds: readonly string[] }): Promise<Array<{ id: string; attempt: number; signal: string }>> {
  const res = await db.query<{ id: string; attempt: number; signal: string }>(
    `WITH waiting AS (
       SELECT id, signal_requested FROM jobs
       WHERE worker_id = $1 AND state = 'processing' AND signal_requested IS NOT NULL AND id = ANY ($2::text[])
       FOR UPDATE
     )
     UPDATE jobs j SET signal_requested = NULL FROM waiting w WHERE j.id = w.id
     RETURNING j.id, j.last_attempt AS attempt, w.signal_requested AS signal`,
    [p.workerId, p.jobIds],
  );
  return res.rows;
}

/**
 * Where a kill request stands (for `kill`, which reports it): still waiting for the worker; taken (by
 * the worker, or its attempt ended first); or dropped because the claim it was meant for went back to
 * the queue before its command started (the job is pending again, or a later claim holds it).
 */
export async function jobSignalStatus(db: Queryable, p: { id: string; startedAt: Date }): Promise<"waiting" | "taken" | "dropped"> {
  const res = await db.query<{ status: "waiting" | "taken" | "dropped" }>(
    `SELECT CASE WHEN state = 'pending' OR started_at IS DISTINCT FROM $2 THEN 'dropped'
                 WHEN signal_requested IS NOT NULL THEN 'waiting' ELSE 'taken' END AS status
     FROM jobs WHERE id = $1`,
    [p.id, p.startedAt],
  );
  return res.rows[0]?.status ?? "dropped";
}
