/** Reading the workers table for `worker list`, `worker stop --wait`, `status` and the dashboard. */
import type pg from "pg";

export type WorkerState = "running" | "stopping" | "stopped" | "lost";

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  /** `lost`: the row says running but its heartbeat is older than two leases (killed, host gone). */
  state: WorkerState;
  concurrency: number;
  queues: string[];
  started_at: Date;
  heartbeat_at: Date;
  current_jobs: string[];
}

/**
 * Workers with the jobs they hold now. `all` includes stopped ones (otherwise only those that run, are
 * stopping, or vanished recently — within a day — so a crash stays visible).
 */
export async function listWorkers(db: pg.Pool, p: { leaseMs: number; all?: boolean }): Promise<WorkerInfo[]> {
  const res = await db.query<WorkerInfo>(
    `SELECT w.id, w.host, w.pid,
            CASE WHEN w.state IN ('running', 'stopping') AND w.heartbeat_at < now() - make_interval(secs => $1::float8 * 2 / 1000)
                 THEN 'lost' ELSE w.state END AS state,
            w.concurrency, coalesce(w.queues, '{}') AS queues, w.started_at, w.heartbeat_at,
            ARRAY(SELECT j.id FROM jobs j WHERE j.worker_id = w.id AND j.state = 'processing' ORDER BY j.started_at) AS current_jobs
     FROM workers w
     WHERE $2::boolean OR w.state IN ('running', 'stopping') AND w.heartbeat_at > now() - interval '1 day'
     ORDER BY w.started_at DESC, w.id`,
    [p.leaseMs, p.all === true],
  );
  return res.rows;
}

/** Live workers: running or stopping with a fresh heartbeat. */
export async function countLiveWorkers(db: pg.Pool, p: { leaseMs: number }): Promise<number> {
  const res = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM workers
     WHERE state IN ('running', 'stopping') AND heartbeat_at > now() - make_interval(secs => $1::float8 * 2 / 1000)`,
    [p.leaseMs],
  );
  return res.rows[0]?.n ?? 0;
}

/** Of the given workers, those that have not stopped yet (nor vanished). */
export async function workersStillRunning(db: pg.Pool, p: { ids: readonly string[]; leaseMs: number }): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `SELECT id FROM workers WHERE id = ANY($1::text[]) AND state <> 'stopped'
       AND heartbeat_at > now() - make_interval(secs => $2::float8 * 2 / 1000)`,
    [p.ids, p.leaseMs],
  );
  return res.rows.map((r) => r.id);
}
