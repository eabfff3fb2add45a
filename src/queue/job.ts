/** A job as the queue stores it, with snake_case names as in the table and in the CLI's JSON. */

export type JobState = "pending" | "processing" | "completed" | "failed" | "dead" | "cancelled";
export const JOB_STATES: readonly JobState[] = ["pending", "processing", "completed", "failed", "dead", "cancelled"];
/** States a job does not leave by itself: only an operator (requeue, dlq retry) sends it back. */
export const FINAL_STATES: readonly JobState[] = ["completed", "dead", "cancelled"];

export interface JobRow {
  id: string;
  queue: string;
  command: string;
  state: JobState;
  priority: number;
  /** Attempts counted against max_retries since the job was enqueued, requeued or retried from the DLQ. */
  attempts: number;
  /** The number of the latest attempt: unique per job, never reused (0: never claimed). */
  last_attempt: number;
  max_retries: number;
  timeout_ms: number | null;
  run_at: Date;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  worker_id: string | null;
  exit_code: number | null;
  last_error: string | null;
  duration_ms: number | null;
  /** Dependencies not completed yet; runnable only at 0. */
  deps_pending: number;
  /** Working directory the command runs in; null = the worker's. */
  cwd: string | null;
  /** Environment variables the command runs with (values unmasked: mask before printing). */
  env: Record<string, string> | null;
  /** When `cancel` was asked of this running job; it stays processing until its command has ended. */
  cancel_requested_at: Date | null;
  /** The percentage the command last reported through $QUEUECTL_PROGRESS (null: none, or a message alone). */
  progress_pct: number | null;
  /** The message it last reported with it. */
  progress_message: string | null;
  /** When the worker stored that report (null: none in this attempt). */
  progress_at: Date | null;
}

/** A job linked to another by dependencies, `depth` edges away (1 = direct). */
export interface ChainLink {
  id: string;
  state: JobState;
  depth: number;
  command: string;
}

/**
 * A job in its JSON form (job-json.ts jobToJson): what `list --json`, `show --json` and the
 * dashboard's API print, and what the dashboard's page script reads. Every field of JobRow but
 * cancel_requested_at, times as ISO 8601 strings, secret-looking env values masked.
 */
export type JobJson = { [K in Exclude<keyof JobRow, "cancel_requested_at">]: JobRow[K] extends Date ? string : JobRow[K] extends Date | null ? string | null : JobRow[K] };
