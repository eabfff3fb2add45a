/**
 * Statements that keep a claim alive or take it back: the heartbeat extends the leases of the jobs a
 * worker still holds, and the rescuer takes back jobs whose lease ran out. The rescuer is the only
 * statement that takes a job from a holder without the holder's consent, and only once the lease has
 * run out (the worker's command host has ended the command before then: see command-host.pl).
 */
import type { Queryable } from "../../db/queryable.js";
import { retryDelaySql } from "./retry-delay.js";

export interface HeartbeatParams {
  workerId: string;
  /**
   * The (job id, attempt) pairs this worker is running, or holds claimed ahead, each with what its
   * command reported through $QUEUECTL_PROGRESS since the last beat (undefined: nothing new).
   */
  running: ReadonlyArray<{ id: string; attempt: number; progress?: { pct: number | null; message: string | null } }>;
  /**
   * Jobs whose command ended but whose outcome this worker could not record: not extended (the
   * rescuer is to take them), only looked up, so the worker knows when their rows have left it.
   */
  unrecorded: readonly string[];
  leaseMs: number;
}

export interface HeartbeatResult {
  /** Someone ran `worker stop` (from any host). */
  stopRequested: boolean;
  /** `worker stop --timeout`: when running commands must be ended. */
  stopDeadline: Date | null;
  /** Whether the worker row still exists (it is recreated by the caller if not). */
  registered: boolean;
  /** Jobs whose lease was extended; a running job missing here was taken over or finished elsewhere. */
  held: Set<string>;
  /** Of `held`, the jobs an operator cancelled: the worker ends their commands. */
  cancelRequested: Set<string>;
  /** Of `unrecorded`, the jobs still processing under this worker. */
  stillUnrecorded: Set<string>;
}

/**
 * Extends the leases of the jobs this worker runs, stores the progress their commands reported, and
 * records its heartbeat, in one statement (a report costs no write of its own). Only
 * rows still held by this (worker, attempt) are extended, so a lease the rescuer took over stays
 * taken and the worker learns it lost the job (and stops its command). A job being cancelled is still
 * held (and extended) until its worker has ended the command; the heartbeat hands the request on,
 * so a lost NOTIFY delays the stop by one beat at most. The jobs' rows are locked in id order first,
 * as completeAndClaimJobs locks them (claim.ts says why).
 */
export async function heartbeat(db: Queryable, p: HeartbeatParams): Promise<HeartbeatResult> {
  const res = await db.query<{ stop_requested: boolean | null; stop_deadline: Date | null; held: string[]; cancelled: string[]; unrecorded: string[] }>(
    `WITH w AS (
       UPDATE workers SET heartbeat_at = now() WHERE id = $1 RETURNING stop_requested, stop_deadline
     ), locked AS (
       SELECT id FROM jobs WHERE id = ANY($2::text[]) AND worker_id = $1 AND state = 'processing' ORDER BY id FOR UPDATE
     ), extended AS (
       UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $4::float8 / 1000),
              progress_pct = CASE WHEN r.reported THEN r.pct ELSE jobs.progress_pct END,
              progress_message = CASE WHEN r.reported THEN r.message ELSE jobs.progress_message END,
              progress_at = CASE WHEN r.reported THEN now() ELSE jobs.progress_at END
       FROM unnest($2::text[], $3::int[], $6::boolean[], $7::smallint[], $8::text[]) AS r(id, attempt, reported, pct, message)
       JOIN locked l ON l.id = r.id
       WHERE jobs.id = r.id AND jobs.last_attempt = r.attempt AND jobs.worker_id = $1 AND jobs.state = 'processing'
       RETURNING jobs.id, jobs.cancel_requested_at IS NOT NULL AS cancel
     )
     SELECT (SELECT stop_requested FROM w) AS stop_requested, (SELECT stop_deadline FROM w) AS stop_deadline,
            ARRAY(SELECT id FROM extended) AS held, ARRAY(SELECT id FROM extended WHERE cancel) AS cancelled,
            ARRAY(SELECT id FROM jobs WHERE id = ANY ($5::text[]) AND worker_id = $1 AND state = 'processing') AS unrecorded`,
    [
      p.workerId,
      p.running.map((r) => r.id),
      p.running.map((r) => r.attempt),
      p.leaseMs,
      p.unrecorded,
      p.running.map((r) => r.progress !== undefined),
      p.running.map((r) => r.progress?.pct ?? null),
      p.running.map((r) => r.progress?.message ?? null),
    ],
  );
  const row = res.rows[0];
  return {
    stopRequested: row?.stop_requested === true,
    stopDeadline: row?.stop_deadline ?? null,
    registered: row?.stop_requested !== null && row?.stop_requested !== undefined,
    held: new Set(row?.held ?? []),
    cancelRequested: new Set(row?.cancelled ?? []),
    stillUnrecorded: new Set(row?.unrecorded ?? []),
  };
}

export interface RescuedJob {
  id: string;
  state: "failed" | "dead" | "cancelled";
  attempts: number;
  worker_id: string | null;
  /** Jobs that depend on this one; a dead or cancelled one with dependents must have them settled. */
  dependents: number;
}

export interface RescueParams {
  backoffBase: number;
  backoffMaxS: number;
  /** Default 0. */
  backoffJitter?: number;
  limit: number;
  /** Only these jobs (when one row of a batch made the statement fail, the rescuer retries row by row). */
  ids?: readonly string[];
}

/**
 * Takes back jobs whose lease ran out (worker killed, host lost, network cut): each counts as a
 * failed attempt, with the same retry delay (retry-delay.ts) and DLQ rule as failJob; a job whose
 * cancel was asked ends cancelled. By the time a lease has run out, the command host of the worker
 * that held it has killed the command (it does so before the lease ends unless the worker renews it),
 * so the next run never overlaps the last one. SKIP LOCKED lets every worker run the rescuer without
 * coordination; a row a claimer or completer is touching right now is skipped and looked at next
 * time. Because the row's state changes, the old holder's late result fails its fence.
 */
export async function rescueExpiredJobs(db: Queryable, p: RescueParams): Promise<RescuedJob[]> {
  const res = await db.query<RescuedJob>(
    `WITH expired AS (
       SELECT id FROM jobs
       WHERE state = 'processing' AND lease_expires_at < now() AND ($5::text[] IS NULL OR id = ANY ($5::text[]))
       ORDER BY lease_expires_at
       LIMIT $3
       FOR UPDATE SKIP LOCKED
     ), rescued AS (
       UPDATE jobs j SET
         state = (CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled'
                       WHEN j.attempts > j.max_retries THEN 'dead' ELSE 'failed' END)::job_state,
         run_at = CASE WHEN j.cancel_requested_at IS NOT NULL OR j.attempts > j.max_retries THEN j.run_at
                  ELSE now() + ${retryDelaySql({ attempts: "j.attempts", base: "$1::float8", maxS: "$2::float8", jitter: "$4::float8" })} END,
         exit_code = NULL,
         last_error = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'cancelled by an operator'
                      ELSE 'lease expired: worker ' || j.worker_id || ' stopped renewing it (killed, frozen or cut off)' END,
         finished_at = now(), updated_at = now(), lease_expires_at = NULL, signal_requested = NULL, cancel_requested_at = NULL
       FROM expired WHERE j.id = expired.id
       RETURNING j.id, j.state, j.attempts, j.last_attempt, j.worker_id, j.queue, j.command, j.last_error, j.dependents
     ), history AS (
       UPDATE job_attempts a SET finished_at = now(),
              error = 'lease expired: worker ' || r.worker_id || ' stopped renewing it (killed, frozen or cut off)'
       FROM rescued r
       WHERE a.job_id = r.id AND a.attempt = r.last_attempt AND a.finished_at IS NULL
     ), dlq AS (
       INSERT INTO dead_letters (job_id, queue, command, reason, last_error, attempts)
       SELECT id, queue, command, 'lease expired on the last attempt', last_error, attempts
       FROM rescued WHERE state = 'dead'
     )
     SELECT id, state::text AS state, attempts, worker_id, dependents FROM rescued`,
    [p.backoffBase, p.backoffMaxS, p.limit, p.backoffJitter ?? 0, p.ids ?? null],
  );
  return res.rows;
}

/** Processing jobs whose lease has run out, oldest first: the rescuer's list when it goes row by row. */
export async function findExpiredJobs(db: Queryable, limit: number): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `SELECT id FROM jobs WHERE state = 'processing' AND lease_expires_at < now() ORDER BY lease_expires_at LIMIT $1`,
    [limit],
  );
  return res.rows.map((r) => r.id);
}
