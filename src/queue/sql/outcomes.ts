/**
 * Statements that record how an attempt ended: failed (retried, dead, or cancelled when a cancel was
 * asked for), given back uncounted, or its output kept when the result is no longer ours. Successes
 * are recorded by the claim statement (claim.ts completeAndClaimJobs).
 *
 * Every way out of `processing` is fenced on (id, worker_id, last_attempt, state = 'processing'): a
 * holder whose lease was taken over finds zero rows, and its result is dropped.
 */
import type { Queryable } from "../../db/queryable.js";
import { JOBS_CHANNEL } from "./channels.js";
import { retryDelaySql } from "./retry-delay.js";

export interface AttemptOutcome {
  jobId: string;
  workerId: string;
  attempt: number;
  exitCode: number | null;
  /** Captured output tail (already capped and made valid text). */
  output: string;
  durationMs: number;
}

export interface FailureOutcome extends AttemptOutcome {
  /** One line: "exit code 3", "timed out after 500 ms", ... */
  error: string;
  backoffBase: number;
  backoffMaxS: number;
  /** 0..1: each delay is shortened by a random share of up to this much (config backoff_jitter). */
  backoffJitter?: number;
}

export interface FailResult {
  /** `cancelled` when a cancel was asked while the attempt ran: no retry, whatever the rules say. */
  state: "failed" | "dead" | "cancelled";
  runAt: Date;
  /** Jobs that depend on this one; when it ended dead or cancelled and this is > 0, the caller settles them. */
  dependents: number;
}

/**
 * Records a failed attempt. With retries left the job becomes `failed` and runnable again after the
 * retry delay (retry-delay.ts); after the last one it becomes `dead` and gets its DeadLetter row in
 * the same statement, so the DLQ and the job never disagree. An exit code the job does not retry (in
 * no_retry_on, or missing from a retry_on list) makes it dead at once; failures without an exit code
 * (timeout, signal, could not start) follow max_retries. A job whose cancel was asked while this
 * attempt ran ends `cancelled` (its process group is gone by now: the worker records an attempt only
 * after the whole group has ended). Fenced like the completion in completeAndClaimJobs; returns null
 * when rejected.
 */
export async function failJob(db: Queryable, o: FailureOutcome): Promise<FailResult | null> {
  const res = await db.query<{ state: "failed" | "dead" | "cancelled"; run_at: Date; dependents: number }>(
    `WITH rule AS (
       SELECT id,
              CASE WHEN cancel_requested_at IS NOT NULL THEN 'cancelled'
                   WHEN $4::int IS NOT NULL AND ($4 = ANY(coalesce(no_retry_on, '{}')) OR (retry_on IS NOT NULL AND NOT $4 = ANY(retry_on)))
                     THEN 'not-retried'
                   WHEN attempts > max_retries THEN 'exhausted'
                   ELSE 'retry' END AS verdict
       FROM jobs WHERE id = $1 AND worker_id = $2 AND last_attempt = $3 AND state = 'processing'
     ), failed AS (
       UPDATE jobs SET
         state = (CASE rule.verdict WHEN 'cancelled' THEN 'cancelled' WHEN 'retry' THEN 'failed' ELSE 'dead' END)::job_state,
         run_at = CASE WHEN rule.verdict = 'retry'
                  THEN now() + ${retryDelaySql({ attempts: "attempts", base: "$8::float8", maxS: "$9::float8", jitter: "$10::float8" })}
                  ELSE run_at END,
         exit_code = $4, last_error = CASE WHEN rule.verdict = 'cancelled' THEN 'cancelled by an operator' ELSE $7 END,
         duration_ms = $6, finished_at = now(), updated_at = now(), lease_expires_at = NULL,
         signal_requested = NULL, cancel_requested_at = NULL
       FROM rule
       WHERE jobs.id = rule.id AND worker_id = $2 AND last_attempt = $3 AND state = 'processing'
       RETURNING jobs.id, state, jobs.run_at, queue, command, attempts, last_error, rule.verdict, dependents
     ), history AS (
       UPDATE job_attempts SET finished_at = now(), exit_code = $4, error = $7, output = $5
       WHERE job_id = $1 AND attempt = $3 AND worker_id = $2 AND finished_at IS NULL
         AND EXISTS (SELECT 1 FROM failed)
     ), dlq AS (
       INSERT INTO dead_letters (job_id, queue, command, reason, last_error, attempts)
       SELECT id, queue, command,
              CASE WHEN verdict = 'not-retried' THEN 'exit code ' || $4 || ' is not retried (retry_on / no_retry_on)'
                   ELSE 'failed ' || attempts || ' attempt' || CASE WHEN attempts = 1 THEN '' ELSE 's' END END,
              last_error, attempts
       FROM failed WHERE state = 'dead'
     )
     SELECT state, run_at, dependents FROM failed`,
    [o.jobId, o.workerId, o.attempt, o.exitCode, o.output, o.durationMs, o.error, o.backoffBase, o.backoffMaxS, o.backoffJitter ?? 0],
  );
  const row = res.rows[0];
  return row ? { state: row.state, runAt: row.run_at, dependents: row.dependents } : null;
}

/** One claimed attempt to give back (releaseJobs), with the output it produced if it ran. */
export interface ReleasedAttempt {
  jobId: string;
  attempt: number;
  output: string;
}

/** A job given back: pending again, or cancelled when a cancel was asked while this worker held it. */
export interface ReleasedJob {
  id: string;
  state: "pending" | "cancelled";
  /** Jobs that depend on this one: a cancelled one with dependents must have them settled. */
  dependents: number;
}

/**
 * The state a job given back takes, as SQL over the jobs row: pending and runnable now, or cancelled
 * when a cancel was asked meanwhile (the attempt is over, so the cancel can take effect).
 */
const GIVEN_BACK = `state = (CASE WHEN j.cancel_requested_at IS NULL THEN 'pending' ELSE 'cancelled' END)::job_state,
              finished_at = CASE WHEN j.cancel_requested_at IS NULL THEN j.finished_at ELSE now() END,
              attempts = j.attempts - 1, run_at = now(), lease_expires_at = NULL,
              updated_at = now(), signal_requested = NULL, cancel_requested_at = NULL`;

/**
 * Gives jobs back without counting the attempt, pending again and runnable now, with a NOTIFY per
 * queue so an idle worker takes them at once (a job whose cancel was asked meanwhile ends cancelled
 * instead). Two cases:
 *
 * - `ran`: a forced shutdown interrupted the command (not its own failure). The attempt's history row
 *   is closed with `reason` and the output, and `reason` becomes the job's last_error.
 * - not `ran`: the worker claimed the job ahead and gave it back before starting it (no slot came free
 *   in time, or it was stopping). Nothing happened to the job, so nothing of it is kept: the claim's
 *   history row is deleted and last_error stays as it was.
 *
 * An attempt that ran keeps its number (and history row): the next claim takes a new one, so no two
 * runs share a number. A claim that never started gives its number back with its history row, so the
 * numbers a user sees stay 1, 2, 3 ... (no process of it ever existed, and only its holder, which is
 * giving it back, knew the number).
 * A `kill` still waiting for the attempt is dropped with it: it was meant for that attempt's command.
 * Fenced like the completion in completeAndClaimJobs, row by row: a job the rescuer took over
 * meanwhile is left alone.
 */
export async function releaseJobs(db: Queryable, p: { workerId: string; reason: string; ran: boolean; attempts: readonly ReleasedAttempt[] }): Promise<ReleasedJob[]> {
  if (p.attempts.length === 0) return [];
  const res = await db.query<ReleasedJob>(
    `WITH given AS (
       SELECT * FROM unnest($3::text[], $4::int[], $5::text[]) AS g(id, attempt, output)
     ), released AS (
       UPDATE jobs j SET ${GIVEN_BACK},
              last_error = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled by an operator' WHEN $6 THEN $2 ELSE j.last_error END,
              last_attempt = CASE WHEN $6 THEN j.last_attempt ELSE j.last_attempt - 1 END
       FROM given g
       WHERE j.id = g.id AND j.worker_id = $1 AND j.last_attempt = g.attempt AND j.state = 'processing'
       RETURNING j.id, j.queue, j.state, j.dependents
     ), closed AS (
       UPDATE job_attempts a SET finished_at = now(), error = $2, output = g.output
       FROM given g JOIN released r ON r.id = g.id
       WHERE $6 AND a.job_id = g.id AND a.attempt = g.attempt AND a.worker_id = $1 AND a.finished_at IS NULL
     ), never_started AS (
       DELETE FROM job_attempts a
       USING given g JOIN released r ON r.id = g.id
       WHERE NOT $6 AND a.job_id = g.id AND a.attempt = g.attempt AND a.worker_id = $1 AND a.finished_at IS NULL
     ), woken AS (
       SELECT pg_notify('${JOBS_CHANNEL}', queue) FROM (SELECT DISTINCT queue FROM released WHERE state = 'pending') q
     )
     SELECT id, state::text AS state, dependents FROM released, (SELECT count(*) FROM woken) w`,
    [p.workerId, p.reason, p.attempts.map((a) => a.jobId), p.attempts.map((a) => a.attempt), p.attempts.map((a) => a.output), p.ran],
  );
  return res.rows;
}

/**
 * Gives back the jobs a worker holds without knowing it. A claim can commit while its answer is lost:
 * the connection drops between COMMIT and the reply (PostgreSQL restarting or terminating backends, a
 * network cut). The worker saw an error and never started those commands, yet the rows say it holds
 * them, and without this they would wait out their lease and then count a failed attempt. After a
 * failed claim the worker's slot loop runs this before its next claim, with every job it holds.
 *
 * Why it cannot take a job that is running: only the slot loop claims for a worker, and it runs this
 * between its own statements, so every claim whose answer arrived is already in `heldJobIds` (a slot
 * stays there until its outcome is recorded). A row held by the worker and not in that list belongs to
 * a claim whose answer never came, so its command never started. Fenced on worker and state like
 * releaseJobs; a claim still in flight on the server (the client gave up on it, the server did not)
 * is invisible to this statement's snapshot and falls to the rescuer after its lease.
 */
export async function releaseUnacknowledgedClaims(db: Queryable, p: { workerId: string; heldJobIds: readonly string[] }): Promise<ReleasedJob[]> {
  const reason = "released: the worker never got the answer to its claim (connection lost); the command did not run";
  const res = await db.query<ReleasedJob>(
    `WITH released AS (
       UPDATE jobs j SET ${GIVEN_BACK},
              last_error = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled by an operator' ELSE $3 END
       WHERE j.worker_id = $1 AND j.state = 'processing' AND NOT (j.id = ANY ($2::text[]))
       RETURNING j.id, j.last_attempt, j.state, j.dependents, j.queue
     ), history AS (
       UPDATE job_attempts a SET finished_at = now(), error = $3
       FROM released r
       WHERE a.job_id = r.id AND a.attempt = r.last_attempt AND a.worker_id = $1 AND a.finished_at IS NULL
     ), woken AS (
       SELECT pg_notify('${JOBS_CHANNEL}', queue) FROM (SELECT DISTINCT queue FROM released WHERE state = 'pending') q
     )
     SELECT id, state::text AS state, dependents FROM released, (SELECT count(*) FROM woken) w`,
    [p.workerId, p.heldJobIds, reason],
  );
  return res.rows;
}

/**
 * Keeps the output of an attempt whose result was not recorded (the job was cancelled or taken over
 * while it ran). Fenced on (job, attempt, worker) and only fills an empty output: it never touches
 * another attempt's row.
 */
export async function saveAttemptOutput(db: Queryable, p: { jobId: string; attempt: number; workerId: string; output: string }): Promise<void> {
  await db.query(
    `UPDATE job_attempts SET output = $4 WHERE job_id = $1 AND attempt = $2 AND worker_id = $3 AND output IS NULL`,
    [p.jobId, p.attempt, p.workerId, p.output],
  );
}
