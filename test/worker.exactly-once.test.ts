/**
 * Never two workers on one job: 4 worker processes share 1000 jobs, each job appends its own id to a
 * file; every id must appear exactly once, and every job must end completed with one attempt.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { claimJobs } from "../src/queue/sql.js";
import { useTestDatabase } from "./helpers/db.js";
import { countByState, enqueue, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-once-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("claiming", () => {
  it("4 worker processes x 1000 jobs run every job exactly once", async () => {
    const out = join(dir, "ran.txt");
    const specs = Array.from({ length: 1000 }, (_, i) => ({ id: `once-${i}`, command: `echo "$QUEUECTL_JOB_ID" >> ${out}` }));
    const workers = Array.from({ length: 4 }, () => startWorkerProcess(["--concurrency", "2"]));
    // Let them all be idle and listening first, so the claim race is real.
    await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM workers WHERE state = 'running'")).rows[0].n === 4, { what: "4 workers" });
    await enqueue(db.pool, specs);
    await waitFor(async () => (await countByState(db.pool)).completed === 1000, { timeoutMs: 45_000, what: "1000 completed jobs" });
    for (const w of workers) w.child.kill("SIGTERM");
    const codes = await Promise.all(workers.map((w) => w.exited));
    expect(codes).toEqual([0, 0, 0, 0]);

    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines.length).toBe(1000);
    expect(new Set(lines).size).toBe(1000);
    expect(await countByState(db.pool)).toEqual({ completed: 1000 });
    const attempts = await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT worker_id)::int AS workers FROM job_attempts");
    expect(attempts.rows[0].n).toBe(1000);
    // The work was shared, not done by one process.
    expect(attempts.rows[0].workers).toBeGreaterThan(1);
  });

  it("concurrent claims on one database never return the same job twice", async () => {
    await enqueue(db.pool, Array.from({ length: 300 }, (_, i) => ({ id: `race-${i}`, command: "true" })));
    const claimers = Array.from({ length: 12 }, (_, i) => (async () => {
      const got: string[] = [];
      for (;;) {
        const jobs = await claimJobs(db.pool, { workerId: `w${i}`, queues: [], limit: 3, leaseMs: 60_000 });
        if (jobs.length === 0) return got;
        got.push(...jobs.map((j) => j.id));
      }
    })());
    const all = (await Promise.all(claimers)).flat();
    expect(all.length).toBe(300);
    expect(new Set(all).size).toBe(300);
  });
});
