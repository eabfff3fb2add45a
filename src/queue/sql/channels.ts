/** The NOTIFY channels queuectl uses: who sends on each, and what its payload is. */
import type { Queryable } from "../../db/queryable.js";


/** Wakes idle workers when jobs become runnable; the payload is the queue name. */
export const JOBS_CHANNEL = "queuectl_jobs";
/** Control messages to workers (payload: JSON, see control-messages.ts). */
export const CONTROL_CHANNEL = "queuectl_control";
/** Tells `logs --follow` that a running job has new output; the payload is the job id. */
export const OUTPUT_CHANNEL = "queuectl_output";

/**
 * A listener's probe: an empty NOTIFY on a channel only that listener LISTENs on
 * (worker/job-listener.ts), sent through another connection to prove notifications reach it.
 */
export async function sendProbe(db: Queryable, channel: string): Promise<void> {
  await db.query("SELECT pg_notify($1, '')", [channel]);
}
