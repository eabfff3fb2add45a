/** The NOTIFY channels queuectl uses: who sends on each, and what its payload is. */

/** Wakes idle workers when jobs become runnable; the payload is the queue name. */
export const JOBS_CHANNEL = "queuectl_jobs";
/** Control messages to workers (payload: JSON, see control-messages.ts). */
export const CONTROL_CHANNEL = "queuectl_control";
/** Tells `logs --follow` that a running job has new output; the payload is the job id. */
export const OUTPUT_CHANNEL = "queuectl_output";
