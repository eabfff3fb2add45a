/**
 * Reads behind the dashboard's /metrics (dashboard/metrics.ts), run together in one read-only
 * REPEATABLE READ transaction per scrape so the numbers agree with each other (the jobs gauge comes
 * from sql/dashboard-reads.ts countJobsByQueueAndState). Plain reads: they take no locks.
 *
 * Cost: aggregateAttempts and countDeadLettered report totals over every row still stored (see
 * metrics.ts for why totals), so each scrape scans job_attempts and dead_letters: a few ms per 100k
 * attempts. Only a few aggregated rows come back.
 */
import type { Queryable } from "../../db/queryable.js";

/** Age of the oldest runnable job per queue (pending or failed, run_at passed, not waiting for dependencies), in seconds. */
export async function queueLagSeconds(db: Queryable): Promise<Array<{ queue: string; seconds: number }>> {
  const res = await db.query<{ queue: string; seconds: number }>(
    `SELECT queue, greatest(0, extract(epoch FROM now() - min(run_at)))::float8 AS seconds
     FROM jobs WHERE state IN ('pending', 'failed') AND run_at <= now() AND deps_pending = 0
     GROUP BY queue ORDER BY queue`,
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
export async function aggregateAttempts(db: Queryable): Promise<AttemptAggregate[]> {
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
  // The b<i> columns are this statement's own encoding of the histogram: decoded here, next to it.
  return res.rows.map((r) => ({
    queue: String(r.queue),
    outcome: r.outcome as AttemptAggregate["outcome"],
    count: Number(r.count),
    sum_s: Number(r.sum_s),
    buckets: DURATION_BUCKETS_S.map((_, i) => Number(r[`b${i}`])),
  }));
}

/** Jobs that ever entered the DLQ, per queue (retried entries included: a counter never goes down). */
export async function countDeadLettered(db: Queryable): Promise<Array<{ queue: string; count: number }>> {
  const res = await db.query<{ queue: string; count: number }>(
    `SELECT queue, count(*)::int AS count FROM dead_letters GROUP BY queue ORDER BY queue`,
  );
  return res.rows;
}

/** Jobs waiting in the DLQ now: entries not retried. */
export async function countOpenDeadLetters(db: Queryable): Promise<number> {
  const res = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM dead_letters WHERE retried_at IS NULL`);
  return res.rows[0]?.n ?? 0;
}
