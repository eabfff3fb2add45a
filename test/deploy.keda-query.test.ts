/**
 * The query KEDA's postgresql trigger runs (deploy/kubernetes/base/worker-scaledobject.yaml, read out
 * of the manifest so the two cannot drift) against a real database in the states a queue passes
 * through: it is the number of worker slots the queue can use now — jobs processing, plus jobs
 * runnable now (not scheduled for later, not waiting for a retry or a dependency, not in a paused
 * queue, at most a limited queue's free slots), plus schedules about to tick.
 */
import { describe, expect, it } from "vitest";
import { enqueueJobs } from "../src/queue/enqueue.js";
import type { JobSpec } from "../src/queue/job-spec.js";
import { setQueueConcurrency, setQueuePaused } from "../src/queue/queues.js";
import { claimLimitedJobs, completeAndClaimJobs } from "../src/queue/sql/claim.js";
import { useTestDatabase } from "./helpers/db.js";
import { baseObjects, HAVE_KUBECTL, kedaQuery } from "./helpers/kubernetes.js";

const db = useTestDatabase();
const LEASE_MS = 600_000;

let query: string | undefined;

async function wanted(): Promise<number> {
  query ??= kedaQuery(await baseObjects());
  const res = await db.pool.query(query);
  // KEDA reads one number from one row.
  expect(res.rows).toHaveLength(1);
  expect(res.fields).toHaveLength(1);
  expect(res.fields[0]!.dataTypeID).toBe(20); // int8
  return Number(Object.values(res.rows[0] as Record<string, unknown>)[0]);
}

const enqueue = (specs: JobSpec[]) => enqueueJobs(db, { specs });
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

/** Claims like a worker serving `queues` (every queue when empty), up to `limit` jobs. */
async function claim(queues: string[], limit: number): Promise<number> {
  const params = { workerId: "w-keda", queues, limit, leaseMs: LEASE_MS };
  const plain = await completeAndClaimJobs(db.pool, { ...params, completions: [] });
  const limited = await claimLimitedJobs(db.pool, params);
  return plain.claimed.length + limited.length;
}

describe(`KEDA's query (read from the ${HAVE_KUBECTL ? "rendered ScaledObject" : "ScaledObject's file: kubectl is not on PATH"})`, () => {
  it("counts the slots the queue can use now, state by state", async () => {
    expect(await wanted()).toBe(0);

    await enqueue([{ id: "now-1", command: "true" }, { id: "now-2", command: "true" }, { id: "now-3", command: "true" }]);
    expect(await wanted()).toBe(3);

    // Scheduled for later: not yet.
    await enqueue([{ id: "later-1", command: "true", run_at: inAnHour() }, { id: "later-2", command: "true", run_at: inAnHour() }]);
    expect(await wanted()).toBe(3);

    // Failed and waiting for its retry: not yet; failed with its retry due: yes. (What failJob leaves.)
    await enqueue([{ id: "retry-later", command: "false" }, { id: "retry-due", command: "false" }]);
    await db.pool.query(`UPDATE jobs SET state = 'failed', attempts = 1, last_attempt = 1, run_at = now() + interval '10 minutes' WHERE id = 'retry-later'`);
    await db.pool.query(`UPDATE jobs SET state = 'failed', attempts = 1, last_attempt = 1, run_at = now() - interval '1 second' WHERE id = 'retry-due'`);
    expect(await wanted()).toBe(4);

    // Processing: a worker slot holds it. A claim moves a job from runnable to processing: no change.
    await enqueue([{ id: "busy-1", command: "sleep 60", queue: "busy" }]);
    expect(await wanted()).toBe(5);
    expect(await claim(["busy"], 10)).toBe(1);
    expect(await wanted()).toBe(5);

    // Waiting for a dependency: not until it completed.
    await enqueue([{ id: "parent", command: "true", queue: "pipeline" }, { id: "child", command: "true", queue: "pipeline", depends_on: ["parent"] }]);
    expect(await wanted()).toBe(6);

    // A paused queue starts nothing, but its running job still holds a slot.
    await enqueue([{ id: "held-1", command: "true", queue: "held" }, { id: "held-2", command: "true", queue: "held" }, { id: "held-3", command: "true", queue: "held" }]);
    expect(await wanted()).toBe(9);
    expect(await claim(["held"], 1)).toBe(1);
    await setQueuePaused(db.pool, { name: "held", paused: true });
    expect(await wanted()).toBe(7);

    // A queue limited to 2 at once: 5 waiting jobs need 2 slots, before and after they are claimed.
    await setQueueConcurrency(db.pool, { name: "limited", limit: 2 });
    await enqueue(Array.from({ length: 5 }, (_, i) => ({ id: `limited-${i}`, command: "true", queue: "limited" })));
    expect(await wanted()).toBe(9);
    expect(await claim(["limited"], 10)).toBe(2);
    expect(await wanted()).toBe(9);
    // A limit lowered below what runs: the running jobs still count, nothing more starts.
    await setQueueConcurrency(db.pool, { name: "limited", limit: 1 });
    expect(await wanted()).toBe(9);
    await setQueueConcurrency(db.pool, { name: "limited", limit: null });
    expect(await wanted()).toBe(12);
    await setQueueConcurrency(db.pool, { name: "limited", limit: 2 });

    // Finished jobs need nothing.
    await enqueue([{ id: "done", command: "true" }, { id: "gone", command: "true" }, { id: "stopped", command: "true" }]);
    await db.pool.query(`UPDATE jobs SET state = 'completed', finished_at = now() WHERE id = 'done'`);
    await db.pool.query(`UPDATE jobs SET state = 'dead', finished_at = now() WHERE id = 'gone'`);
    await db.pool.query(`UPDATE jobs SET state = 'cancelled', finished_at = now() WHERE id = 'stopped'`);
    expect(await wanted()).toBe(9);

    // Schedules tick inside workers: one due within 2 minutes wants a worker up; later or paused ones do not.
    const schedule = (name: string, next: string, paused = false) =>
      db.pool.query(`INSERT INTO schedules (name, cron, job, next_run_at, paused) VALUES ($1, '0 3 * * *', '{"command":"true"}', ${next}, $2)`, [name, paused]);
    await schedule("soon", "now() + interval '90 seconds'");
    await schedule("overdue", "now() - interval '5 seconds'");
    await schedule("tonight", "now() + interval '1 hour'");
    await schedule("paused", "now() + interval '30 seconds'", true);
    expect(await wanted()).toBe(11);
  });

  it("what workers claim leaves it unchanged: it counts exactly the jobs they may take, and those they hold", async () => {
    const before = await wanted();
    const held = Number((await db.pool.query(`SELECT count(*) FROM jobs WHERE state = 'processing'`)).rows[0].count);
    const due = Number((await db.pool.query(`SELECT count(*) FROM schedules WHERE NOT paused AND next_run_at <= now() + interval '2 minutes'`)).rows[0].count);
    const claimed = await claim([], 1000);
    expect(held + claimed + due).toBe(before);
    expect(await wanted()).toBe(before);
    // And nothing was left that a worker could take.
    expect(await claim([], 1000)).toBe(0);
  });
});
