/**
 * Named queues across workers: a concurrency limit holds across every worker process (and under a
 * raw claim race), a paused queue is not claimed while its running job finishes, and `queue list`
 * reports pending, running, limit and pause per queue.
 */
import { describe, expect, it } from "vitest";
import { claimLimitedJobs } from "../src/queue/sql/claim.js";

import { setQueueSettings } from "../src/queue/sql/queues.js";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, jobState, startWorkerProcess, waitFor } from "./helpers/workers.js";
import { claimJobs, completeJob } from "./helpers/queue.js";

const db = useTestDatabase();

async function runningIn(queue: string): Promise<number> {
  const res = await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE queue = $1 AND state = 'processing'", [queue]);
  return res.rows[0].n;
}

describe("queue concurrency limit", () => {
  it("12 simultaneous claimers never take more than the limit of 2, however often they race", async () => {
    await setQueueSettings(db.pool, { name: "race", concurrencyLimit: 2 });
    await enqueue(db.pool, Array.from({ length: 30 }, (_, i) => ({ id: `race-${i}`, command: "true", queue: "race" })));
    for (let round = 0; round < 10; round++) {
      const claims = await Promise.all(
        Array.from({ length: 12 }, (_, w) => claimLimitedJobs(db.pool, { workerId: `w${w}`, queues: [], limit: 3, leaseMs: 60_000 })),
      );
      expect(await runningIn("race")).toBe(2);
      // The plain claim never touches a limited queue.
      expect(await claimJobs(db.pool, { workerId: "plain", queues: [], limit: 10, leaseMs: 60_000 })).toEqual([]);
      // Finish one of the two: the next race may take exactly one.
      const held = claims.flatMap((c, w) => c.map((j) => ({ j, w })));
      const { j, w } = held[0]!;
      expect(await completeJob(db.pool, { jobId: j.id, workerId: `w${w}`, attempt: j.attempts, exitCode: 0, output: "", durationMs: 1 })).not.toBeNull();
      expect(await runningIn("race")).toBe(1);
    }
  });

  it("4 worker processes on a queue limited to 2 never run more than 2 of its jobs at once (sampled every 20 ms)", async () => {
    await queuectl(["queue", "set-concurrency", "limited", "2"]);
    const workers = Array.from({ length: 4 }, () => startWorkerProcess(["--concurrency", "2", "--queue", "limited", "--queue", "free"]));
    await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM workers WHERE state = 'running'")).rows[0].n === 4, { what: "4 workers" });
    await enqueue(db.pool, [
      ...Array.from({ length: 12 }, (_, i) => ({ id: `lim-${i}`, command: "sleep 0.3", queue: "limited" })),
      ...Array.from({ length: 8 }, (_, i) => ({ id: `free-${i}`, command: "sleep 0.3", queue: "free" })),
    ]);
    const samples: number[] = [];
    let freeMax = 0;
    while (true) {
      const res = await db.pool.query(
        `SELECT count(*) FILTER (WHERE queue = 'limited' AND state = 'processing')::int AS lim,
                count(*) FILTER (WHERE queue = 'free' AND state = 'processing')::int AS free,
                count(*) FILTER (WHERE state <> 'completed')::int AS left
         FROM jobs WHERE queue IN ('limited', 'free')`,
      );
      samples.push(res.rows[0].lim);
      freeMax = Math.max(freeMax, res.rows[0].free);
      if (res.rows[0].left === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    console.log(`limit 2: ${samples.length} samples, max ${Math.max(...samples)}, samples at 2: ${samples.filter((n) => n === 2).length}; unlimited queue peaked at ${freeMax}`);
    expect(Math.max(...samples)).toBe(2);
    expect(samples.length).toBeGreaterThan(20);
    // The other queue is not held back by the limit.
    expect(freeMax).toBeGreaterThan(2);
    const attempts = await db.pool.query("SELECT count(DISTINCT worker_id)::int AS n FROM job_attempts WHERE job_id LIKE 'lim-%'");
    expect(attempts.rows[0].n).toBeGreaterThan(1);
  });

  it("refuses a bad limit or queue name with exit 2 and changes nothing", async () => {
    const before = (await db.pool.query("SELECT * FROM queues ORDER BY name")).rows;
    for (const args of [["limited", "0"], ["limited", "-1"], ["limited", "two"], ["bad name", "2"]]) {
      const res = await queuectl(["queue", "set-concurrency", ...args]);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr.split("\n")).toHaveLength(1);
    }
    expect((await db.pool.query("SELECT * FROM queues ORDER BY name")).rows).toEqual(before);
    expect(await queuectl(["queue", "set-concurrency", "limited", "none"])).toMatchObject({ code: 0, stdout: "queue 'limited': no concurrency limit" });
  });
});

describe("queue pause and resume", () => {
  it("a paused queue is not claimed, its running job finishes, and resume runs the rest", async () => {
    await enqueue(db.pool, [{ id: "p-running", command: "sleep 1", queue: "pq" }]);
    const worker = startWorkerProcess(["--queue", "pq", "--concurrency", "2"]);
    await waitFor(async () => (await jobState(db.pool, "p-running"))?.state === "processing", { what: "p-running to start" });
    expect(await queuectl(["queue", "pause", "pq"])).toMatchObject({ code: 0, stdout: "queue 'pq' paused: no new jobs start, running ones finish" });
    await enqueue(db.pool, [{ id: "p-waiting", command: "true", queue: "pq" }]);
    await waitFor(async () => (await jobState(db.pool, "p-running"))?.state === "completed", { what: "the running job to finish" });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await jobState(db.pool, "p-waiting"))?.state).toBe("pending");
    const listed = await queuectlJson<Array<Record<string, unknown>>>(["queue", "list"]);
    expect(listed.find((q) => q.name === "pq")).toEqual({ name: "pq", pending: 1, running: 0, concurrency_limit: null, paused: true });

    expect(await queuectl(["queue", "resume", "pq"])).toMatchObject({ code: 0, stdout: "queue 'pq' resumed" });
    await waitFor(async () => (await jobState(db.pool, "p-waiting"))?.state === "completed", { timeoutMs: 10_000, what: "p-waiting after resume" });
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
  });

  it("queue list shows each queue with unfinished jobs or a setting", async () => {
    await enqueue(db.pool, [{ id: "ql-1", command: "true", queue: "listed" }, { id: "ql-2", command: "true", queue: "listed" }]);
    await queuectl(["queue", "set-concurrency", "listed", "3"]);
    const listed = await queuectlJson<Array<Record<string, unknown>>>(["queue", "list"]);
    expect(listed.find((q) => q.name === "listed")).toEqual({ name: "listed", pending: 2, running: 0, concurrency_limit: 3, paused: false });
    const human = await queuectl(["queue", "list"]);
    expect(human.stdout).toMatch(/^queue\s+pending\s+running\s+limit\s+paused/);
    expect(human.stdout).toMatch(/^listed\s+2\s+0\s+3\s+no/m);
  });
});
