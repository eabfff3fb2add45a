/**
 * Plain reads of single jobs by id: their state, their dependency chain, their latest attempt. None
 * takes a lock: what they return may change right after, so callers use them to report, to word an
 * error after a fenced statement refused, or to poll, never to decide a change on their own.
 */
import type { Queryable } from "../../db/queryable.js";
import type { ChainLink, JobRow, JobState } from "../job.js";
import { CLAIMED_ORDER } from "./claim.js";

/** A job's state, or undefined when no job has the id. */
export async function readJobState(db: Queryable, id: string): Promise<JobState | undefined> {
  const res = await db.query<{ state: JobState }>("SELECT state FROM jobs WHERE id = $1", [id]);
  return res.rows[0]?.state;
}

/** A job as `wait` and the operator commands look at it: its state, exit code and last progress report. */
export type JobStanding = Pick<JobRow, "id" | "state" | "exit_code" | "progress_pct" | "progress_message">;

/** How the jobs found among `ids` stand (in no particular order; unknown ids are absent). */
export async function readJobStates(db: Queryable, ids: readonly string[]): Promise<JobStanding[]> {
  const res = await db.query<JobStanding>("SELECT id, state, exit_code, progress_pct, progress_message FROM jobs WHERE id = ANY($1::text[])", [ids]);
  return res.rows;
}

/** How a job stands, with why its last attempt failed (`run` tells a timeout from an exit code). */
export async function readJobEnd(db: Queryable, id: string): Promise<Pick<JobRow, "state" | "exit_code" | "last_error"> | undefined> {
  const res = await db.query<Pick<JobRow, "state" | "exit_code" | "last_error">>("SELECT state, exit_code, last_error FROM jobs WHERE id = $1", [id]);
  return res.rows[0];
}

/**
 * The dependency chain around a job, both ways and up to `maxDepth` edges away, in one recursive
 * query: `up` links are jobs it waits for, `down` links jobs that wait for it; each job once per
 * direction at its nearest depth, nearest first (then enqueue order). One statement, so both
 * directions come from the same snapshot.
 */
export async function readDependencyChain(db: Queryable, p: { id: string; maxDepth: number }): Promise<Array<ChainLink & { dir: "up" | "down" }>> {
  const res = await db.query<ChainLink & { dir: "up" | "down" }>(
    `WITH RECURSIVE up(id, depth) AS (
       SELECT depends_on, 1 FROM job_dependencies WHERE job_id = $1
       UNION SELECT d.depends_on, up.depth + 1 FROM job_dependencies d JOIN up ON d.job_id = up.id WHERE up.depth < $2
     ), down(id, depth) AS (
       SELECT job_id, 1 FROM job_dependencies WHERE depends_on = $1
       UNION SELECT d.job_id, down.depth + 1 FROM job_dependencies d JOIN down ON d.depends_on = down.id WHERE down.depth < $2
     ), links AS (
       SELECT 'up' AS dir, id, min(depth) AS depth FROM up GROUP BY id
       UNION ALL SELECT 'down', id, min(depth) FROM down GROUP BY id
     )
     SELECT l.dir, l.id, l.depth, j.state::text AS state, j.command
     FROM links l JOIN jobs j ON j.id = l.id
     ORDER BY l.depth, j.seq`,
    [p.id, p.maxDepth],
  );
  return res.rows;
}

/** A job's state with one of its attempts (null fields: no such attempt yet). */
export interface JobAttemptRow {
  state: JobState;
  attempt: number | null;
  finished: boolean | null;
  /** The recorded output; null while the attempt runs. */
  output: string | null;
}

/**
 * A job's state and its latest attempt (or attempt `attempt`), or undefined when no job has the id.
 * One statement, so the state and the attempt come from the same snapshot.
 */
export async function readJobAttempt(db: Queryable, p: { jobId: string; attempt?: number }): Promise<JobAttemptRow | undefined> {
  const res = await db.query<JobAttemptRow>(
    `SELECT j.state, a.attempt, a.finished_at IS NOT NULL AS finished, a.output
     FROM jobs j LEFT JOIN LATERAL (
       SELECT attempt, finished_at, output FROM job_attempts
       WHERE job_id = j.id AND ($2::int IS NULL OR attempt = $2) ORDER BY id DESC LIMIT 1
     ) a ON true
     WHERE j.id = $1`,
    [p.jobId, p.attempt ?? null],
  );
  return res.rows[0];
}

/** The columns of a JobRow, in the order job-json.ts prints them (state as text: pg has no parser for the enum). */
const JOB_ROW = `id, queue, command, state::text AS state, priority, attempts, last_attempt, max_retries, timeout_ms, run_at,
  created_at, updated_at, started_at, finished_at, worker_id, exit_code, last_error, duration_ms, deps_pending, cwd, env,
  cancel_requested_at, progress_pct, progress_message, progress_at`;

/** One job, or undefined when no job has the id. */
export async function readJob(db: Queryable, id: string): Promise<JobRow | undefined> {
  const res = await db.query<JobRow>(`SELECT ${JOB_ROW} FROM jobs WHERE id = $1`, [id]);
  return res.rows[0];
}

/** One attempt of a job as stored (error and output unmasked). */
export interface StoredAttempt {
  attempt: number;
  worker_id: string;
  started_at: Date;
  finished_at: Date | null;
  exit_code: number | null;
  error: string | null;
  output: string | null;
}

/** Every attempt of a job in the order they started (attempt numbers restart after `dlq retry`). */
export async function readAttempts(db: Queryable, jobId: string): Promise<StoredAttempt[]> {
  const res = await db.query<StoredAttempt>(
    "SELECT attempt, worker_id, started_at, finished_at, exit_code, error, output FROM job_attempts WHERE job_id = $1 ORDER BY id",
    [jobId],
  );
  return res.rows;
}

/** The orders `list` knows, as ORDER BY clauses; run-order is the claim's (sql/claim.ts). */
const JOB_ORDERS = {
  created: "created_at DESC, seq DESC",
  "run-order": CLAIMED_ORDER,
} as const;

/**
 * A page of jobs, optionally of one state and queue. `created` walks jobs_created_at_seq_idx and
 * run-order jobs_claim_idx for the states it covers, so a page costs the same at 100 000 jobs as at 100.
 */
export async function readJobPage(
  db: Queryable,
  p: { state?: JobState; queue?: string; sort: keyof typeof JOB_ORDERS; limit: number; offset: number },
): Promise<JobRow[]> {
  const res = await db.query<JobRow>(
    `SELECT ${JOB_ROW} FROM jobs
     WHERE ($1::job_state IS NULL OR state = $1::job_state) AND ($2::text IS NULL OR queue = $2)
     ORDER BY ${JOB_ORDERS[p.sort]} LIMIT $3 OFFSET $4`,
    [p.state ?? null, p.queue ?? null, p.limit, p.offset],
  );
  return res.rows;
}
