/**
 * Reads only the dashboard's pages need, beside the queue's own (status, job reads, DLQ). None is on
 * the hot path: they run when a page polls (every few seconds per open tab), and all are plain reads
 * that take no locks, so they never hold up a worker.
 */
import type { Queryable } from "../../db/queryable.js";
import type { JobState } from "../job.js";

/** Job counts per (queue, state); only pairs that have jobs. */
export interface QueueStateCount {
  queue: string;
  state: JobState;
  count: number;
}

/**
 * One GROUP BY over the (state, queue) index: the per-queue table of the overview, and the jobs gauge
 * of /metrics (sql/metrics-reads.ts reads the rest of a scrape in the same snapshot).
 */
export async function countJobsByQueueAndState(db: Queryable): Promise<QueueStateCount[]> {
  const res = await db.query<QueueStateCount>(
    `SELECT queue, state::text AS state, count(*)::int AS count FROM jobs GROUP BY queue, state ORDER BY queue, state`,
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
 * per minute including empty ones, the current (partial) minute last. The range condition on
 * finished_at can use job_attempts' finished_at index, so the cost follows the attempts of the window,
 * not the size of the history.
 */
export async function throughputByMinute(db: Queryable, p: { minutes?: number } = {}): Promise<ThroughputMinute[]> {
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

/**
 * Distinct queue names (for the jobs page filter). A plain DISTINCT reads every row; this walks the
 * (state, queue) index instead, one index probe per (state, queue) pair (a "loose index scan"), so it
 * stays fast with millions of finished jobs.
 */
export async function listQueueNames(db: Queryable): Promise<string[]> {
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

/** The database clock: ages (heartbeats, lag) are judged by it, not by the browser's clock. */
export async function databaseNow(db: Queryable): Promise<Date> {
  const res = await db.query<{ now: Date }>("SELECT now() AS now");
  return res.rows[0]!.now;
}
