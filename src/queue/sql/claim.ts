/**
 * Statements that hand runnable jobs to a worker. The claim is the only way into `processing`: it
 * locks rows with SKIP LOCKED, so two claimers never take the same row, and gives each claimed row a
 * new attempt number (last_attempt + 1) that fences every later write of that run.
 */
import type pg from "pg";
import { inTransaction } from "../../db/transaction.js";
import { queryPrepared } from "../../db/prepared.js";
import type { Queryable } from "../../db/queryable.js";

export interface ClaimedJob {
  id: string;
  command: string;
  queue: string;
  /** This run's attempt number (the job's last_attempt): unique per job, part of every fence. */
  attempt: number;
  /** Attempts counted against max_retries, this one included. */
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
export const CLAIMED_ORDER = "priority DESC, run_at, seq";

/**
 * What claiming does to the rows a claim statement locked (its `next` CTE): processing for worker $1,
 * one more attempt, a lease of $4 ms, no progress yet, and the attempt's history row, in the same
 * statement. The rows are found with `= ANY (ARRAY(...))`, not a join, so each is fetched by primary
 * key: a generic plan costs `LIMIT $3` as 10% of the runnable rows and joined them by scanning the
 * whole table. Shared by
 * completeAndClaimJobs and claimLimitedJobs so the two claims cannot drift apart. The statement's
 * final SELECT reads `claimed`; CLAIMED_ORDER is the order to start them in. Jobs claimed together
 * share one started_at (the claim's); their history rows are inserted in that order, so the attempt
 * ids tell which started first.
 *
 * started_at is the clock read once while the statement runs (an InitPlan), not now(): now() is when
 * the transaction began, which can precede the snapshot by however long the backend waited (a busy
 * CPU between Bind and Execute, or claimLimitedJobs' queue lock). A job released by its dependency's
 * completion would then show a started_at before that dependency's finished_at although it ran after
 * it; read after the snapshot, started_at is always later than every commit the claim saw.
 */
const TAKE_CLAIMED_ROWS = `claimed AS (
       UPDATE jobs j
       SET state = 'processing', attempts = j.attempts + 1, last_attempt = j.last_attempt + 1, worker_id = $1,
           lease_expires_at = now() + make_interval(secs => $4::float8 / 1000),
           started_at = (SELECT clock_timestamp()), finished_at = NULL, updated_at = now(),
           progress_pct = NULL, progress_message = NULL, progress_at = NULL
       WHERE j.id = ANY (ARRAY(SELECT id FROM next))
       RETURNING j.id, j.command, j.queue, j.last_attempt AS attempt, j.attempts, j.max_retries, j.timeout_ms, j.priority, j.run_at, j.seq, j.cwd, j.env, j.started_at
     ), history AS (
       INSERT INTO job_attempts (job_id, attempt, worker_id, started_at)
       SELECT id, attempt, $1, started_at FROM claimed ORDER BY ${CLAIMED_ORDER}
     )`;
const CLAIMED_COLUMNS = "id, command, queue, attempt, attempts, max_retries, timeout_ms, priority, cwd, env";

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

export interface CompletedJob {
  /**
   * Jobs that depend on this one, read from the row as this statement updated it (so it includes a
   * dependent enqueued while the attempt ran). > 0: the caller settles them (settleDependencies).
   */
  dependents: number;
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
 * Completion (`done`): fenced on (id, worker_id, last_attempt, state = 'processing'), like every way out
 * of processing; a holder whose lease was taken over updates zero rows for that job and its result is
 * dropped. The attempt's history row is updated only for completions the fence accepted.
 * The rows are locked first in id order (`held`), as the heartbeat locks the same worker's rows: two
 * statements of one worker that update several of its jobs (this one's completions, the heartbeat's
 * lease extensions, on two connections) would otherwise lock them in whatever order their joins
 * produce and could deadlock, each waiting a second for the detector.
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
export async function completeAndClaimJobs(db: Queryable, p: CompleteAndClaimParams): Promise<CompleteAndClaimResult> {
  const c = p.completions;
  // A named prepared statement (db/prepared.ts): planned once per connection, not on every pass.
  const res = await queryPrepared<ClaimedJob & { kind: "claimed" | "completed"; dependents: number | null }>(
    db,
    "queuectl_complete_and_claim",
    `WITH finished AS (
       SELECT * FROM unnest($5::text[], $6::int[], $7::int[], $8::text[], $9::int[]) AS f(id, attempt, exit_code, output, duration_ms)
     ), held AS (
       SELECT id FROM jobs WHERE id = ANY($5::text[]) AND worker_id = $1 AND state = 'processing' ORDER BY id FOR UPDATE
     ), done AS (
       UPDATE jobs j SET state = 'completed', exit_code = f.exit_code, last_error = NULL, duration_ms = f.duration_ms,
              finished_at = now(), updated_at = now(), lease_expires_at = NULL, signal_requested = NULL, cancel_requested_at = NULL
       FROM finished f JOIN held h ON h.id = f.id
       WHERE j.id = f.id AND j.worker_id = $1 AND j.last_attempt = f.attempt AND j.state = 'processing'
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
     SELECT 'completed', id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, dependents, NULL, NULL FROM done
     ORDER BY ${CLAIMED_ORDER}`,
    [
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
  );
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

/**
 * Claims jobs from queues with a concurrency limit, never letting a queue's processing jobs (across
 * every worker) exceed its limit. Two statements in one transaction:
 *
 * 1. lock the limited, unpaused queue rows this worker serves (FOR UPDATE, in name order so two
 *    claimers never deadlock). Every claimer of a limited queue queues up here; the lock is held
 *    until COMMIT, a few milliseconds.
 * 2. a NEW statement, hence a new snapshot taken after the lock was granted: it sees every claim
 *    committed by the previous lock holder, counts the queue's processing jobs, and claims at most
 *    limit - processing of them (SKIP LOCKED as in completeAndClaimJobs).
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
export async function hasLimitedQueues(db: Queryable, queues: readonly string[]): Promise<boolean> {
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
export async function nextRunAt(db: Queryable, queues: readonly string[]): Promise<Date | null> {
  const res = await db.query<{ run_at: Date | null }>(
    `SELECT min(run_at) AS run_at FROM jobs
     WHERE state IN ('pending', 'failed') AND deps_pending = 0 AND (cardinality($1::text[]) = 0 OR queue = ANY($1::text[]))`,
    [queues],
  );
  return res.rows[0]?.run_at ?? null;
}

/**
 * Whether any job of these queues is runnable now, due within `withinMs`, or failed and waiting for
 * its retry: `worker start --exit-when-idle` exits only when none is.
 */
export async function hasWaitingJobs(db: Queryable, p: { queues: readonly string[]; withinMs: number }): Promise<boolean> {
  const res = await db.query<{ waiting: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM jobs
       WHERE (state = 'failed' OR (state = 'pending' AND run_at <= now() + make_interval(secs => $2::float8 / 1000)))
         AND (cardinality($1::text[]) = 0 OR queue = ANY($1::text[]))
     ) AS waiting`,
    [p.queues, p.withinMs],
  );
  return res.rows[0]?.waiting === true;
}
