/**
 * The queue's read and write operations as the CLI (and the dashboard) use them: enqueue, look up,
 * list, count, and work the DLQ (workers are read in workers.ts). Each takes the context (pool +
 * Prisma Client) and one params object and returns plain data; rendering is the caller's.
 * Statements that change jobs come from sql/; the reads here go through Prisma Client, or one plain
 * query where an aggregate is clearer in SQL.
 */
import type { AppContext } from "../db/context.js";
import { inTransaction } from "../db/transaction.js";
import type { Job as PrismaJob, JobAttempt as PrismaJobAttempt } from "../generated/prisma/client.js";
import { InvalidInputError, InvalidStateError, NotFoundError, OperationalError } from "../errors.js";
import { envNameAllowed, loadConfig } from "./config.js";
import type pg from "pg";
import { generateJobIds, quoteJobId, toNewJob, type JobSpec, type NewJob } from "./job-spec.js";
import { refuseBlocked, uniqueKeyConflict } from "./operator.js";
import { findActiveUniqueJobs, insertJobs, canInsertAlone, insertJobsAndNotify, notifyJobsAvailable } from "./sql/enqueue.js";
import { insertDependencies, lockDependencies, reopenDependencies, type NewDependency } from "./sql/dependencies.js";
import { JOB_STATES, type JobRow, type JobState } from "./job.js";
import { retryDeadJobs, type DeadJobEdit } from "./sql/dlq.js";

/** What these operations need from the context. */
export type QueueContext = Pick<AppContext, "pool" | "prisma">;

// ---------------------------------------------------------------------------------------------
// Enqueue
// ---------------------------------------------------------------------------------------------

/**
 * Rows per COPY (per INSERT for jobs with a unique_key) inside the enqueue transaction: the progress
 * bar's step, and each statement's data stays a few hundred KB. Measured with 20 000 jobs on 2 cores:
 * with the INSERT, 1000-row batches took ~1.7x as long as 5000-row ones and one 20 000-row statement
 * was no faster (~300 ms either way); with COPY, 4 x 5000 rows and 1 x 20 000 took the same (~180 ms).
 */
export const ENQUEUE_BATCH_SIZE = 5000;
/** Up to this many jobs with neither unique_key nor dependencies are added by one statement. */
const SMALL_ENQUEUE = 100;

export interface EnqueueJobsParams {
  /** Validated job specs (parseJobSpec / readEnqueueInput). */
  specs: readonly JobSpec[];
  /** Rows per COPY or INSERT statement; default ENQUEUE_BATCH_SIZE. */
  batchSize?: number;
  /** Working directory of the jobs that set none (the CLI: where it was run); default: the worker's. */
  cwd?: string;
  /** Called after each batch with the jobs written so far (uncommitted until the end). */
  onBatch?: (done: number, total: number) => void;
}

/** What enqueue did: the id of every job given (in input order) and which of them existed already. */
export interface EnqueueOutcome {
  ids: string[];
  /** Ids returned for a unique_key an active job already held: nothing was added for those. */
  existing: Set<string>;
}

/**
 * Inserts every job in one transaction and wakes idle workers on commit: either all jobs are
 * enqueued or none is. Jobs without max_retries get the config default. A job id that exists already
 * raises InvalidInputError naming it (and nothing is inserted). Returns the ids in input order.
 */
export async function enqueueJobs(ctx: Pick<QueueContext, "pool">, p: EnqueueJobsParams): Promise<string[]> {
  return (await enqueueJobsWithOutcome(ctx, p)).ids;
}

/**
 * enqueueJobs, also saying which jobs were not added because an active job (pending, processing or
 * failed) holds their unique_key: for those, the existing job's id is returned in their place.
 */
export async function enqueueJobsWithOutcome(ctx: Pick<QueueContext, "pool">, p: EnqueueJobsParams): Promise<EnqueueOutcome> {
  if (p.specs.length === 0) return { ids: [], existing: new Set() };
  const batchSize = p.batchSize ?? ENQUEUE_BATCH_SIZE;
  try {
    const jobs = await toNewJobs(ctx.pool, p);
    if (jobs.length <= SMALL_ENQUEUE && jobs.every(canInsertAlone)) {
      // One statement, no transaction around it (insertJobsAndNotify): the common case of adding a job.
      await insertJobsAndNotify(ctx.pool, jobs);
      p.onBatch?.(jobs.length, jobs.length);
      return { ids: jobs.map((j) => j.id), existing: new Set() };
    }
    return await inTransaction(ctx.pool, async (client) => {
      const inserted = new Set<string>();
      const edges = await resolveDependencies(client, jobs);
      for (let i = 0; i < jobs.length; i += batchSize) {
        for (const id of await insertJobs(client, jobs.slice(i, i + batchSize))) inserted.add(id);
        p.onBatch?.(Math.min(jobs.length, i + batchSize), jobs.length);
      }
      const result = jobs.map((j) => j.id);
      const existing = new Set<string>();
      const skipped = jobs.filter((j) => !inserted.has(j.id));
      if (skipped.length > 0) {
        // Skipped for their unique_key: the holder committed before our insert returned, so this new
        // statement's snapshot sees it (unless it finished meanwhile: then insert once more).
        let holders = await findActiveUniqueJobs(client, skipped.map((j) => j.uniqueKey!));
        const orphans = skipped.filter((j) => !holders.has(j.uniqueKey!));
        if (orphans.length > 0) {
          for (const id of await insertJobs(client, orphans)) inserted.add(id);
          holders = await findActiveUniqueJobs(client, skipped.map((j) => j.uniqueKey!));
        }
        for (let k = 0; k < jobs.length; k++) {
          const j = jobs[k]!;
          if (inserted.has(j.id)) continue;
          const holder = holders.get(j.uniqueKey!);
          if (holder === undefined) throw new OperationalError(`unique key '${j.uniqueKey}' changed hands while enqueueing; try again`);
          result[k] = holder;
          // Same key twice in this input: the later ones name the job the first one added.
          if (holder !== j.id && !inserted.has(holder)) existing.add(holder);
        }
      }
      // A job not added because its unique_key is held has no edges of its own, and a job added cannot
      // wait on one of this input that was not added (the holder of its key is another job).
      const position = new Map(jobs.map((j) => [j.id, j]));
      const orphan = edges.find((e) => inserted.has(e.jobId) && position.has(e.dependsOn) && !inserted.has(e.dependsOn));
      if (orphan) {
        const skipped = position.get(orphan.dependsOn)!;
        throw new InvalidStateError(
          `job '${orphan.jobId}' depends on '${orphan.dependsOn}', which was not added: an active job holds its unique key '${skipped.uniqueKey}'; nothing was enqueued`,
        );
      }
      await insertDependencies(client, edges.filter((e) => inserted.has(e.jobId)));
      await notifyJobsAvailable(client, jobs.filter((j) => !j.depsPending && inserted.has(j.id)).map((j) => j.queue));
      return { ids: result, existing };
    });
  } catch (err) {
    const e = err as { code?: string; constraint?: string; detail?: string };
    if (e.code === "23505" && e.constraint === "jobs_pkey") {
      const id = /\(id\)=\((.*)\) already exists/.exec(e.detail ?? "")?.[1];
      throw new InvalidInputError(id !== undefined ? `job id '${id}' already exists` : "a job id already exists");
    }
    throw err;
  }
}

/**
 * The specs as rows to insert: generated ids for those without one, the config's max_retries for
 * those that set none (config is read only when some spec needs it, also for env_allowlist).
 */
async function toNewJobs(db: pg.Pool, p: EnqueueJobsParams): Promise<NewJob[]> {
  const needsConfig = p.specs.some((s) => s.max_retries === undefined || s.env !== undefined);
  const config = needsConfig ? await loadConfig(db) : null;
  if (config) checkEnvAllowed(p.specs, config.env_allowlist);
  const ids = generateJobIds(p.specs.reduce((n, s) => (s.id === undefined ? n + 1 : n), 0));
  let next = 0;
  const defaults = { maxRetries: config?.max_retries ?? 0, cwd: p.cwd };
  return p.specs.map((s) => toNewJob(s, defaults, s.id === undefined ? ids[next++]! : undefined));
}

/** Throws InvalidInputError for the first env name that config env_allowlist does not allow. */
export function checkEnvAllowed(specs: readonly JobSpec[], allowlist: string): void {
  for (const spec of specs) {
    if (spec.env === undefined) continue;
    for (const name of Object.keys(spec.env)) {
      if (!envNameAllowed(allowlist, name)) {
        throw new InvalidInputError(`environment variable '${name}' is not allowed by config env_allowlist (${allowlist})`);
      }
    }
  }
}

/**
 * Checks and counts the jobs' dependencies inside the enqueue transaction, setting each job's
 * depsPending and dependents, and returns the edges to insert. A job may depend on an existing job or
 * on one earlier in the same input (so no cycle can be built). Missing: NotFoundError; dead or
 * cancelled (the dependent could never run): InvalidStateError. Either rolls the enqueue back.
 */
async function resolveDependencies(client: pg.PoolClient, jobs: NewJob[]): Promise<NewDependency[]> {
  if (!jobs.some((j) => j.dependsOn?.length)) return [];
  const position = new Map(jobs.map((j, i) => [j.id, i]));
  const external = new Map<string, number>();
  for (const [i, job] of jobs.entries()) {
    for (const dep of job.dependsOn ?? []) {
      const at = position.get(dep);
      if (at === undefined) external.set(dep, (external.get(dep) ?? 0) + 1);
      else if (at >= i) throw new InvalidInputError(`job '${job.id}' depends on '${dep}', which ${at === i ? "is itself" : "comes later in the input"}: a job may only depend on an existing job or one earlier in the input`);
      else jobs[at]!.dependents = (jobs[at]!.dependents ?? 0) + 1;
    }
  }
  const stateOf = new Map((await lockDependencies(client, external)).map((d) => [d.id, d.state]));
  const missing = [...external.keys()].find((dep) => !stateOf.has(dep));
  if (missing !== undefined) throw new NotFoundError(`no job '${missing}' to depend on`);
  for (const [dep, state] of stateOf) {
    if (state === "dead" || state === "cancelled") throw new InvalidStateError(`job '${dep}' is ${state}: a job after it would never run`);
  }
  const edges: NewDependency[] = [];
  for (const job of jobs) {
    for (const dep of job.dependsOn ?? []) {
      const settled = stateOf.get(dep) === "completed";
      edges.push({ jobId: job.id, dependsOn: dep, settled });
      if (!settled) job.depsPending = (job.depsPending ?? 0) + 1;
    }
  }
  return edges;
}

// ---------------------------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------------------------

/** Prisma's camelCase job as the snake_case JobRow the JSON contract and sql/ use. */
export function jobRowFromPrisma(j: PrismaJob): JobRow {
  return {
    id: j.id,
    queue: j.queue,
    command: j.command,
    state: j.state,
    priority: j.priority,
    attempts: j.attempts,
    last_attempt: j.lastAttempt,
    max_retries: j.maxRetries,
    timeout_ms: j.timeoutMs,
    run_at: j.runAt,
    created_at: j.createdAt,
    updated_at: j.updatedAt,
    started_at: j.startedAt,
    finished_at: j.finishedAt,
    worker_id: j.workerId,
    exit_code: j.exitCode,
    last_error: j.lastError,
    duration_ms: j.durationMs,
    deps_pending: j.depsPending,
    cwd: j.cwd,
    env: (j.env as Record<string, string> | null) ?? null,
    cancel_requested_at: j.cancelRequestedAt,
  };
}

/** One attempt of a job, as `show` prints it. */
export interface AttemptRow {
  attempt: number;
  worker_id: string;
  started_at: Date;
  finished_at: Date | null;
  exit_code: number | null;
  error: string | null;
  /** Captured stdout+stderr tail; null while the attempt runs. */
  output: string | null;
}

/** A job linked to another by dependencies, `depth` edges away (1 = direct). */
export interface ChainLink {
  id: string;
  state: JobState;
  depth: number;
  command: string;
}

export interface JobDetail {
  job: JobRow;
  /** Every attempt in the order it started (attempt numbers restart after `dlq retry`). */
  history: AttemptRow[];
  /** Jobs this one waits for, directly (depth 1) and through them, nearest first. */
  upstream: ChainLink[];
  /** Jobs that wait for this one, directly and through them, nearest first. */
  downstream: ChainLink[];
}

/** Deepest level of a dependency chain `show` follows. */
export const MAX_CHAIN_DEPTH = 50;

/** The dependency chain around a job, both ways (one recursive query). */
export async function jobChain(ctx: Pick<QueueContext, "pool">, p: { id: string }): Promise<{ upstream: ChainLink[]; downstream: ChainLink[] }> {
  const res = await ctx.pool.query<ChainLink & { dir: "up" | "down" }>(
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
    [p.id, MAX_CHAIN_DEPTH],
  );
  const strip = ({ dir: _dir, ...link }: ChainLink & { dir: string }) => link;
  return {
    upstream: res.rows.filter((r) => r.dir === "up").map(strip),
    downstream: res.rows.filter((r) => r.dir === "down").map(strip),
  };
}

function attemptRowFromPrisma(a: PrismaJobAttempt): AttemptRow {
  return {
    attempt: a.attempt,
    worker_id: a.workerId,
    started_at: a.startedAt,
    finished_at: a.finishedAt,
    exit_code: a.exitCode,
    error: a.error,
    output: a.output,
  };
}

/** One job with its attempt history and dependency chain. Throws NotFoundError for an unknown id. */
export async function getJob(ctx: QueueContext, p: { id: string }): Promise<JobDetail> {
  const job = await ctx.prisma.job.findUnique({
    where: { id: p.id },
    include: { history: { orderBy: { id: "asc" } } },
  });
  if (!job) throw new NotFoundError(`no job ${quoteJobId(p.id)}`);
  const { history, ...rest } = job;
  const chain = await jobChain(ctx, p);
  return { job: jobRowFromPrisma(rest as PrismaJob), history: history.map(attemptRowFromPrisma), ...chain };
}

export interface ListJobsParams {
  state?: JobState;
  queue?: string;
  /** At most this many jobs (default 20). */
  limit?: number;
  /** Skip this many of the newest first. */
  offset?: number;
}

export interface JobPage {
  jobs: JobRow[];
  /** Whether older jobs match beyond this page. */
  more: boolean;
}

/** Checks a state name given by a user. */
export function parseJobState(raw: string): JobState {
  if ((JOB_STATES as readonly string[]).includes(raw)) return raw as JobState;
  throw new InvalidInputError(`unknown state '${raw}' (one of: ${JOB_STATES.join(", ")})`);
}

/** Jobs newest first (created_at, then enqueue order for jobs enqueued together). */
export async function listJobs(ctx: Pick<QueueContext, "prisma">, p: ListJobsParams = {}): Promise<JobPage> {
  const limit = p.limit ?? 20;
  const rows = await ctx.prisma.job.findMany({
    where: { state: p.state, queue: p.queue },
    orderBy: [{ createdAt: "desc" }, { seq: "desc" }],
    skip: p.offset ?? 0,
    // One more than asked tells whether there is a next page without counting the table.
    take: limit + 1,
  });
  return { jobs: rows.slice(0, limit).map(jobRowFromPrisma), more: rows.length > limit };
}

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

export interface QueueStatus {
  /** Jobs per state; every state present, zero when none. */
  jobs: Record<JobState, number>;
  /**
   * Live workers: running (or stopping, still finishing jobs) with a heartbeat fresher than
   * 2 x lease_ms; the same rule as workers.ts countLiveWorkers.
   */
  workers: number;
  /** Dead jobs waiting in the DLQ (entries not retried). */
  dlq: number;
  /** Mean duration of completed jobs in ms; null when none completed. */
  avgDurationMs: number | null;
  /** How long the oldest runnable job (pending or failed, run_at passed, no dependency pending) has been due, in ms; null when none. */
  oldestRunnableAgeMs: number | null;
}

/**
 * Counts for `status`, in one statement so the numbers are one snapshot. `leaseMs` (default: the
 * config's lease_ms) decides which workers count as alive.
 */
export async function queueStatus(ctx: Pick<QueueContext, "pool">, p: { leaseMs?: number } = {}): Promise<QueueStatus> {
  const leaseMs = p.leaseMs ?? (await loadConfig(ctx.pool)).lease_ms;
  const res = await ctx.pool.query<{
    counts: Record<string, number> | null;
    workers: number;
    dlq: number;
    avg_duration_ms: number | null;
    oldest_runnable_age_ms: number | null;
  }>(
    `SELECT
       (SELECT json_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM jobs GROUP BY state) s) AS counts,
       (SELECT count(*) FROM workers
         WHERE state IN ('running', 'stopping') AND heartbeat_at > now() - make_interval(secs => 2 * $1::float8 / 1000)) AS workers,
       (SELECT count(*) FROM dead_letters WHERE retried_at IS NULL) AS dlq,
       (SELECT avg(duration_ms)::float8 FROM jobs WHERE state = 'completed') AS avg_duration_ms,
       (SELECT (extract(epoch FROM now() - min(run_at)) * 1000)::float8 FROM jobs
         WHERE state IN ('pending', 'failed') AND run_at <= now() AND deps_pending = 0) AS oldest_runnable_age_ms`,
    [leaseMs],
  );
  const row = res.rows[0]!;
  const jobs = Object.fromEntries(JOB_STATES.map((s) => [s, Number(row.counts?.[s] ?? 0)])) as Record<JobState, number>;
  return {
    jobs,
    workers: row.workers,
    dlq: row.dlq,
    avgDurationMs: row.avg_duration_ms === null ? null : Math.round(row.avg_duration_ms),
    oldestRunnableAgeMs: row.oldest_runnable_age_ms === null ? null : Math.max(0, Math.round(row.oldest_runnable_age_ms)),
  };
}

// ---------------------------------------------------------------------------------------------
// Dead Letter Queue
// ---------------------------------------------------------------------------------------------

export interface DeadLetterRow {
  job_id: string;
  queue: string;
  command: string;
  attempts: number;
  /** Why it died, e.g. "failed 4 attempts". */
  reason: string;
  last_error: string | null;
  failed_at: Date;
}

export interface DeadLetterPage {
  entries: DeadLetterRow[];
  /** Entries waiting in the DLQ in all (the page may hold fewer). */
  total: number;
}

/** DLQ entries not yet retried, newest first. */
export async function listDeadLetters(ctx: Pick<QueueContext, "prisma">, p: { limit?: number; offset?: number } = {}): Promise<DeadLetterPage> {
  const where = { retriedAt: null };
  const [rows, total] = await Promise.all([
    ctx.prisma.deadLetter.findMany({
      where,
      orderBy: [{ failedAt: "desc" }, { id: "desc" }],
      skip: p.offset ?? 0,
      take: p.limit,
    }),
    ctx.prisma.deadLetter.count({ where }),
  ]);
  return {
    entries: rows.map((d) => ({
      job_id: d.jobId,
      queue: d.queue,
      command: d.command,
      attempts: d.attempts,
      reason: d.reason,
      last_error: d.lastError,
      failed_at: d.failedAt,
    })),
    total,
  };
}

/** `ids`: these dead jobs; `all`: every dead job. */
export type RetryDeadParams = { ids: readonly string[]; edit?: DeadJobEdit } | { all: true };

/**
 * Sends dead jobs back to pending with attempts reset, closing their DLQ entries (sql/dlq.ts
 * retryDeadJobs); in the same transaction each waits again for its dependencies that have not
 * completed, and one whose dependency ended cancelled is refused (operator.ts refuseBlocked). Named
 * ids are checked first: an unknown id is NotFoundError, a job that is not dead is InvalidStateError,
 * and then nothing is retried. Returns the ids retried.
 */
export async function retryDead(ctx: QueueContext, p: RetryDeadParams): Promise<string[]> {
  const ids = "all" in p ? null : [...new Set(p.ids)];
  if (ids) {
    const found = await ctx.prisma.job.findMany({ where: { id: { in: ids } }, select: { id: true, state: true } });
    const stateOf = new Map(found.map((j) => [j.id, j.state]));
    for (const id of ids) {
      const state = stateOf.get(id);
      if (state === undefined) throw new NotFoundError(`no job ${quoteJobId(id)}`);
      if (state !== "dead") throw new InvalidStateError(`job '${id}' is not in the DLQ (it is ${state})`);
    }
  }
  try {
    return await inTransaction(ctx.pool, async (client) => {
      const retried = await retryDeadJobs(client, ids, "all" in p ? {} : p.edit);
      const missed = (ids ?? []).filter((id) => !retried.includes(id));
      if (missed.length > 0) {
        // Someone else retried (or changed) it between the check and the statement.
        throw new InvalidStateError(`job '${missed[0]}' left the DLQ while retrying it; nothing was changed`);
      }
      refuseBlocked(await reopenDependencies(client, retried), "dlq retry");
      return retried;
    });
  } catch (err) {
    throw uniqueKeyConflict(err) ?? err;
  }
}
