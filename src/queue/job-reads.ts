/**
 * Reading jobs as `show`, `list` and the dashboard present them: one job with its attempts and
 * dependency chain, a page of jobs (statements in sql/job-reads.ts, through pg: `show` and `list` must
 * answer near Node's own start-up, and loading Prisma Client costs ~0.5 s), and the dashboard's search
 * (through Prisma Client, whose filters build the dynamic WHERE; the dashboard loads it once).
 */
import type { Job as PrismaJob } from "../generated/prisma/client.js";
import { InvalidInputError, NotFoundError } from "../errors.js";
import type { QueueContext } from "./context.js";
import { quoteJobId } from "./job-spec.js";
import { JOB_STATES, type ChainLink, type JobRow, type JobState } from "./job.js";
import { readAttempts, readDependencyChain, readJob, readJobPage, type StoredAttempt } from "./sql/job-reads.js";
import { maskSecrets } from "./secrets.js";

/** One attempt of a job, as `show` prints it: as stored, its error masked (output: the captured tail; null while it runs). */
export type AttemptRow = StoredAttempt;

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

/**
 * One job with its attempt history and dependency chain. Throws NotFoundError for an unknown id. Three
 * plain reads: a job that changes between them shows its newer attempts or chain, never a broken one.
 */
export async function getJob(ctx: Pick<QueueContext, "pool">, p: { id: string }): Promise<JobDetail> {
  const job = await readJob(ctx.pool, p.id);
  if (!job) throw new NotFoundError(`no job ${quoteJobId(p.id)}`);
  // One after the other: at once, they would open a second connection (~17 ms) to save ~1 ms.
  const attempts = await readAttempts(ctx.pool, p.id);
  const chain = await jobChain(ctx, p);
  return { job, history: attempts.map((a) => ({ ...a, error: maskSecrets(a.error) })), ...chain };
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
export async function listJobs(ctx: Pick<QueueContext, "pool">, p: ListJobsParams = {}): Promise<JobPage> {
  const limit = p.limit ?? 20;
  // One more than asked tells whether there is a next page without counting the table.
  const rows = await readJobPage(ctx.pool, { state: p.state, queue: p.queue, sort: p.sort ?? "created", limit: limit + 1, offset: p.offset ?? 0 });
  return { jobs: rows.slice(0, limit), more: rows.length > limit };
}

/** Prisma's camelCase job as the snake_case JobRow the JSON contract and sql/ use. */
function jobRowFromPrisma(j: PrismaJob): JobRow {
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
    progress_pct: j.progressPct,
    progress_message: j.progressMessage,
    progress_at: j.progressAt,
  };
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
