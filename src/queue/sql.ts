/**
 * Every SQL statement on the queue's hot path: enqueue, claim, heartbeat, complete, fail, rescue,
 * release, and the NOTIFY that wakes workers. One function per statement, named for what it does,
 * each with why it is safe when many workers on many hosts run it at once.
 *
 * The invariants they keep together:
 * - A job is `processing` for exactly one (worker_id, attempts) pair at a time; the claim is the only
 *   way in, and it locks rows with SKIP LOCKED so two claimers never take the same row.
 * - Every way out of `processing` (complete, fail, release) is fenced on (id, worker_id, attempts,
 *   state = 'processing'): a holder whose lease was taken over finds zero rows and its result is dropped.
 * - The rescuer is the only statement that takes a job from a holder without the holder's consent, and
 *   only once the lease has run out; it also locks with SKIP LOCKED.
 */
import type pg from "pg";
import { finished } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import type { NewJob } from "./job-spec.js";
import { inTransaction } from "../db/transaction.js";

type Db = pg.Pool | pg.PoolClient;

/** NOTIFY channel that wakes idle workers when jobs become runnable; the payload is the queue name. */
export const JOBS_CHANNEL = "queuectl_jobs";
/** NOTIFY channel for control messages to workers (payload: JSON, e.g. {"stop": true}). */
export const CONTROL_CHANNEL = "queuectl_control";
/** NOTIFY channel telling `logs --follow` that a running job has new output; the payload is the job id. */
export const OUTPUT_CHANNEL = "queuectl_output";

/** A job as stored, with snake_case names as in the table and in the CLI's JSON. */
export interface JobRow {
  id: string;
  queue: string;
  command: string;
  state: JobState;
  priority: number;
  attempts: number;
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
}

export type JobState = "pending" | "processing" | "completed" | "failed" | "dead" | "cancelled";
export const JOB_STATES: readonly JobState[] = ["pending", "processing", "completed", "failed", "dead", "cancelled"];

/** Columns of JobRow, in the order of the JSON contract. */
export const JOB_COLUMNS =
  "id, queue, command, state, priority, attempts, max_retries, timeout_ms, run_at, created_at, updated_at, started_at, finished_at, worker_id, exit_code, last_error, duration_ms, deps_pending, cwd, env";

// ---------------------------------------------------------------------------------------------
// Enqueue
// ---------------------------------------------------------------------------------------------

/**
 * Inserts jobs, in input order (seq follows it). Duplicate ids raise unique_violation (23505) on
 * jobs_pkey and, inside the caller's transaction, nothing is inserted. Returns the ids actually
 * inserted.
 *
 * Jobs without a unique_key go in with COPY (copyJobs): for 20 000 jobs it took ~60% of the time of
 * the INSERT ... SELECT FROM unnest(...) below, and it was faster at every batch size down to one job.
 * A batch with a key takes the INSERT: a job whose unique_key belongs to an active job (pending,
 * processing, failed) is skipped, and ON CONFLICT on the partial unique index is the only arbiter, so
 * two enqueuers racing with one key end with one job (the second waits for the first's commit, then
 * skips). COPY has no ON CONFLICT.
 */
export async function insertJobs(db: Db, jobs: readonly NewJob[]): Promise<string[]> {
  if (jobs.length === 0) return [];
  if (!jobs.some((j) => j.uniqueKey)) {
    if ("release" in db) await copyJobs(db, jobs);
    else {
      // COPY needs a connection of its own for its exchange; one statement is atomic anyway.
      const client = await db.connect();
      let failed = false;
      try {
        await copyJobs(client, jobs);
      } catch (err) {
        failed = true;
        throw err;
      } finally {
        client.release(failed);
      }
    }
    return jobs.map((j) => j.id);
  }
  const res = await db.query<{ id: string }>(`${INSERT_JOBS} RETURNING id`, insertJobsValues(jobs));
  return res.rows.map((r) => r.id);
}

/**
 * Inserts a few jobs and wakes the listeners of their queues, in one statement, outside any explicit
 * transaction: one round trip where the transactional path takes five (BEGIN, COPY's two, the
 * notification, COMMIT). For `queuectl enqueue` of one job and any caller adding jobs one at a time,
 * that is most of the time from the call to a worker starting the job. Only for jobs that need no
 * other statement: no unique_key (whose losers need a second look) and no dependencies. The
 * statement is atomic; its NOTIFYs go out on its commit, once per queue it added to, like
 * notifyJobsAvailable.
 */
export async function insertJobsAndNotify(db: Db, jobs: readonly NewJob[]): Promise<void> {
  if (!jobs.every(canInsertAlone)) throw new Error("insertJobsAndNotify: a job needs the transactional path");
  await db.query(
    `WITH inserted AS (${INSERT_JOBS} RETURNING queue),
     woken AS (SELECT pg_notify($15, queue) FROM inserted GROUP BY queue)
     SELECT count(*) FROM woken`,
    [...insertJobsValues(jobs), JOBS_CHANNEL],
  );
}

/** Whether a job can go in with insertJobsAndNotify: no unique_key and no dependencies. */
export function canInsertAlone(job: NewJob): boolean {
  return !job.uniqueKey && !job.dependsOn?.length;
}

/** INSERT of jobs from 14 arrays, one element per job (insertJobsValues); keyed jobs whose key is held are skipped. */
const INSERT_JOBS = `INSERT INTO jobs (id, queue, command, priority, max_retries, timeout_ms, run_at, unique_key, retry_on, no_retry_on,
                       deps_pending, dependents, cwd, env)
     SELECT id, queue, command, priority, max_retries, timeout_ms, COALESCE(run_at, now()), unique_key, retry_on::int[], no_retry_on::int[],
            deps_pending, dependents, cwd, env
     FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::timestamptz[], $8::text[], $9::text[], $10::text[],
                 $11::int[], $12::int[], $13::text[], $14::jsonb[])
       AS t(id, queue, command, priority, max_retries, timeout_ms, run_at, unique_key, retry_on, no_retry_on, deps_pending, dependents, cwd, env)
     ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'processing', 'failed') DO NOTHING`;

function insertJobsValues(jobs: readonly NewJob[]): unknown[] {
  const intList = (l: readonly number[] | null | undefined) => (l ? `{${l.join(",")}}` : null);
  return [
    jobs.map((j) => j.id),
    jobs.map((j) => j.queue),
    jobs.map((j) => j.command),
    jobs.map((j) => j.priority),
    jobs.map((j) => j.maxRetries),
    jobs.map((j) => j.timeoutMs),
    jobs.map((j) => j.runAt),
    jobs.map((j) => j.uniqueKey ?? null),
    jobs.map((j) => intList(j.retryOn)),
    jobs.map((j) => intList(j.noRetryOn)),
    jobs.map((j) => j.depsPending ?? 0),
    jobs.map((j) => j.dependents ?? 0),
    jobs.map((j) => j.cwd ?? null),
    jobs.map((j) => (j.env ? JSON.stringify(j.env) : null)),
  ];
}

/** The characters COPY's text format gives a meaning to; each is sent backslash-escaped. */
const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIAL_ALL = /[\\\n\r\t]/g;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
/** A string as one field of COPY's text format. (NUL cannot be sent; job-spec.ts rejects it.) */
function copyField(s: string): string {
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]!) : s;
}
const COPY_NULL = "\\N";

/**
 * COPY jobs FROM STDIN, text format. Only the columns some job of the batch sets are sent; the others
 * take their defaults (the same values the INSERT gives them: run_at now(), deps 0, NULL otherwise):
 * fewer columns cost less to send and to parse. A batch where some jobs have a run_at and others not
 * sends the transaction's now() for the latter (COPY has no per-row DEFAULT before PostgreSQL 16):
 * the same value the column default gives, read back in the same session so its text form parses
 * exactly.
 */
async function copyJobs(client: pg.PoolClient, jobs: readonly NewJob[]): Promise<void> {
  const timeout = jobs.some((j) => j.timeoutMs !== null);
  const runAt = jobs.some((j) => j.runAt !== null);
  const now = runAt && jobs.some((j) => j.runAt === null) ? (await client.query<{ now: string }>("SELECT now()::text AS now")).rows[0]!.now : null;
  const retryOn = jobs.some((j) => j.retryOn != null);
  const noRetryOn = jobs.some((j) => j.noRetryOn != null);
  const deps = jobs.some((j) => (j.depsPending ?? 0) !== 0 || (j.dependents ?? 0) !== 0);
  const cwd = jobs.some((j) => j.cwd != null);
  const env = jobs.some((j) => j.env != null);
  const columns = ["id", "queue", "command", "priority", "max_retries"];
  if (timeout) columns.push("timeout_ms");
  if (runAt) columns.push("run_at");
  if (retryOn) columns.push("retry_on");
  if (noRetryOn) columns.push("no_retry_on");
  if (deps) columns.push("deps_pending", "dependents");
  if (cwd) columns.push("cwd");
  if (env) columns.push("env");
  const intList = (l: readonly number[] | null | undefined) => (l ? `{${l.join(",")}}` : COPY_NULL);
  let text = "";
  for (const j of jobs) {
    let row = `${copyField(j.id)}\t${copyField(j.queue)}\t${copyField(j.command)}\t${j.priority}\t${j.maxRetries}`;
    if (timeout) row += `\t${j.timeoutMs ?? COPY_NULL}`;
    if (runAt) row += `\t${j.runAt ? j.runAt.toISOString() : copyField(now!)}`;
    if (retryOn) row += `\t${intList(j.retryOn)}`;
    if (noRetryOn) row += `\t${intList(j.noRetryOn)}`;
    if (deps) row += `\t${j.depsPending ?? 0}\t${j.dependents ?? 0}`;
    if (cwd) row += `\t${j.cwd != null ? copyField(j.cwd) : COPY_NULL}`;
    if (env) row += `\t${j.env ? copyField(JSON.stringify(j.env)) : COPY_NULL}`;
    text += `${row}\n`;
  }
  // 'finish' comes after the server's ReadyForQuery; an error (a duplicate id) rejects, and the
  // client is ready for the caller's ROLLBACK.
  await finished(client.query(copyFrom(`COPY jobs (${columns.join(", ")}) FROM STDIN`)).end(text));
}

/** The active job holding each of these unique keys (pending, processing or failed). */
export async function findActiveUniqueJobs(db: Db, keys: readonly string[]): Promise<Map<string, string>> {
  const res = await db.query<{ unique_key: string; id: string }>(
    `SELECT unique_key, id FROM jobs WHERE unique_key = ANY($1::text[]) AND state IN ('pending', 'processing', 'failed')`,
    [keys],
  );
  return new Map(res.rows.map((r) => [r.unique_key, r.id]));
}

/**
 * Wakes idle workers listening on JOBS_CHANNEL. Sent inside the enqueuing transaction, PostgreSQL
 * delivers it only on commit, so a woken worker always finds the rows. Notifications are only a
 * hint: a worker that misses one still finds the job on its next poll.
 */
export async function notifyJobsAvailable(db: Db, queues: readonly string[]): Promise<void> {
  const distinct = [...new Set(queues)];
  await db.query(`SELECT pg_notify($1, q) FROM unnest($2::text[]) AS q`, [JOBS_CHANNEL, distinct]);
}

// ---------------------------------------------------------------------------------------------
// Claim
// ---------------------------------------------------------------------------------------------

export interface ClaimedJob {
  id: string;
  command: string;
  queue: string;
  /** The attempt number this claim started (1-based); part of the completion fence. */
  attempts: number;
  max_retries: number;
  timeout_ms: number | null;
  priority: number;
  /** Working directory to run in; null = the worker's. */
  cwd: string | null;
  /** Extra environment variables for the command. */
  env: Record<string, string> | null;
}

/**
 * The claim's condition that a job's queue is not held: paused, or limited (claimed by
 * claimLimitedJobs). The list is read once per statement, as an array, so the index walk stays in
 * claim order. The coalesce (a no-op: neither side can be NULL) hides the condition from the planner's
 * estimate. It cannot see into the array, and with one queue in the statistics it costed
 * `queue <> ALL (unknown)` as matching no row: the prepared statement's generic plan then sorted every
 * runnable job instead of walking jobs_claim_idx for the first few (3 ms instead of 0.1 ms with 3000
 * jobs waiting, one sequential scan per claim). An opaque boolean is costed as matching half the rows.
 */
const QUEUE_NOT_HELD = `coalesce(queue <> ALL (ARRAY(SELECT name FROM queues WHERE paused OR concurrency_limit IS NOT NULL)), true)`;

export interface ClaimJobsParams {
  workerId: string;
  /** Queues to take from; empty = every queue. */
  queues: readonly string[];
  /** How many free slots to fill. */
  limit: number;
  leaseMs: number;
}

/** The order claimed jobs start in: highest priority, then earliest run_at, then enqueue order. */
const CLAIMED_ORDER = "priority DESC, run_at, seq";

/**
 * What claiming does to the rows a claim statement locked (its `next` CTE): processing for worker $1,
 * one more attempt, a lease of $4 ms, and the attempt's history row, in the same statement. The rows
 * are found with `= ANY (ARRAY(...))`, not a join, so each is fetched by primary key: a generic plan
 * costs `LIMIT $3` as 10% of the runnable rows and joined them by scanning the whole table. Shared by
 * completeAndClaimJobs and claimLimitedJobs so the two claims cannot drift apart. The statement's
 * final SELECT reads `claimed`; CLAIMED_ORDER is the order to start them in. Jobs claimed together
 * share one started_at (the claim's); their history rows are inserted in that order, so the attempt
 * ids tell which started first.
 */
const TAKE_CLAIMED_ROWS = `claimed AS (
       UPDATE jobs j
       SET state = 'processing', attempts = j.attempts + 1, worker_id = $1,
           lease_expires_at = now() + make_interval(secs => $4::float8 / 1000),
           started_at = now(), finished_at = NULL, updated_at = now()
       WHERE j.id = ANY (ARRAY(SELECT id FROM next))
       RETURNING j.id, j.command, j.queue, j.attempts, j.max_retries, j.timeout_ms, j.priority, j.run_at, j.seq, j.cwd, j.env
     ), history AS (
       INSERT INTO job_attempts (job_id, attempt, worker_id, started_at)
       SELECT id, attempts, $1, now() FROM claimed ORDER BY ${CLAIMED_ORDER}
     )`;
const CLAIMED_COLUMNS = "id, command, queue, attempts, max_retries, timeout_ms, priority, cwd, env";

/** A successful attempt to record: the command exited 0 and the job is still ours. */
export interface SuccessfulAttempt {
  jobId: string;
  attempt: number;
  exitCode: number;
  /** Captured output tail (already capped and made valid text). */
  output: string;
  durationMs: number;
}

export interface CompleteAndClaimParams extends ClaimJobsParams {
  /** Successful attempts of worker `workerId` to record in the same statement; may be empty. */
  completions: readonly SuccessfulAttempt[];
}

export interface CompleteAndClaimResult {
  /**
   * The completions the fence accepted, by job id, with the number of jobs depending on each (read
   * from the row as this statement updated it; > 0: the caller settles them). A completion missing
   * here was refused: the lease was taken over or the job cancelled, and someone else owns it now.
   */
  completed: Map<string, CompletedJob>;
  /** The jobs claimed, in the order to start them. */
  claimed: ClaimedJob[];
}

/**
 * The worker's hot path, one statement and one commit: records the attempts that just succeeded and
 * claims up to `limit` runnable jobs for the slots they (and any other free slots) leave. A worker
 * under load sends one of these per batch of finished commands instead of a completion and a claim
 * per job: half the round trips and commits, and the next command starts one round trip after the
 * last one ended. A named prepared statement, so PostgreSQL parses and plans it once per connection.
 *
 * Completion (`done`): fenced on (id, worker_id, attempts, state = 'processing'), like every way out
 * of processing; a holder whose lease was taken over updates zero rows for that job and its result is
 * dropped. The attempt's history row is updated only for completions the fence accepted.
 *
 * Claim (`next`): highest priority first, then earliest run_at, then enqueue order; only jobs whose
 * run_at has come. FOR UPDATE SKIP LOCKED makes each claimer lock a disjoint set of rows without
 * waiting; the UPDATE re-checks nothing because the locked rows cannot change under us. The partial
 * index jobs_claim_idx serves the ORDER BY over runnable rows only; a job waiting for its dependencies
 * (deps_pending > 0) is not in it, so waiting jobs never slow the claim down. Paused queues and queues
 * with a concurrency limit are left out (read once per statement, as an array, so the index walk stays
 * in claim order); limited queues are claimed by claimLimitedJobs.
 *
 * Why one statement is safe: the rows completed are `processing` and held by this worker, the rows
 * claimed are `pending` or `failed`; no row is in both sets, and all parts see one snapshot and commit
 * together, so a crash loses both or neither. A job finished here cannot be claimed again by the same
 * statement (its snapshot still shows it processing).
 */
export async function completeAndClaimJobs(db: Db, p: CompleteAndClaimParams): Promise<CompleteAndClaimResult> {
  const c = p.completions;
  const res = await db.query<ClaimedJob & { kind: "claimed" | "completed"; dependents: number | null }>({
    name: "queuectl_complete_and_claim",
    text: `WITH finished AS (
       SELECT * FROM unnest($5::text[], $6::int[], $7::int[], $8::text[], $9::int[]) AS f(id, attempt, exit_code, output, duration_ms)
     ), done AS (
       UPDATE jobs j SET state = 'completed', exit_code = f.exit_code, last_error = NULL, duration_ms = f.duration_ms,
              finished_at = now(), updated_at = now(), lease_expires_at = NULL, signal_requested = NULL
       FROM finished f
       WHERE j.id = f.id AND j.worker_id = $1 AND j.attempts = f.attempt AND j.state = 'processing'
       RETURNING j.id, j.dependents
     ), done_history AS (
       UPDATE job_attempts a SET finished_at = now(), exit_code = f.exit_code, output = f.output
       FROM finished f JOIN done d ON d.id = f.id
       WHERE a.job_id = f.id AND a.attempt = f.attempt AND a.worker_id = $1 AND a.finished_at IS NULL
     ), next AS (
       SELECT id FROM jobs
       WHERE state IN ('pending', 'failed') AND run_at <= now() AND deps_pending = 0
         AND (cardinality($2::text[]) = 0 OR queue = ANY($2::text[]))
         AND ${QUEUE_NOT_HELD}
       ORDER BY ${CLAIMED_ORDER}
       LIMIT $3
       FOR UPDATE SKIP LOCKED
     ), ${TAKE_CLAIMED_ROWS}
     SELECT 'claimed' AS kind, ${CLAIMED_COLUMNS}, NULL::int AS dependents, run_at, seq FROM claimed
     UNION ALL
     SELECT 'completed', id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, dependents, NULL, NULL FROM done
     ORDER BY ${CLAIMED_ORDER}`,
    values: [
      p.workerId,
      p.queues,
      p.limit,
      p.leaseMs,
      c.map((x) => x.jobId),
      c.map((x) => x.attempt),
      c.map((x) => x.exitCode),
      c.map((x) => x.output),
      c.map((x) => x.durationMs),
    ],
  });
  const completed = new Map<string, CompletedJob>();
  const claimed: ClaimedJob[] = [];
  for (const { kind, dependents, ...row } of res.rows) {
    if (kind === "completed") completed.set(row.id, { dependents: dependents ?? 0 });
    else {
      const { run_at: _r, seq: _s, ...job } = row as ClaimedJob & { run_at?: unknown; seq?: unknown };
      claimed.push(job);
    }
  }
  return { completed, claimed };
}

/** Claims up to `limit` runnable jobs (completeAndClaimJobs with nothing to complete). */
export async function claimJobs(db: Db, p: ClaimJobsParams): Promise<ClaimedJob[]> {
  return (await completeAndClaimJobs(db, { ...p, completions: [] })).claimed;
}

/**
 * Claims jobs from queues with a concurrency limit, never letting a queue's processing jobs (across
 * every worker) exceed its limit. Two statements in one transaction:
 *
 * 1. lock the limited, unpaused queue rows this worker serves (FOR UPDATE, in name order so two
 *    claimers never deadlock). Every claimer of a limited queue queues up here; the lock is held
 *    until COMMIT, a few milliseconds.
 * 2. a NEW statement, hence a new snapshot taken after the lock was granted: it sees every claim
 *    committed by the previous lock holder, counts the queue's processing jobs, and claims at most
 *    limit - processing of them (SKIP LOCKED as in claimJobs).
 *
 * Why not one statement, or SKIP LOCKED alone: SKIP LOCKED keeps two claimers off the same row, not
 * off the same queue; two claimers that both count 1 running job under a limit of 2 would both claim
 * one. And inside a single statement the count would come from the statement's snapshot, taken before
 * it waited for the queue row's lock, so it would miss the claims of the transaction it waited for.
 * Jobs only leave `processing` while the count is not being taken under our lock, which can only
 * lower the count: the limit can be undershot for an instant, never exceeded. A limit set (or
 * lowered) while more jobs run does not stop them; it applies to claims that start afterwards.
 */
export async function claimLimitedJobs(pool: pg.Pool, p: ClaimJobsParams): Promise<ClaimedJob[]> {
  return inTransaction(pool, async (client) => {
    const locked = await client.query<{ name: string }>(
      `SELECT name FROM queues
       WHERE concurrency_limit IS NOT NULL AND NOT paused AND (cardinality($1::text[]) = 0 OR name = ANY($1::text[]))
       ORDER BY name
       FOR UPDATE`,
      [p.queues],
    );
    if (locked.rows.length === 0) return [];
    const res = await client.query<ClaimedJob>(
      `WITH caps AS (
         SELECT q.name, greatest(0, q.concurrency_limit
                - (SELECT count(*) FROM jobs WHERE jobs.queue = q.name AND jobs.state = 'processing'))::int AS free
         FROM queues q WHERE q.name = ANY($2::text[]) AND q.concurrency_limit IS NOT NULL AND NOT q.paused
       ), next AS (
         SELECT c.id, c.priority, c.run_at, c.seq FROM caps, LATERAL (
           SELECT id, priority, run_at, seq FROM jobs
           WHERE jobs.queue = caps.name AND state IN ('pending', 'failed') AND run_at <= now() AND deps_pending = 0
           ORDER BY priority DESC, run_at, seq
           LIMIT caps.free
           FOR UPDATE SKIP LOCKED
         ) c
         ORDER BY c.priority DESC, c.run_at, c.seq
         LIMIT $3
       ), ${TAKE_CLAIMED_ROWS}
       SELECT ${CLAIMED_COLUMNS} FROM claimed ORDER BY ${CLAIMED_ORDER}`,
      [p.workerId, locked.rows.map((r) => r.name), p.limit, p.leaseMs],
    );
    return res.rows;
  });
}

/** Whether any queue this worker serves has a concurrency limit (and is not paused): claimLimitedJobs has work to look at. */
export async function hasLimitedQueues(db: Db, queues: readonly string[]): Promise<boolean> {
  const res = await db.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM queues WHERE concurrency_limit IS NOT NULL AND NOT paused
                      AND (cardinality($1::text[]) = 0 OR name = ANY($1::text[]))) AS any`,
    [queues],
  );
  return res.rows[0]?.any === true;
}

/**
 * When the next not-yet-runnable job (scheduled or waiting for its retry) becomes due, so an idle
 * worker can sleep exactly until then instead of polling. Null when there is none.
 */
export async function nextRunAt(db: Db, queues: readonly string[]): Promise<Date | null> {
  const res = await db.query<{ run_at: Date | null }>(
    `SELECT min(run_at) AS run_at FROM jobs
     WHERE state IN ('pending', 'failed') AND deps_pending = 0 AND (cardinality($1::text[]) = 0 OR queue = ANY($1::text[]))`,
    [queues],
  );
  return res.rows[0]?.run_at ?? null;
}

// ---------------------------------------------------------------------------------------------
// Leases and heartbeat
// ---------------------------------------------------------------------------------------------

export interface HeartbeatParams {
  workerId: string;
  /** The (job id, attempt) pairs this worker is running. */
  running: ReadonlyArray<{ id: string; attempt: number }>;
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
}

/**
 * Extends the leases of the jobs this worker runs and records its heartbeat, in one statement. Only
 * rows still held by this (worker, attempt) are extended, so a lease the rescuer took over stays
 * taken and the worker learns it lost the job (and stops its command).
 */
export async function heartbeat(db: Db, p: HeartbeatParams): Promise<HeartbeatResult> {
  const res = await db.query<{ stop_requested: boolean | null; stop_deadline: Date | null; held: string[] }>(
    `WITH w AS (
       UPDATE workers SET heartbeat_at = now() WHERE id = $1 RETURNING stop_requested, stop_deadline
     ), extended AS (
       UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $4::float8 / 1000)
       FROM unnest($2::text[], $3::int[]) AS r(id, attempt)
       WHERE jobs.id = r.id AND jobs.attempts = r.attempt AND jobs.worker_id = $1 AND jobs.state = 'processing'
       RETURNING jobs.id
     )
     SELECT (SELECT stop_requested FROM w) AS stop_requested, (SELECT stop_deadline FROM w) AS stop_deadline,
            ARRAY(SELECT id FROM extended) AS held`,
    [p.workerId, p.running.map((r) => r.id), p.running.map((r) => r.attempt), p.leaseMs],
  );
  const row = res.rows[0];
  return {
    stopRequested: row?.stop_requested === true,
    stopDeadline: row?.stop_deadline ?? null,
    registered: row?.stop_requested !== null && row?.stop_requested !== undefined,
    held: new Set(row?.held ?? []),
  };
}

// ---------------------------------------------------------------------------------------------
// Completion (every statement fenced on id, worker, attempt and state)
// ---------------------------------------------------------------------------------------------

export interface AttemptOutcome {
  jobId: string;
  workerId: string;
  attempt: number;
  exitCode: number | null;
  /** Captured output tail (already capped and made valid text). */
  output: string;
  durationMs: number;
}

export interface CompletedJob {
  /**
   * Jobs that depend on this one, read from the row as this statement updated it (so it includes a
   * dependent enqueued while the attempt ran). > 0: the caller settles them (settleDependencies).
   */
  dependents: number;
}

/**
 * Marks one attempt successful (completeAndClaimJobs, claiming nothing). Returns null when the fence
 * rejects it: the lease was taken over (or the job cancelled) and someone else owns the job's state now.
 */
export async function completeJob(db: Db, o: AttemptOutcome): Promise<CompletedJob | null> {
  const { completed } = await completeAndClaimJobs(db, {
    workerId: o.workerId,
    queues: [],
    limit: 0,
    leaseMs: 0,
    completions: [{ jobId: o.jobId, attempt: o.attempt, exitCode: o.exitCode ?? 0, output: o.output, durationMs: o.durationMs }],
  });
  return completed.get(o.jobId) ?? null;
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
  state: "failed" | "dead";
  runAt: Date;
  /** Jobs that depend on this one; when it is dead and this is > 0, the caller settles them. */
  dependents: number;
}

/**
 * Records a failed attempt. With retries left the job becomes `failed` and runnable again after
 * backoff_base ^ attempt seconds (capped, minus jitter); after the last one it becomes `dead` and gets
 * its DeadLetter row in the same statement, so the DLQ and the job never disagree. An exit code the job
 * does not retry (in no_retry_on, or missing from a retry_on list) makes it dead at once; failures
 * without an exit code (timeout, signal, could not start) follow max_retries. Fenced like completeJob;
 * returns null when rejected.
 */
export async function failJob(db: Db, o: FailureOutcome): Promise<FailResult | null> {
  const res = await db.query<{ state: "failed" | "dead"; run_at: Date; dependents: number }>(
    `WITH rule AS (
       SELECT id, ($4::int IS NOT NULL AND ($4 = ANY(coalesce(no_retry_on, '{}'))
                   OR (retry_on IS NOT NULL AND NOT $4 = ANY(retry_on)))) AS final
       FROM jobs WHERE id = $1
     ), failed AS (
       UPDATE jobs SET
         state = (CASE WHEN attempts > max_retries OR rule.final THEN 'dead' ELSE 'failed' END)::job_state,
         run_at = CASE WHEN attempts > max_retries OR rule.final THEN run_at
                  ELSE now() + make_interval(secs => least(power($8::float8, attempts), $9::float8) * (1 - $10::float8 * random())) END,
         exit_code = $4, last_error = $7, duration_ms = $6,
         finished_at = now(), updated_at = now(), lease_expires_at = NULL, signal_requested = NULL
       FROM rule
       WHERE jobs.id = rule.id AND worker_id = $2 AND attempts = $3 AND state = 'processing'
       RETURNING jobs.id, state, jobs.run_at, queue, command, attempts, last_error, rule.final, dependents
     ), history AS (
       UPDATE job_attempts SET finished_at = now(), exit_code = $4, error = $7, output = $5
       WHERE job_id = $1 AND attempt = $3 AND worker_id = $2 AND finished_at IS NULL
         AND EXISTS (SELECT 1 FROM failed)
     ), dlq AS (
       INSERT INTO dead_letters (job_id, queue, command, reason, last_error, attempts)
       SELECT id, queue, command,
              CASE WHEN final THEN 'exit code ' || $4 || ' is not retried (retry_on / no_retry_on)'
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

/**
 * Gives jobs back without counting the attempt, pending again and runnable now, with a NOTIFY per
 * queue so an idle worker takes them at once. Two cases:
 *
 * - `ran`: a forced shutdown interrupted the command (not its own failure). The attempt's history row
 *   is closed with `reason` and the output, and `reason` becomes the job's last_error.
 * - not `ran`: the worker claimed the job ahead and gave it back before starting it (no slot came free
 *   in time, or it was stopping). Nothing happened to the job, so nothing of it is kept: the claim's
 *   history row is deleted and last_error stays as it was.
 *
 * A `kill` still waiting for the attempt is dropped with it: it was meant for that attempt's command.
 * Fenced like completeJob, row by row: a job the rescuer or a cancel took over meanwhile is left
 * alone. Returns the ids released.
 */
export async function releaseJobs(db: Db, p: { workerId: string; reason: string; ran: boolean; attempts: readonly ReleasedAttempt[] }): Promise<string[]> {
  if (p.attempts.length === 0) return [];
  const res = await db.query<{ id: string }>(
    `WITH given AS (
       SELECT * FROM unnest($3::text[], $4::int[], $5::text[]) AS g(id, attempt, output)
     ), released AS (
       UPDATE jobs j SET state = 'pending', attempts = j.attempts - 1, run_at = now(), lease_expires_at = NULL,
              last_error = CASE WHEN $6 THEN $2 ELSE j.last_error END, updated_at = now(), signal_requested = NULL
       FROM given g
       WHERE j.id = g.id AND j.worker_id = $1 AND j.attempts = g.attempt AND j.state = 'processing'
       RETURNING j.id, j.queue
     ), closed AS (
       UPDATE job_attempts a SET finished_at = now(), error = $2, output = g.output
       FROM given g JOIN released r ON r.id = g.id
       WHERE $6 AND a.job_id = g.id AND a.attempt = g.attempt AND a.worker_id = $1 AND a.finished_at IS NULL
     ), never_started AS (
       DELETE FROM job_attempts a
       USING given g JOIN released r ON r.id = g.id
       WHERE NOT $6 AND a.job_id = g.id AND a.attempt = g.attempt AND a.worker_id = $1 AND a.finished_at IS NULL
     ), woken AS (
       SELECT pg_notify('${JOBS_CHANNEL}', queue) FROM (SELECT DISTINCT queue FROM released) q
     )
     SELECT id FROM released, (SELECT count(*) FROM woken) w`,
    [p.workerId, p.reason, p.attempts.map((a) => a.jobId), p.attempts.map((a) => a.attempt), p.attempts.map((a) => a.output), p.ran],
  );
  return res.rows.map((r) => r.id);
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
 * releaseJob; a claim still in flight on the server (the client gave up on it, the server did not)
 * is invisible to this statement's snapshot and falls to the rescuer after its lease.
 */
export async function releaseUnacknowledgedClaims(db: Db, p: { workerId: string; heldJobIds: readonly string[] }): Promise<string[]> {
  const reason = "released: the worker never got the answer to its claim (connection lost); the command did not run";
  const res = await db.query<{ id: string }>(
    `WITH released AS (
       UPDATE jobs SET state = 'pending', attempts = attempts - 1, run_at = now(), lease_expires_at = NULL,
              last_error = $3, updated_at = now(), signal_requested = NULL
       WHERE worker_id = $1 AND state = 'processing' AND NOT (id = ANY ($2::text[]))
       RETURNING id, attempts + 1 AS attempt
     ), history AS (
       UPDATE job_attempts a SET finished_at = now(), error = $3
       FROM released r
       WHERE a.job_id = r.id AND a.attempt = r.attempt AND a.worker_id = $1 AND a.finished_at IS NULL
     )
     SELECT id FROM released`,
    [p.workerId, p.heldJobIds, reason],
  );
  return res.rows.map((r) => r.id);
}

/**
 * Keeps the output of an attempt whose result was not recorded (the job was cancelled or taken over
 * while it ran). Fenced on (job, attempt, worker) and only fills an empty output: it never touches
 * another attempt's row.
 */
export async function saveAttemptOutput(db: Db, p: { jobId: string; attempt: number; workerId: string; output: string }): Promise<void> {
  await db.query(
    `UPDATE job_attempts SET output = $4 WHERE job_id = $1 AND attempt = $2 AND worker_id = $3 AND output IS NULL`,
    [p.jobId, p.attempt, p.workerId, p.output],
  );
}

// ---------------------------------------------------------------------------------------------
// Live output (logs --follow)
// ---------------------------------------------------------------------------------------------

export interface OutputChunk {
  jobId: string;
  attempt: number;
  chunk: string;
}

/**
 * Appends output chunks of running attempts, many jobs in one statement, and notifies followers once
 * per job. Insert-only (no row is updated), so appenders never wait on each other; chunk ids
 * (bigserial) give followers the order.
 */
export async function appendJobOutput(db: Db, chunks: readonly OutputChunk[]): Promise<void> {
  if (chunks.length === 0) return;
  await db.query(
    `WITH added AS (
       INSERT INTO job_output (job_id, attempt, chunk)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[])
       RETURNING job_id
     )
     SELECT pg_notify('${OUTPUT_CHANNEL}', job_id) FROM (SELECT DISTINCT job_id FROM added) a`,
    [chunks.map((c) => c.jobId), chunks.map((c) => c.attempt), chunks.map((c) => c.chunk)],
  );
}

/** Deletes the live chunks of finished attempts (their output is in job_attempts now). */
export async function deleteJobOutput(db: Db, attempts: ReadonlyArray<{ jobId: string; attempt: number }>): Promise<void> {
  if (attempts.length === 0) return;
  await db.query(
    `DELETE FROM job_output o USING unnest($1::text[], $2::int[]) AS f(job_id, attempt)
     WHERE o.job_id = f.job_id AND o.attempt = f.attempt`,
    [attempts.map((a) => a.jobId), attempts.map((a) => a.attempt)],
  );
}

/** Live chunks of one attempt after chunk id `afterId`, in order. */
export async function readJobOutput(db: Db, p: { jobId: string; attempt: number; afterId: string }): Promise<Array<{ id: string; chunk: string }>> {
  const res = await db.query<{ id: string; chunk: string }>(
    `SELECT id::text, chunk FROM job_output WHERE job_id = $1 AND attempt = $2 AND id > $3::bigint ORDER BY id`,
    [p.jobId, p.attempt, p.afterId],
  );
  return res.rows;
}

// ---------------------------------------------------------------------------------------------
// Rescue (jobs whose holder vanished)
// ---------------------------------------------------------------------------------------------

export interface RescuedJob {
  id: string;
  state: "failed" | "dead";
  attempts: number;
  worker_id: string | null;
  /** Jobs that depend on this one; a dead one with dependents must have them settled (cancelled). */
  dependents: number;
}

/**
 * Takes back jobs whose lease ran out (worker killed, host lost, network cut): each counts as a
 * failed attempt, with the same backoff and DLQ rule as failJob. SKIP LOCKED lets every worker run
 * the rescuer without coordination; a row a claimer or completer is touching right now is skipped and
 * looked at next time. Because the row's state changes, the old holder's late result fails its fence.
 */
export async function rescueExpiredJobs(db: Db, p: { backoffBase: number; backoffMaxS: number; limit: number }): Promise<RescuedJob[]> {
  const res = await db.query<RescuedJob>(
    `WITH expired AS (
       SELECT id FROM jobs
       WHERE state = 'processing' AND lease_expires_at < now()
       ORDER BY lease_expires_at
       LIMIT $3
       FOR UPDATE SKIP LOCKED
     ), rescued AS (
       UPDATE jobs j SET
         state = (CASE WHEN j.attempts > j.max_retries THEN 'dead' ELSE 'failed' END)::job_state,
         run_at = CASE WHEN j.attempts > j.max_retries THEN j.run_at
                  ELSE now() + make_interval(secs => least(power($1::float8, j.attempts), $2::float8)) END,
         exit_code = NULL,
         last_error = 'lease expired: worker ' || coalesce(j.worker_id, '?') || ' stopped renewing it (killed, frozen or cut off)',
         finished_at = now(), updated_at = now(), lease_expires_at = NULL
       FROM expired WHERE j.id = expired.id
       RETURNING j.id, j.state, j.attempts, j.worker_id, j.queue, j.command, j.last_error, j.dependents
     ), history AS (
       UPDATE job_attempts a SET finished_at = now(), error = r.last_error
       FROM rescued r
       WHERE a.job_id = r.id AND a.attempt = r.attempts AND a.finished_at IS NULL
     ), dlq AS (
       INSERT INTO dead_letters (job_id, queue, command, reason, last_error, attempts)
       SELECT id, queue, command, 'lease expired on the last attempt', last_error, attempts
       FROM rescued WHERE state = 'dead'
     )
     SELECT id, state, attempts, worker_id, dependents FROM rescued`,
    [p.backoffBase, p.backoffMaxS, p.limit],
  );
  return res.rows;
}

// ---------------------------------------------------------------------------------------------
// Dead Letter Queue
// ---------------------------------------------------------------------------------------------

/** Fields `dlq retry --edit` may change before the job runs again; undefined = keep. */
export interface DeadJobEdit {
  command?: string;
  /** null = back to the config default (job_timeout_ms). */
  timeoutMs?: number | null;
  maxRetries?: number;
}

/**
 * Sends dead jobs back to pending with a fresh retry budget, closing their DLQ entries, in one
 * statement; `edit` changes fields on the way. `ids` null = every dead job. Locks the job rows (FOR
 * UPDATE, no SKIP: two shells retrying the same job serialise, and the second finds it no longer dead
 * and does nothing). A job whose unique_key another active job holds now raises unique_violation.
 */
export async function retryDeadJobs(db: Db, ids: readonly string[] | null, edit: DeadJobEdit = {}): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `WITH target AS (
       SELECT id FROM jobs WHERE state = 'dead' AND ($1::text[] IS NULL OR id = ANY($1::text[]))
       FOR UPDATE
     ), requeued AS (
       UPDATE jobs j SET state = 'pending', attempts = 0, run_at = now(), exit_code = NULL,
              worker_id = NULL, started_at = NULL, finished_at = NULL, updated_at = now(),
              command = coalesce($2, j.command),
              timeout_ms = CASE WHEN $3::boolean THEN $4::int ELSE j.timeout_ms END,
              max_retries = coalesce($5::int, j.max_retries)
       FROM target WHERE j.id = target.id AND j.state = 'dead'
       RETURNING j.id, j.queue
     ), closed AS (
       UPDATE dead_letters d SET retried_at = now()
       FROM requeued r WHERE d.job_id = r.id AND d.retried_at IS NULL
     ), woken AS (
       SELECT pg_notify('${JOBS_CHANNEL}', queue) FROM (SELECT DISTINCT queue FROM requeued) q
     )
     SELECT id FROM requeued, (SELECT count(*) FROM woken) w`,
    [ids, edit.command ?? null, edit.timeoutMs !== undefined, edit.timeoutMs ?? null, edit.maxRetries ?? null],
  );
  return res.rows.map((r) => r.id);
}

// ---------------------------------------------------------------------------------------------
// Operator actions: cancel, kill, requeue, purge
// ---------------------------------------------------------------------------------------------

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
export async function cancelJob(db: Db, p: { id: string }): Promise<CancelledJob | null> {
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

/**
 * Asks the worker holding a processing job to send `signal` to the command's process group: stored on
 * the row (so the worker's heartbeat finds it even when the NOTIFY is lost) and announced by NOTIFY.
 * Returns the holding worker, or null when the job is not processing.
 */
export async function requestJobSignal(db: Db, p: { id: string; signal: string }): Promise<{ worker_id: string } | null> {
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
export async function takeJobSignals(db: Db, p: { workerId: string; jobIds: readonly string[] }): Promise<Array<{ id: string; attempts: number; signal: string }>> {
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
export async function jobSignalPending(db: Db, p: { id: string }): Promise<boolean> {
  const res = await db.query<{ pending: boolean }>(`SELECT signal_requested IS NOT NULL AS pending FROM jobs WHERE id = $1`, [p.id]);
  return res.rows[0]?.pending === true;
}

/**
 * Runs completed or cancelled jobs again with the same spec: pending, attempts reset, run now. The
 * attempt history stays (its rows are keyed by a surrogate id). Locks the rows like retryDeadJobs; a
 * job whose unique_key another active job holds raises unique_violation.
 */
export async function requeueJobs(db: Db, p: { ids: readonly string[] }): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `WITH target AS (
       SELECT id FROM jobs WHERE state IN ('completed', 'cancelled') AND id = ANY($1::text[]) FOR UPDATE
     ), requeued AS (
       UPDATE jobs j SET state = 'pending', attempts = 0, run_at = now(), exit_code = NULL, last_error = NULL,
              duration_ms = NULL, worker_id = NULL, started_at = NULL, finished_at = NULL, updated_at = now()
       FROM target WHERE j.id = target.id
       RETURNING j.id, j.queue
     ), woken AS (
       SELECT pg_notify('${JOBS_CHANNEL}', queue) FROM (SELECT DISTINCT queue FROM requeued) q
     )
     SELECT id FROM requeued, (SELECT count(*) FROM woken) w`,
    [p.ids],
  );
  return res.rows.map((r) => r.id);
}

/** States purge may delete: finished ones only. */
export type PurgeableState = "completed" | "cancelled" | "dead";

/**
 * Deletes up to `limit` jobs in `state` that finished more than `olderThanS` seconds ago (their
 * history and DLQ entries go with them, ON DELETE CASCADE). One short statement per batch, SKIP
 * LOCKED: a row someone else is touching (a requeue) is left for the next batch, and no batch holds
 * locks for long. Returns how many were deleted.
 */
export async function purgeJobs(db: Db, p: { state: PurgeableState; olderThanS: number; limit: number }): Promise<number> {
  const res = await db.query(
    // = ANY(ARRAY(...)): the batch's ids are looked up by primary key (with IN the planner may hash
    // the batch and scan the whole table for it).
    `DELETE FROM jobs WHERE id = ANY(ARRAY(
       SELECT id FROM jobs
       WHERE state = $1::job_state AND finished_at < now() - make_interval(secs => $2::float8)
       ORDER BY finished_at
       LIMIT $3
       FOR UPDATE SKIP LOCKED
     ))`,
    [p.state, p.olderThanS, p.limit],
  );
  return res.rowCount ?? 0;
}

/** How many jobs purgeJobs would delete (for `purge --dry-run`). */
export async function countPurgeable(db: Db, p: { state: PurgeableState; olderThanS: number }): Promise<number> {
  const res = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM jobs WHERE state = $1::job_state AND finished_at < now() - make_interval(secs => $2::float8)`,
    [p.state, p.olderThanS],
  );
  return res.rows[0]?.n ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Queues
// ---------------------------------------------------------------------------------------------

/**
 * Sets a queue's concurrency limit (null = none) and/or paused flag, creating its row. Wakes workers
 * (a resumed queue or a raised limit has runnable jobs) and tells them to re-read queue settings;
 * the claim statements read the queues table themselves, so the NOTIFY is only a hint.
 */
export async function setQueueSettings(db: Db, p: { name: string; concurrencyLimit?: number | null; paused?: boolean }): Promise<void> {
  await db.query(
    `WITH upserted AS (
       INSERT INTO queues (name, concurrency_limit, paused, updated_at)
       VALUES ($1, CASE WHEN $2::boolean THEN $3::int END, coalesce($4::boolean, false), now())
       ON CONFLICT (name) DO UPDATE SET
         concurrency_limit = CASE WHEN $2::boolean THEN $3::int ELSE queues.concurrency_limit END,
         paused = coalesce($4::boolean, queues.paused), updated_at = now()
       RETURNING name
     )
     SELECT pg_notify('${CONTROL_CHANNEL}', json_build_object('queues', name)::text), pg_notify('${JOBS_CHANNEL}', name) FROM upserted`,
    [p.name, p.concurrencyLimit !== undefined, p.concurrencyLimit ?? null, p.paused ?? null],
  );
}

// ---------------------------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------------------------

export interface WorkerRegistration {
  id: string;
  host: string;
  pid: number;
  queues: readonly string[];
  concurrency: number;
}

/** Registers (or re-registers after a database restart) a worker row. */
export async function registerWorker(db: Db, w: WorkerRegistration): Promise<void> {
  await db.query(
    `INSERT INTO workers (id, host, pid, queues, concurrency, state)
     VALUES ($1, $2, $3, $4, $5, 'running')
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
    [w.id, w.host, w.pid, w.queues, w.concurrency],
  );
}

/** Records a worker's state change: `stopping` once it drains, `stopped` when it exits. */
export async function setWorkerState(db: Db, workerId: string, state: "running" | "stopping" | "stopped"): Promise<void> {
  await db.query(
    `UPDATE workers SET state = $2, heartbeat_at = now(), stopped_at = CASE WHEN $2 = 'stopped' THEN now() ELSE stopped_at END WHERE id = $1`,
    [workerId, state],
  );
}

/**
 * Asks workers to stop gracefully, wherever they run: the flag is read by each worker's heartbeat,
 * and the NOTIFY makes listening workers react at once. `ids` null = every live worker (running, with
 * a heartbeat newer than `staleAfterMs`). With `timeoutMs`, workers end still-running commands at
 * that deadline and release their jobs.
 */
export async function requestWorkerStop(
  db: Db,
  p: { ids: readonly string[] | null; timeoutMs: number | null; staleAfterMs: number },
): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `WITH asked AS (
       UPDATE workers SET stop_requested = true,
              stop_deadline = CASE WHEN $2::float8 IS NULL THEN stop_deadline
                                   ELSE now() + make_interval(secs => $2::float8 / 1000) END
       WHERE state IN ('running', 'stopping') AND heartbeat_at > now() - make_interval(secs => $3::float8 / 1000)
         AND ($1::text[] IS NULL OR id = ANY($1::text[]))
       RETURNING id
     )
     SELECT id FROM asked, LATERAL (SELECT pg_notify('${CONTROL_CHANNEL}', json_build_object('stop', asked.id)::text)) n`,
    [p.ids, p.timeoutMs, p.staleAfterMs],
  );
  return res.rows.map((r) => r.id);
}

// ---------------------------------------------------------------------------------------------
// Dependencies (`enqueue --after`)
// ---------------------------------------------------------------------------------------------
//
// A job with dependencies is inserted with deps_pending = the number of its dependencies not yet
// completed, and stays out of the claim (and its index) until that reaches 0. Each edge in
// job_dependencies is settled exactly once (settled_at set) by settleDependencies, which decrements
// the dependent, or cancels it when the dependency ended dead or cancelled.
//
// The race between enqueueing a dependent and finishing its dependency: both write the dependency's
// row (lockDependencies bumps `dependents`, the completion sets the state), so they serialise on it.
// If the enqueue wins, the completion's UPDATE re-reads the row and returns dependents > 0, and the
// caller's settleDependencies (a new statement, a new snapshot) sees the committed edge. If the
// completion wins, lockDependencies returns the dependency as completed and the edge is inserted
// already settled. A worker that dies between the two statements leaves edges unsettled: the
// rescuer's sweep (findUnsettledDependencies) settles them.

export interface LockedDependency {
  id: string;
  state: JobState;
}

/**
 * Enqueue side: locks the named dependencies in id order (two enqueuers never deadlock), adds the new
 * dependents to their `dependents` count, and returns their current states. A missing id is absent
 * from the result. Runs inside the enqueue transaction.
 */
export async function lockDependencies(db: Db, counts: ReadonlyMap<string, number>): Promise<LockedDependency[]> {
  if (counts.size === 0) return [];
  const ids = [...counts.keys()];
  const res = await db.query<LockedDependency>(
    `WITH locked AS (
       SELECT id FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE
     ), bumped AS (
       UPDATE jobs j SET dependents = j.dependents + c.n
       FROM locked, unnest($1::text[], $2::int[]) AS c(id, n)
       WHERE j.id = locked.id AND c.id = j.id
       RETURNING j.id, j.state
     )
     SELECT id, state::text AS state FROM bumped`,
    [ids, ids.map((id) => counts.get(id)!)],
  );
  return res.rows;
}

export interface NewDependency {
  jobId: string;
  dependsOn: string;
  /** The dependency had completed already: the edge counts for nothing. */
  settled: boolean;
}

/** Inserts dependency edges (in the enqueue transaction, after the jobs themselves). */
export async function insertDependencies(db: Db, edges: readonly NewDependency[]): Promise<void> {
  if (edges.length === 0) return;
  await db.query(
    `INSERT INTO job_dependencies (job_id, depends_on, settled_at)
     SELECT job_id, depends_on, CASE WHEN settled THEN now() END
     FROM unnest($1::text[], $2::text[], $3::bool[]) AS t(job_id, depends_on, settled)`,
    [edges.map((e) => e.jobId), edges.map((e) => e.dependsOn), edges.map((e) => e.settled)],
  );
}

export interface SettleResult {
  /** Dependents whose last dependency completed: runnable now. */
  released: string[];
  /** Dependents cancelled because a dependency ended dead or cancelled (settle them in turn). */
  cancelled: string[];
}

/**
 * Settles the unsettled edges whose dependency (one of `ids`) has finished: completed decrements the
 * dependent's deps_pending (runnable at 0, and workers are woken); dead or cancelled cancels a
 * pending dependent, naming the dependency in last_error. Dependencies not finished are ignored.
 *
 * Safe under concurrency: each edge is locked (FOR UPDATE, re-checked settled_at IS NULL after the
 * wait) and marked settled by exactly one statement, so two statements settling the same dependency
 * apply it once. Two dependencies of one job completing at the same instant each settle their own
 * edge, then both update the dependent's row: the second waits for the first and re-reads the row
 * (READ COMMITTED re-check), so deps_pending goes 2 -> 1 -> 0 and the job is released exactly once.
 * Edges and then dependents are locked in key order, so concurrent settles cannot deadlock.
 */
export async function settleDependencies(db: Db, ids: readonly string[]): Promise<SettleResult> {
  if (ids.length === 0) return { released: [], cancelled: [] };
  const res = await db.query<{ id: string; state: JobState; deps_pending: number; killed: boolean }>(
    `WITH finished AS (
       SELECT id, state FROM jobs WHERE id = ANY($1::text[]) AND state IN ('completed', 'dead', 'cancelled')
     ), open_edges AS (
       SELECT d.job_id, d.depends_on, f.state
       FROM job_dependencies d JOIN finished f ON f.id = d.depends_on
       WHERE d.settled_at IS NULL
       ORDER BY d.job_id, d.depends_on
       FOR UPDATE OF d
     ), edges AS (
       UPDATE job_dependencies d SET settled_at = now()
       FROM open_edges o
       WHERE d.job_id = o.job_id AND d.depends_on = o.depends_on AND d.settled_at IS NULL
       RETURNING d.job_id, d.depends_on, o.state
     ), per_job AS (
       SELECT job_id, count(*)::int AS settled,
              (array_agg(depends_on ORDER BY depends_on) FILTER (WHERE state <> 'completed'))[1] AS failed_dep,
              (array_agg(state::text ORDER BY depends_on) FILTER (WHERE state <> 'completed'))[1] AS failed_state
       FROM edges GROUP BY job_id
     ), locked AS (
       SELECT j.id FROM jobs j WHERE j.id IN (SELECT job_id FROM per_job) ORDER BY j.id FOR UPDATE
     ), changed AS (
       UPDATE jobs j SET
         deps_pending = greatest(j.deps_pending - p.settled, 0),
         state = CASE WHEN p.failed_dep IS NOT NULL AND j.state = 'pending' THEN 'cancelled'::job_state ELSE j.state END,
         last_error = CASE WHEN p.failed_dep IS NOT NULL AND j.state = 'pending'
                           THEN 'cancelled: dependency ' || p.failed_dep || ' ended ' || p.failed_state ELSE j.last_error END,
         finished_at = CASE WHEN p.failed_dep IS NOT NULL AND j.state = 'pending' THEN now() ELSE j.finished_at END,
         updated_at = now()
       FROM per_job p, locked l
       WHERE j.id = p.job_id AND l.id = p.job_id
       RETURNING j.id, j.queue, j.state, j.deps_pending, (p.failed_dep IS NOT NULL) AS killed
     ), woken AS (
       SELECT pg_notify('${JOBS_CHANNEL}', queue)
       FROM (SELECT DISTINCT queue FROM changed WHERE state = 'pending' AND deps_pending = 0) q
     )
     SELECT id, state::text AS state, deps_pending, killed FROM changed, (SELECT count(*) FROM woken) w`,
    [ids],
  );
  return {
    released: res.rows.filter((r) => r.state === "pending" && r.deps_pending === 0).map((r) => r.id),
    cancelled: res.rows.filter((r) => r.killed && r.state === "cancelled").map((r) => r.id),
  };
}

/**
 * Finished jobs (completed, dead, cancelled) that still have unsettled edges: left behind when a
 * worker died between its completion and settleDependencies, or when a job was ended by a statement
 * that does not settle (a cancel). Reads the small partial index of unsettled edges only.
 */
export async function findUnsettledDependencies(db: Db, limit: number): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `SELECT DISTINCT d.depends_on AS id
     FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on
     WHERE d.settled_at IS NULL AND j.state IN ('completed', 'dead', 'cancelled')
     LIMIT $1`,
    [limit],
  );
  return res.rows.map((r) => r.id);
}

// ---------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------

export interface DueSchedule {
  name: string;
  cron: string;
  timezone: string;
  job: unknown;
  missed: "skip" | "catch-up";
  catch_up_limit: number;
  next_run_at: Date;
  /** The database's clock when read: ticks are computed against it, not the worker host's. */
  db_now: Date;
}

/** Unpaused schedules whose next tick has come, earliest first. A plain read: claiming is advanceSchedule. */
export async function dueSchedules(db: Db, limit: number): Promise<DueSchedule[]> {
  const res = await db.query<DueSchedule>(
    `SELECT name, cron, timezone, job, missed, catch_up_limit, next_run_at, now() AS db_now
     FROM schedules WHERE NOT paused AND next_run_at <= now()
     ORDER BY next_run_at LIMIT $1`,
    [limit],
  );
  return res.rows;
}

/**
 * Claims a schedule's due tick(s) by moving next_run_at from the value the caller read (`from`) to
 * the tick after them (`to`). Run in the transaction that inserts the tick's jobs.
 *
 * Safe under concurrency: every scheduler that read the same next_run_at issues this UPDATE; the
 * first takes the row lock, the others wait, re-check `next_run_at = from` against the committed row
 * (READ COMMITTED re-check), find it moved, and update nothing, so they insert no job. Exactly one
 * scheduler enqueues each tick however many workers run. A pause committed in between also wins
 * (NOT paused is re-checked the same way). Tick jobs also carry a deterministic id (name@tick), so
 * even a clock or logic slip could not insert one tick twice.
 */
export async function advanceSchedule(db: Db, p: { name: string; from: Date; to: Date; lastJobId: string | null }): Promise<boolean> {
  const res = await db.query(
    `UPDATE schedules SET next_run_at = $3, last_run_at = CASE WHEN $4::text IS NULL THEN last_run_at ELSE now() END,
            last_job_id = coalesce($4, last_job_id), updated_at = now()
     WHERE name = $1 AND next_run_at = $2 AND NOT paused`,
    [p.name, p.from, p.to, p.lastJobId],
  );
  return (res.rowCount ?? 0) > 0;
}

/** When the earliest unpaused schedule is next due (null: none), so schedulers sleep exactly until then. */
export async function nextScheduleAt(db: Db): Promise<{ next: Date | null; dbNow: Date }> {
  const res = await db.query<{ next: Date | null; db_now: Date }>(
    `SELECT min(next_run_at) AS next, now() AS db_now FROM schedules WHERE NOT paused`,
  );
  return { next: res.rows[0]?.next ?? null, dbNow: res.rows[0]!.db_now };
}

/** Tells every worker's scheduler that schedules changed (add, pause, resume), so it re-reads them now. */
export async function notifySchedulesChanged(db: Db): Promise<void> {
  await db.query(`SELECT pg_notify($1, '{"schedules": true}')`, [CONTROL_CHANNEL]);
}
