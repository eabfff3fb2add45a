/**
 * Scale: 16 worker processes share 20 000 jobs; each job appends its own id to a file. Every id must
 * appear exactly once, every job end completed with one attempt, and the work be spread over the
 * workers. 16 x 20 000 took 268 s on a loaded 2-core machine (load average 25), more than the
 * test:faults budget, so CI runs 16 x 5000; QUEUECTL_ONCE_JOBS=20000 runs the full size.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../helpers/db.js";
import { countByState, enqueue, startWorkerProcess, waitFor } from "../helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-once16-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const WORKERS = 16;
const JOBS = Number(process.env.QUEUECTL_ONCE_JOBS ?? 5000);

describe("exactly once at scale", () => {
  it(`${WORKERS} worker processes x ${JOBS} jobs: each runs once`, async () => {
    const out = join(dir, "ran.txt");
    const workers = Array.from({ length: WORKERS }, () => startWorkerProcess(["--concurrency", "2"]));
    try {
      await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM workers WHERE state = 'running'")).rows[0].n === WORKERS, { timeoutMs: 60_000, what: `${WORKERS} workers` });
      const t0 = Date.now();
      await enqueue(db.pool, Array.from({ length: JOBS }, (_, i) => ({ id: `j-${i}`, command: `echo "$QUEUECTL_JOB_ID" >> ${out}` })));
      await waitFor(async () => (await countByState(db.pool)).completed === JOBS, { timeoutMs: Math.max(120_000, JOBS * 20), everyMs: 500, what: `${JOBS} completed jobs` });
      const seconds = (Date.now() - t0) / 1000;
      const lines = readFileSync(out, "utf8").trim().split("\n");
      const perWorker = await db.pool.query("SELECT worker_id, count(*)::int AS n FROM job_attempts GROUP BY worker_id ORDER BY n");
      console.log(`${WORKERS} workers x ${JOBS} jobs: ${seconds.toFixed(1)} s (${(JOBS / seconds).toFixed(0)} jobs/s); lines ${lines.length}, distinct ${new Set(lines).size}; per worker ${perWorker.rows.map((r) => r.n).join(",")}`);
      expect(lines.length).toBe(JOBS);
      expect(new Set(lines).size).toBe(JOBS);
      expect(await countByState(db.pool)).toEqual({ completed: JOBS });
      const attempts = await db.pool.query("SELECT count(*)::int AS n FROM job_attempts");
      expect(attempts.rows[0].n).toBe(JOBS);
      expect(perWorker.rows.length).toBe(WORKERS);
    } finally {
      for (const w of workers) w.child.kill("SIGTERM");
      expect(await Promise.all(workers.map((w) => w.exited))).toEqual(Array(WORKERS).fill(0));
    }
  });
});
