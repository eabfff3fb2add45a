/**
 * The job lifecycle as a user sees it: retries wait backoff_base ^ n seconds, a job dies after exactly
 * max_retries + 1 attempts and lands in the DLQ, `dlq retry` runs it again, higher priority runs
 * first, and a job scheduled in the future does not run early.
 */
import { afterEach, describe, expect, it } from "vitest";
import { setConfigValue } from "../src/queue/config.js";
import { retryDeadJobs } from "../src/queue/sql/dlq.js";
import type { Worker } from "../src/worker/worker.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, jobState, startInProcessWorker, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
let worker: Worker | undefined;
afterEach(async () => {
  worker?.requestStop("test done");
  await worker?.finished();
  worker = undefined;
  await db.pool.query("TRUNCATE jobs, job_attempts, dead_letters, workers, config CASCADE");
});

async function history(id: string) {
  const res = await db.pool.query<{ attempt: number; started_at: Date; finished_at: Date; exit_code: number | null; error: string | null; output: string }>(
    "SELECT attempt, started_at, finished_at, exit_code, error, output FROM job_attempts WHERE job_id = $1 ORDER BY id",
    [id],
  );
  return res.rows;
}

describe("retries and the DLQ", () => {
  it("waits backoff_base ^ n seconds between attempts and dies after max_retries + 1 attempts", async () => {
    await setConfigValue(db.pool, "backoff_base", "2");
    worker = await startInProcessWorker(db);
    const [id] = await enqueue(db.pool, [{ id: "flaky", command: "echo attempt $QUEUECTL_ATTEMPT; exit 7", max_retries: 2 }]);
    await waitFor(async () => (await jobState(db.pool, id!))?.state === "dead", { timeoutMs: 15_000, what: "job dead" });

    const rows = await history(id!);
    expect(rows.map((r) => r.attempt)).toEqual([1, 2, 3]);
    expect(rows.every((r) => r.exit_code === 7 && r.error === "exit code 7")).toBe(true);
    expect(rows[2]!.output).toContain("attempt 3");
    // Gap from the end of attempt n to the start of attempt n+1: 2^1 = 2 s, then 2^2 = 4 s.
    const gap1 = rows[1]!.started_at.getTime() - rows[0]!.finished_at.getTime();
    const gap2 = rows[2]!.started_at.getTime() - rows[1]!.finished_at.getTime();
    expect(gap1).toBeGreaterThanOrEqual(1950);
    // Upper bounds leave room for a loaded machine; they still tell 2 s from 4 s (and from base 3's 3 s).
    expect(gap1).toBeLessThan(2900);
    expect(gap2).toBeGreaterThanOrEqual(3950);
    expect(gap2).toBeLessThan(4900);

    const dlq = await db.pool.query("SELECT job_id, attempts, last_error FROM dead_letters WHERE retried_at IS NULL");
    expect(dlq.rows).toEqual([{ job_id: "flaky", attempts: 3, last_error: "exit code 7" }]);
  });

  it("caps the delay at backoff_max_s and runs a job again after dlq retry", async () => {
    await setConfigValue(db.pool, "backoff_base", "10");
    await setConfigValue(db.pool, "backoff_max_s", "1");
    worker = await startInProcessWorker(db);
    const [id] = await enqueue(db.pool, [{ id: "capped", command: "exit 1", max_retries: 1 }]);
    await waitFor(async () => (await jobState(db.pool, id!))?.state === "dead", { timeoutMs: 8000, what: "job dead" });
    const rows = await history(id!);
    const gap = rows[1]!.started_at.getTime() - rows[0]!.finished_at.getTime();
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(1900);

    // Fix the command's environment and send it back: a fresh retry budget, the DLQ entry closed.
    expect(await retryDeadJobs(db.pool, [id!])).toEqual([id]);
    await waitFor(async () => (await jobState(db.pool, id!))?.state === "dead", { timeoutMs: 8000, what: "job dead again" });
    expect((await history(id!)).length).toBe(4);
    const open = await db.pool.query("SELECT count(*)::int AS n FROM dead_letters WHERE retried_at IS NULL");
    expect(open.rows[0].n).toBe(1);
  });

  it("treats a command that cannot be found as a failed attempt", async () => {
    worker = await startInProcessWorker(db);
    const [id] = await enqueue(db.pool, [{ command: "definitely-not-a-command-xyz", max_retries: 0 }]);
    await waitFor(async () => (await jobState(db.pool, id!))?.state === "dead", { what: "job dead" });
    const [attempt] = await history(id!);
    expect(attempt!.exit_code).toBe(127);
    expect(attempt!.error).toBe("exit code 127 (command not found)");
    expect(attempt!.output).toContain("not found");
  });
});

describe("ordering", () => {
  it("runs higher priority first, then earlier run_at, then enqueue order", async () => {
    await enqueue(db.pool, [
      { id: "low", command: "true", priority: -5 },
      { id: "mid-1", command: "true" },
      { id: "high", command: "true", priority: 10 },
      { id: "mid-2", command: "true" },
      { id: "mid-earlier", command: "true", run_at: new Date(Date.now() - 60_000).toISOString() },
    ]);
    worker = await startInProcessWorker(db, { concurrency: 1 });
    await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE state = 'completed'")).rows[0].n === 5, { what: "all done" });
    // Jobs claimed by one statement (the worker claims ahead) share started_at; the attempt ids keep their order.
    const order = await db.pool.query<{ id: string }>("SELECT a.job_id AS id FROM job_attempts a ORDER BY a.started_at, a.id");
    expect(order.rows.map((r) => r.id)).toEqual(["high", "mid-earlier", "mid-1", "mid-2", "low"]);
  });

  it("does not run a job before its run_at, and runs it promptly once due", async () => {
    worker = await startInProcessWorker(db);
    const runAt = new Date(Date.now() + 1500);
    const [id] = await enqueue(db.pool, [{ command: "true", run_at: runAt.toISOString() }]);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await jobState(db.pool, id!))?.state).toBe("pending");
    await waitFor(async () => (await jobState(db.pool, id!))?.state === "completed", { what: "scheduled job done" });
    const [attempt] = await history(id!);
    expect(attempt!.started_at.getTime()).toBeGreaterThanOrEqual(runAt.getTime());
    // The idle worker sleeps until the job is due instead of waiting for its next poll (1 s).
    expect(attempt!.started_at.getTime() - runAt.getTime()).toBeLessThan(800);
  });
});
