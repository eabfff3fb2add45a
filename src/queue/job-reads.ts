/**
 * Reading jobs as `show`, `list` and the dashboard present them: one job with its attempts and
 * dependency chain, a page of jobs, a search (the dashboard's jobs page). Through Prisma Client,
 * except the dependency chain, a recursive query in sql/job-reads.ts.
 */
import type { Job as PrismaJob, JobAttempt as PrismaJobAttempt } from "../generated/prisma/client.js";
import { InvalidInputError, NotFoundError } from "../errors.js";
import type { QueueContext } from "./context.js";
import { quoteJobId } from "./job-spec.js";
import { JOB_STATES, type ChainLink, type JobRow, type JobState } from "./job.js";
import { readDependencyChain } from "./sql/job-reads.js";
import { maskSecrets } from "./secrets.js";

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
  const rows = await readDependencyChain(ctx.pool, { id: p.id, maxDepth: MAX_CHAIN_DEPTH });
  // For display: a command's secrets are masked (secrets.ts).
  const strip = ({ dir: _dir, ...link }: ChainLink & { dir: string }) => ({ ...link, command: maskSecrets(link.command) });
  return {
    upstream: rows.filter((r) => r.dir === "up").map(strip),
    downstream: rows.filter((r) => r.dir === "down").map(strip),
  };
}

function attemptRowFromPrisma(a: PrismaJobAttempt): AttemptRow {
  return {
    attempt: a.attempt,
    worker_id: a.workerId,
    started_at: a.startedAt,
    finished_at: a.finishedAt,
    exit_code: a.exitCode,
    error: maskSecrets(a.error),
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

/** How `list` orders jobs. */
export type JobSort = "created" | "run-order";
export const JOB_SORTS: readonly JobSort[] = ["created", "run-order"];

export interface ListJobsParams {
  /** created (default): newest first; run-order: highest priority, then earliest run_at, then enqueue order. */
  sort?: JobSort;
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
    // run-order: the order the claim takes runnable jobs in (claim.ts CLAIMED_ORDER).
    orderBy: p.sort === "run-order" ? [{ priority: "desc" }, { runAt: "asc" }, { seq: "asc" }] : [{ createdAt: "desc" }, { seq: "desc" }],
    skip: p.offset ?? 0,
    // One more than asked tells whether there is a next page without counting the table.
    take: limit + 1,
  });
  return { jobs: rows.slice(0, limit).map(jobRowFromPrisma), more: rows.length > limit };
}

export interface SearchJobsParams {
  state?: JobState;
  queue?: string;
  /** Matches a job whose id contains it, or whose command contains it (case-insensitive). */
  text: string;
  limit: number;
  offset: number;
}

/**
 * Jobs matching a search text, newest first, with the same paging as listJobs (one row more than asked
 * tells whether there is a next page). The text is matched literally: Prisma's `contains` becomes
 * LIKE '%text%' without escaping, so % _ and \ are escaped here (backslash is LIKE's default escape).
 */
export async function searchJobs(ctx: Pick<QueueContext, "prisma">, p: SearchJobsParams): Promise<JobPage> {
  const text = p.text.replace(/[\\%_]/g, (c) => `\\${c}`);
  const rows = await ctx.prisma.job.findMany({
    where: {
      state: p.state,
      queue: p.queue,
      OR: [{ id: { contains: text } }, { command: { contains: text, mode: "insensitive" } }],
    },
    orderBy: [{ createdAt: "desc" }, { seq: "desc" }],
    skip: p.offset,
    take: p.limit + 1,
  });
  return { jobs: rows.slice(0, p.limit).map(jobRowFromPrisma), more: rows.length > p.limit };
}
