/**
 * Known data for the dashboard tests, written through the queue's own statements (enqueue, claim,
 * complete, fail, register worker) so the dashboard reads what real workers write.
 */
import type pg from "pg";
import type { QueueContext } from "../../src/queue/context.js";
import { enqueueJobs } from "../../src/queue/enqueue.js";

import { failJob } from "../../src/queue/sql/outcomes.js";
import { registerWorker } from "../../src/queue/sql/workers.js";
import { claimJobs, completeJob } from "./queue.js";

export const WORKER_ID = "web-1-4242";

/** What seedDashboardData wrote, for assertions. */
export const SEED = {
  completed: ["ok-1", "ok-2", "ok-3"],
  dead: ["dead-1", "dead-2"],
  pending: ["pending-1", "pending-2"],
  processing: ["running-1"],
  queues: ["default", "emails"],
};

async function runOne(
  ctx: QueueContext,
  p: { id: string; command: string; queue?: string; maxRetries?: number; outcome: "complete" | "fail" | "hold"; output?: string; exitCode?: number },
): Promise<void> {
  const queue = p.queue ?? "default";
  await enqueueJobs(ctx, { specs: [{ id: p.id, command: p.command, queue, max_retries: p.maxRetries ?? 0 }] });
  const [claimed] = await claimJobs(ctx.pool, { workerId: WORKER_ID, queues: [queue], limit: 1, leaseMs: 600_000 });
  if (!claimed || claimed.id !== p.id) throw new Error(`seed: expected to claim ${p.id}, got ${claimed?.id}`);
  const outcome = { jobId: p.id, workerId: WORKER_ID, attempt: claimed.attempt, exitCode: p.exitCode ?? 0, output: p.output ?? "", durationMs: 120 };
  if (p.outcome === "complete") await completeJob(ctx.pool, outcome);
  if (p.outcome === "fail") {
    await failJob(ctx.pool, { ...outcome, error: `exit code ${p.exitCode ?? 1}`, backoffBase: 2, backoffMaxS: 3600 });
  }
}

/**
 * 3 completed jobs (2 in `default`, 1 in `emails`), 2 dead ones (in the DLQ), 1 processing on a live
 * worker, 2 pending (one due now, one scheduled in an hour), and one running worker.
 */
export async function seedDashboardData(ctx: QueueContext): Promise<void> {
  await registerWorker(ctx.pool, { id: WORKER_ID, host: "web-1", pid: 4242, queues: ["default", "emails"], concurrency: 2 });
  await runOne(ctx, { id: "ok-1", command: "echo hello from ok-1", outcome: "complete", output: "hello from ok-1\n" });
  await runOne(ctx, { id: "ok-2", command: "backup --db main", outcome: "complete", output: "dumped 42 tables\n" });
  await runOne(ctx, { id: "ok-3", command: "send-mail --to ops", queue: "emails", outcome: "complete", output: "sent\n" });
  await runOne(ctx, { id: "dead-1", command: "false && echo never", outcome: "fail", exitCode: 3, output: "boom: disk full\n" });
  await runOne(ctx, { id: "dead-2", command: "send-mail --to nobody", queue: "emails", outcome: "fail", exitCode: 7, output: "550 no such user\n" });
  await runOne(ctx, { id: "running-1", command: "sleep 600", outcome: "hold" });
  await enqueueJobs(ctx, {
    specs: [
      { id: "pending-1", command: "echo waiting", queue: "default", max_retries: 2 },
      { id: "pending-2", command: "echo later", queue: "emails", run_at: new Date(Date.now() + 3_600_000).toISOString() },
    ],
  });
}

/** A job's state straight from the table. */
export async function stateOf(pool: pg.Pool, id: string): Promise<string | undefined> {
  const res = await pool.query<{ state: string }>("SELECT state::text AS state FROM jobs WHERE id = $1", [id]);
  return res.rows[0]?.state;
}

/**
 * An hour of finished work in queue `reports` (for the throughput chart): `count` completed jobs
 * finished at spread-out minutes of the last hour; every seventh one failed once before succeeding.
 * Written with SQL because the queue's statements always use the current time.
 */
export async function seedHistory(pool: pg.Pool, count = 120): Promise<void> {
  await pool.query(
    `WITH j AS (
       INSERT INTO jobs (id, queue, command, state, attempts, max_retries, run_at, created_at, updated_at, started_at, finished_at, worker_id, exit_code, duration_ms)
       SELECT 'report-' || i, 'reports', 'make-report --day ' || i, 'completed', CASE WHEN i % 7 = 0 THEN 2 ELSE 1 END, 3,
              t - interval '2 seconds', t - interval '2 seconds', t, t - make_interval(secs => 0.2 + (i % 9) * 0.35), t, $2, 0,
              ((0.2 + (i % 9) * 0.35) * 1000)::int
       FROM generate_series(1, $1::int) AS i,
            LATERAL (SELECT now() - make_interval(mins => (i * 7919) % 59, secs => (i * 13) % 60) AS t) AS tt
       RETURNING id, attempts, started_at, finished_at, worker_id
     )
     INSERT INTO job_attempts (job_id, attempt, worker_id, started_at, finished_at, exit_code, error, output)
     SELECT id, attempts, worker_id, started_at, finished_at, 0, NULL, 'report written' FROM j
     UNION ALL
     SELECT id, 1, worker_id, started_at - interval '30 seconds', finished_at - interval '30 seconds', 1, 'exit code 1', 'temporary failure'
     FROM j WHERE attempts = 2`,
    [count, WORKER_ID],
  );
}
