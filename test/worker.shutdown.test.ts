/**
 * Stopping workers: SIGTERM and `worker stop` (through the database, as from another host) let the
 * running job finish; a second SIGTERM ends it and releases the job; jobs and history survive a
 * worker restart.
 */
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "./helpers/db.js";
import { queuectl } from "./helpers/cli.js";
import { countByState, enqueue, jobState, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();

describe("graceful shutdown", () => {
  it("SIGTERM lets the running job finish, then the worker exits", async () => {
    const w = startWorkerProcess();
    const [id, next] = await enqueue(db.pool, [{ id: "long", command: "sleep 1; echo done" }, { id: "next", command: "true", priority: -1 }]);
    await waitFor(async () => (await jobState(db.pool, id!))?.state === "processing", { what: "job running" });
    w.child.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    expect((await jobState(db.pool, id!))?.state).toBe("completed");
    // It took no new job after the signal.
    expect((await jobState(db.pool, next!))?.state).toBe("pending");
    const row = await db.pool.query("SELECT state FROM workers");
    expect(row.rows).toEqual([{ state: "stopped" }]);
  });

  it("`worker stop --wait` stops workers through the database and waits for their jobs", async () => {
    await db.pool.query("TRUNCATE jobs, job_attempts, dead_letters, workers CASCADE");
    const workers = [startWorkerProcess(), startWorkerProcess()];
    await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM workers WHERE state = 'running'")).rows[0].n === 2, { what: "2 workers" });
    await enqueue(db.pool, [{ id: "s1", command: "sleep 1" }, { id: "s2", command: "sleep 1" }]);
    await waitFor(async () => (await countByState(db.pool)).processing === 2, { what: "both running" });
    const res = await queuectl(["worker", "stop", "--wait"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("2 workers stopped");
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
    expect(await countByState(db.pool)).toEqual({ completed: 2 });
  });

  it("a second SIGTERM ends the running command and releases its job for another worker", async () => {
    await db.pool.query("TRUNCATE jobs, job_attempts, dead_letters, workers CASCADE");
    const w = startWorkerProcess();
    const [id] = await enqueue(db.pool, [{ id: "interrupted", command: "sleep 30" }]);
    await waitFor(async () => (await jobState(db.pool, id!))?.state === "processing", { what: "job running" });
    w.child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    w.child.kill("SIGTERM");
    expect(await w.exited).toBe(0);
    const job = await jobState(db.pool, id!);
    // Pending again, the interrupted attempt not counted against its retries.
    expect(job).toMatchObject({ state: "pending", attempts: 0 });
    expect(job?.last_error).toMatch(/released/);
  });

  it("jobs and their history survive a worker restart, and the new worker runs what is left", async () => {
    await db.pool.query("TRUNCATE jobs, job_attempts, dead_letters, workers CASCADE");
    await enqueue(db.pool, [{ id: "before", command: "echo one" }]);
    const first = startWorkerProcess(["--exit-when-idle"]);
    expect(await first.exited).toBe(0);
    await enqueue(db.pool, [{ id: "after", command: "echo two" }]);
    const second = startWorkerProcess(["--exit-when-idle"]);
    expect(await second.exited).toBe(0);
    expect(await countByState(db.pool)).toEqual({ completed: 2 });
    const outputs = await db.pool.query("SELECT job_id, output FROM job_attempts ORDER BY id");
    expect(outputs.rows).toEqual([{ job_id: "before", output: "one\n" }, { job_id: "after", output: "two\n" }]);
  });
});
