/**
 * Reads only the dashboard needs, beside the queue's own (src/queue/jobs.ts: getJob, listJobs,
 * queueStatus, listDeadLetters, retryDead). None of these is on the hot path: they run when a page
 * polls (every few seconds per open tab) or when Prometheus scrapes.
 *
 * Cost note: job_attempts has no index on finished_at, so the throughput and attempt aggregates scan
 * that table. That is a few ms per 100k attempts; an index on job_attempts(finished_at) would make the
 * throughput chart independent of history size (see the dashboard issue's notes).
 */
import type pg from "pg";
import type { JobState } from "../queue/job.js";
import { jobRowFromPrisma, type JobPage, type QueueContext } from "../queue/jobs.js";

type Db = pg.Pool | pg.PoolClient;

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

/** Job counts per (queue, state); only pairs that have jobs. */
export interface QueueStateCount {
  queue: string;
  state: JobState;
  count: number;
}

/** One GROUP BY over the (state, queue) index: the per-queue table of the overview and the jobs gauge. */
export async function countJobsByQueueAndState(db: Db): Promise<QueueStateCount[]> {
  const res = await db.query<QueueStateCount>(
    `SELECT queue, state::text AS state, count(*)::int AS count FROM jobs GROUP BY queue, state ORDER BY queue, state`,
  );
  return res.rows;
}

/** Age of the oldest runnable job per queue (pending or failed, run_at passed, not waiting for dependencies), in seconds. */
export async function queueLagSeconds(db: Db): Promise<Array<{ queue: string; seconds: number }>> {
  const res = await db.query<{ queue: string; seconds: number }>(
    `SELECT queue, greatest(0, extract(epoch FROM now() - min(run_at)))::float8 AS seconds
     FROM jobs WHERE state IN ('pending', 'failed') AND run_at <= now() AND deps_pending = 0
     GROUP BY queue ORDER BY queue`,
  );
  return res.rows;
}

/** Finished attempts in one minute of the throughput chart. */
export interface ThroughputMinute {
  /** Start of the minute (database clock). */
  at: Date;
  /** Attempts that ended without an error (the job completed). */
  completed: number;
  /** Attempts that ended with an error: non-zero exit, timeout, lease expired, released on shutdown. */
  failed: number;
}

/**
 * Finished attempts per minute over the last `minutes` minutes (default 60), oldest first, one entry
 * per minute including empty ones, the current (partial) minute last.
 */
export async function throughputByMinute(db: Db, p: { minutes?: number } = {}): Promise<ThroughputMinute[]> {
  const minutes = p.minutes ?? 60;
  const res = await db.query<ThroughputMinute>(
    `WITH slots AS (
       SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => $1::int - 1),
                              date_trunc('minute', now()), interval '1 minute') AS at
     ), finished AS (
       SELECT date_trunc('minute', finished_at) AS at,
              count(*) FILTER (WHERE error IS NULL)::int AS completed,
              count(*) FILTER (WHERE error IS NOT NULL)::int AS failed
       FROM job_attempts
       WHERE finished_at >= date_trunc('minute', now()) - make_interval(mins => $1::int - 1)
       GROUP BY 1
     )
     SELECT s.at, coalesce(f.completed, 0) AS completed, coalesce(f.failed, 0) AS failed
     FROM slots s LEFT JOIN finished f USING (at) ORDER BY s.at`,
    [minutes],
  );
  return res.rows;
}

/** Upper bounds of the attempt duration histogram, in seconds (shell commands: 10 ms to an hour). */
export const DURATION_BUCKETS_S: readonly number[] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** Finished attempts of one queue and outcome: totals and the cumulative duration histogram. */
export interface AttemptAggregate {
  queue: string;
  outcome: "completed" | "failed";
  count: number;
  /** Sum of durations in seconds. */
  sum_s: number;
  /** Cumulative counts: buckets[i] = attempts that took at most DURATION_BUCKETS_S[i] seconds. */
  buckets: number[];
}

// The bounds are constants of this module, so writing them into the SQL text is safe; one FILTER
// column per bound lets PostgreSQL build the whole histogram in a single scan.
const bucketColumns = DURATION_BUCKETS_S.map((b, i) => {
  if (!Number.isFinite(b)) throw new Error("histogram bounds must be finite numbers");
  return `count(*) FILTER (WHERE d <= ${b})::int AS b${i}`;
}).join(",\n              ");

/**
 * Every finished attempt ever recorded, per queue and outcome, with its duration histogram (duration =
 * finished_at - started_at of the attempt). Totals over the table, not deltas: see metrics.ts.
 */
export async function aggregateAttempts(db: Db): Promise<AttemptAggregate[]> {
  const res = await db.query<Record<string, unknown>>(
    `SELECT queue, outcome, count(*)::int AS count, coalesce(sum(d), 0)::float8 AS sum_s,
              ${bucketColumns}
     FROM (
       SELECT j.queue, CASE WHEN a.error IS NULL THEN 'completed' ELSE 'failed' END AS outcome,
              greatest(0, extract(epoch FROM a.finished_at - a.started_at))::float8 AS d
       FROM job_attempts a JOIN jobs j ON j.id = a.job_id
       WHERE a.finished_at IS NOT NULL
     ) t
     GROUP BY queue, outcome ORDER BY queue, outcome`,
  );
  return res.rows.map((r) => ({
    queue: String(r.queue),
    outcome: r.outcome as AttemptAggregate["outcome"],
    count: Number(r.count),
    sum_s: Number(r.sum_s),
    buckets: DURATION_BUCKETS_S.map((_, i) => Number(r[`b${i}`])),
  }));
}

/** Jobs that ever entered the DLQ, per queue (retried entries included: a counter never goes down). */
export async function countDeadLettered(db: Db): Promise<Array<{ queue: string; count: number }>> {
  const res = await db.query<{ queue: string; count: number }>(
    `SELECT queue, count(*)::int AS count FROM dead_letters GROUP BY queue ORDER BY queue`,
  );
  return res.rows;
}

/**
 * Distinct queue names (for the jobs page filter). A plain DISTINCT reads every row; this walks the
 * (state, queue) index instead, one index probe per (state, queue) pair (a "loose index scan"), so it
 * stays fast with millions of finished jobs.
 */
export async function listQueueNames(db: Db): Promise<string[]> {
  const res = await db.query<{ queue: string }>(
    `WITH RECURSIVE walk AS (
       SELECT s.state, (SELECT min(queue) FROM jobs WHERE state = s.state) AS queue
       FROM unnest(enum_range(NULL::job_state)) AS s(state)
       UNION ALL
       SELECT w.state, (SELECT min(queue) FROM jobs WHERE state = w.state AND queue > w.queue)
       FROM walk w WHERE w.queue IS NOT NULL
     )
     SELECT DISTINCT queue FROM walk WHERE queue IS NOT NULL ORDER BY queue LIMIT 1000`,
  );
  return res.rows.map((r) => r.queue);
}

/** The dead-letter entry of a job that is in the DLQ now (not retried), for the job page. */
export async function openDeadLetter(
  ctx: Pick<QueueContext, "prisma">,
  p: { jobId: string },
): Promise<{ reason: string; last_error: string | null; failed_at: Date } | null> {
  const d = await ctx.prisma.deadLetter.findFirst({
    where: { jobId: p.jobId, retriedAt: null },
    orderBy: { failedAt: "desc" },
  });
  return d ? { reason: d.reason, last_error: d.lastError, failed_at: d.failedAt } : null;
}

/** The database clock: ages (heartbeats, lag) are judged by it, not by the browser's clock. */
export async function databaseNow(db: Db): Promise<Date> {
  const res = await db.query<{ now: Date }>("SELECT now() AS now");
  return res.rows[0]!.now;
}
