/** The statement behind `status` and the dashboard's overview: the queue's numbers at one moment. */
import type { Queryable } from "../../db/queryable.js";

/** The raw numbers of readQueueStatus; queue/status.ts fills in missing states and rounds. */
export interface QueueStatusRow {
  /** Jobs per state, only states that have jobs; null when there are no jobs at all. */
  counts: Record<string, number> | null;
  workers: number;
  dlq: number;
  avg_duration_ms: number | null;
  oldest_runnable_age_ms: number | null;
}

/** How many of the latest completed jobs `status` averages the duration over. */
export const RECENT_COMPLETED = 1000;

/**
 * Jobs per state, live workers (running or stopping with a heartbeat fresher than 2 x `leaseMs`, as in
 * sql/workers.ts countLiveWorkers), open DLQ entries, the mean duration of the latest RECENT_COMPLETED
 * completed jobs and the age of the oldest runnable job, in one statement so the numbers are one
 * snapshot and add up. The mean walks jobs_finished_idx from the newest end: over every completed job
 * it read the whole table (40 ms at 100 000 jobs) and told more about last month than about now.
 */
export async function readQueueStatus(db: Queryable, p: { leaseMs: number }): Promise<QueueStatusRow> {
  const res = await db.query<QueueStatusRow>(
    `SELECT
       (SELECT json_object_agg(state, n) FROM (SELECT state, count(*) AS n FROM jobs GROUP BY state) s) AS counts,
       (SELECT count(*) FROM workers
         WHERE state IN ('running', 'stopping') AND heartbeat_at > now() - make_interval(secs => 2 * $1::float8 / 1000)) AS workers,
       (SELECT count(*) FROM dead_letters WHERE retried_at IS NULL) AS dlq,
       (SELECT avg(duration_ms)::float8 FROM (
          SELECT duration_ms FROM jobs WHERE state IN ('completed', 'cancelled', 'dead') AND state = 'completed'
          ORDER BY finished_at DESC LIMIT ${RECENT_COMPLETED}) recent) AS avg_duration_ms,
       (SELECT (extract(epoch FROM now() - min(run_at)) * 1000)::float8 FROM jobs
         WHERE state IN ('pending', 'failed') AND run_at <= now() AND deps_pending = 0) AS oldest_runnable_age_ms`,
    [p.leaseMs],
  );
  return res.rows[0]!;
}
