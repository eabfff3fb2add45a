/**
 * `queuectl status`: counts and shares per state, live workers, DLQ size, average duration and the
 * oldest runnable job's age, as a table and as the JSON scripts read.
 */
import { describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue } from "./helpers/workers.js";

const db = useTestDatabase();

interface StatusJson {
  jobs: Record<string, number>;
  workers: number;
  dlq: number;
  avg_duration_ms: number | null;
  oldest_runnable_age_ms: number | null;
}

describe("status", () => {
  it("shows every state at zero on an empty queue", async () => {
    const s = await queuectlJson<StatusJson>(["status"]);
    expect(s).toEqual({
      jobs: { pending: 0, processing: 0, completed: 0, failed: 0, dead: 0, cancelled: 0 },
      workers: 0,
      dlq: 0,
      avg_duration_ms: null,
      oldest_runnable_age_ms: null,
    });
    const human = await queuectl(["status"]);
    expect(human.code).toBe(0);
    for (const state of ["pending", "processing", "completed", "failed", "dead", "cancelled"]) expect(human.stdout).toMatch(new RegExp(`^${state}\\s+0\\s`, "m"));
  });

  it("counts jobs per state, live workers only, open DLQ entries, and times", async () => {
    await enqueue(db.pool, Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, command: "true" })));
    await db.pool.query(`
      UPDATE jobs SET state = 'processing', worker_id = 'w-live', lease_expires_at = now() + interval '1 minute' WHERE id = 's0';
      UPDATE jobs SET state = 'completed', duration_ms = 100 WHERE id = 's1';
      UPDATE jobs SET state = 'completed', duration_ms = 200 WHERE id = 's2';
      UPDATE jobs SET state = 'completed', duration_ms = 600 WHERE id = 's3';
      UPDATE jobs SET state = 'failed', run_at = now() + interval '1 hour', priority = 5 WHERE id = 's4';
      UPDATE jobs SET state = 'dead' WHERE id IN ('s5', 's6');
      UPDATE jobs SET state = 'cancelled' WHERE id = 's7';
      -- s8, s9 stay pending; s8 has been due for a minute, s9 is not due yet. The oldest runnable job
      -- is found per priority: the higher ones (s9, s4) hold no due job.
      UPDATE jobs SET run_at = now() - interval '60 seconds' WHERE id = 's8';
      UPDATE jobs SET run_at = now() + interval '1 day', priority = 9 WHERE id = 's9';
      INSERT INTO dead_letters (job_id, queue, command, reason, attempts) VALUES ('s5', 'default', 'true', 'failed 4 attempts', 4);
      INSERT INTO dead_letters (job_id, queue, command, reason, attempts, retried_at) VALUES ('s6', 'default', 'true', 'failed 4 attempts', 4, now());
      INSERT INTO workers (id, host, pid, queues, concurrency, state, heartbeat_at) VALUES
        ('w-live', 'h', 1, '{}', 1, 'running', now()),
        ('w-draining', 'h', 2, '{}', 1, 'stopping', now()),
        ('w-vanished', 'h', 3, '{}', 1, 'running', now() - interval '10 minutes'),
        ('w-stopped', 'h', 4, '{}', 1, 'stopped', now());
    `);

    const s = await queuectlJson<StatusJson>(["status"]);
    expect(s.jobs).toEqual({ pending: 2, processing: 1, completed: 3, failed: 1, dead: 2, cancelled: 1 });
    // Live = running or stopping with a heartbeat within 2 x lease_ms (default 30 s).
    expect(s.workers).toBe(2);
    // s6's DLQ entry was retried already.
    expect(s.dlq).toBe(1);
    expect(s.avg_duration_ms).toBe(300);
    expect(s.oldest_runnable_age_ms).toBeGreaterThanOrEqual(60_000);
    expect(s.oldest_runnable_age_ms).toBeLessThan(90_000);

    const human = await queuectl(["status"]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^completed\s+3\s+30\.0%/m);
    expect(human.stdout).toMatch(/^cancelled\s+1\s+10\.0%/m);
    expect(human.stdout).toMatch(/^total\s+10\s/m);
    expect(human.stdout).toMatch(/^active workers\s+2$/m);
    expect(human.stdout).toMatch(/^dead letter queue\s+1 job$/m);
    expect(human.stdout).toMatch(/^average duration\s+300ms$/m);
    expect(human.stdout).toMatch(/^oldest runnable job\s+waiting 1m0\ds$/m);
  });

  it("counts a worker as gone once its heartbeat is older than 2 x lease_ms", async () => {
    await db.pool.query(`
      UPDATE workers SET heartbeat_at = now() - interval '30 seconds' WHERE id = 'w-live';
      UPDATE workers SET heartbeat_at = now() WHERE id = 'w-draining';
    `);
    expect((await queuectlJson<StatusJson>(["status"])).workers).toBe(2);
    await queuectl(["config", "set", "lease_ms", "5000"]);
    expect((await queuectlJson<StatusJson>(["status"])).workers).toBe(1);
  });
});
