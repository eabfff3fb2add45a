/**
 * Statements for the workers table: registration, state changes and `worker stop`, and the reads of
 * `worker list`, `worker start` (waiting for spawned workers to register), `worker stop --wait`,
 * `status`, the dashboard and its metrics.
 *
 * A worker counts as alive while its heartbeat is fresher than two leases (2 x lease_ms): the same
 * rule in every read here and in `status` (sql/status.ts), so the numbers agree.
 */
import type { Queryable } from "../../db/queryable.js";
import { notifyControl } from "./control-messages.js";
import { readConnectionUse } from "./health.js";

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

export interface WorkerRegistration {
  id: string;
  host: string;
  pid: number;
  queues: readonly string[];
  concurrency: number;
}

/** Registers (or re-registers after a database restart) a worker row. */
export async function registerWorker(db: Queryable, w: WorkerRegistration): Promise<void> {
  await db.query(
    `INSERT INTO workers (id, host, pid, queues, concurrency, state)
     VALUES ($1, $2, $3, $4, $5, 'running')
     ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`,
    [w.id, w.host, w.pid, w.queues, w.concurrency],
  );
}

/** Records a worker's state change: `stopping` once it drains, `stopped` when it exits. */
export async function setWorkerState(db: Queryable, workerId: string, state: "running" | "stopping" | "stopped"): Promise<void> {
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
  db: Queryable,
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
     SELECT id FROM asked, LATERAL (SELECT ${notifyControl("stop", { worker: "asked.id" })}) n`,
    [p.ids, p.timeoutMs, p.staleAfterMs],
  );
  return res.rows.map((r) => r.id);
}

/**
 * How many more connections the server takes: max_connections less the superuser reserve and the
 * client connections open now (every role sees pg_stat_activity's rows, if not all their columns).
 */
export async function freeConnections(db: Queryable): Promise<{ free: number; max: number }> {
  const c = await readConnectionUse(db);
  return { free: Math.max(0, c.max_connections - c.reserved - c.in_use), max: c.max_connections };
}

/**
 * Workers with the jobs they hold now. `all` includes stopped ones (otherwise only those that run, are
 * stopping, or vanished recently — within a day — so a crash stays visible).
 */
export async function listWorkers(db: Queryable, p: { leaseMs: number; all?: boolean }): Promise<WorkerInfo[]> {
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
/** Live workers that take jobs from `queue` (they serve every queue, or name this one): `run` says when there is none. */
export async function countWorkersServing(db: Queryable, p: { queue: string; leaseMs: number }): Promise<number> {
  const res = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM workers
     WHERE state = 'running' AND heartbeat_at > now() - make_interval(secs => $2::float8 * 2 / 1000)
       AND (cardinality(queues) = 0 OR $1 = ANY(queues))`,
    [p.queue, p.leaseMs],
  );
  return res.rows[0]?.n ?? 0;
}

export async function countLiveWorkers(db: Queryable, p: { leaseMs: number }): Promise<number> {
  const res = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM workers
     WHERE state IN ('running', 'stopping') AND heartbeat_at > now() - make_interval(secs => $1::float8 * 2 / 1000)`,
    [p.leaseMs],
  );
  return res.rows[0]?.n ?? 0;
}

/** Of the given workers, those that have not stopped yet (nor vanished). */
export async function workersStillRunning(db: Queryable, p: { ids: readonly string[]; leaseMs: number }): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `SELECT id FROM workers WHERE id = ANY($1::text[]) AND state <> 'stopped'
       AND heartbeat_at > now() - make_interval(secs => $2::float8 * 2 / 1000)`,
    [p.ids, p.leaseMs],
  );
  return res.rows.map((r) => r.id);
}

/**
 * Of the processes `pids` on `host`, those whose worker has registered and is running: how
 * `worker start` knows the workers it spawned came up. Only pids are known before registration (each
 * worker picks its own id), and a pid is unique on its host while the process lives.
 */
export async function runningWorkerPids(db: Queryable, p: { host: string; pids: readonly number[] }): Promise<Set<number>> {
  const res = await db.query<{ pid: number }>(`SELECT pid FROM workers WHERE host = $1 AND pid = ANY($2::int[]) AND state = 'running'`, [p.host, p.pids]);
  return new Set(res.rows.map((r) => r.pid));
}
