/**
 * Unique jobs (one active job per unique_key, also when enqueuers race) and retry rules by exit code
 * (retry_on / no_retry_on) with backoff jitter, through the queue's own statements and the CLI.
 */
import { describe, expect, it } from "vitest";
import { enqueueJobs, enqueueJobsWithOutcome } from "../src/queue/enqueue.js";

import { failJob } from "../src/queue/sql/outcomes.js";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { jobState } from "./helpers/workers.js";
import { claimJobs, completeJob } from "./helpers/queue.js";

const db = useTestDatabase();

async function runOnce(queue: string, exitCode: number, jitter = 0) {
  const [job] = await claimJobs(db.pool, { workerId: "w", queues: [queue], limit: 1, leaseMs: 60_000 });
  return failJob(db.pool, {
    jobId: job!.id, workerId: "w", attempt: job!.attempt, exitCode, output: "", durationMs: 1,
    error: `exit code ${exitCode}`, backoffBase: 2, backoffMaxS: 3600, backoffJitter: jitter,
  });
}

describe("unique jobs", () => {
  it("a second enqueue with an active job's key returns the existing id and says so; once finished, a new job is added", async () => {
    const first = await queuectl(["enqueue", "--command", "sync", "--unique-key", "sync-1", "--queue", "u"]);
    expect(first.code).toBe(0);
    const id = first.stdout.trim();
    const second = await queuectl(["enqueue", "--command", "sync --again", "--unique-key", "sync-1", "--queue", "u"]);
    expect(second).toEqual({ code: 0, stdout: id, stderr: `queuectl: job '${id}' with the same unique key is already active; not added again` });
    expect(await queuectlJson(["enqueue", '{"command":"sync","unique_key":"sync-1"}'])).toEqual({ id, existing: [id] });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE unique_key = 'sync-1'")).rows[0].n).toBe(1);

    const [claimed] = await claimJobs(db.pool, { workerId: "w", queues: ["u"], limit: 1, leaseMs: 60_000 });
    expect(await queuectlJson(["enqueue", '{"command":"sync","unique_key":"sync-1"}'])).toEqual({ id, existing: [id] });
    await completeJob(db.pool, { jobId: id, workerId: "w", attempt: claimed!.attempt, exitCode: 0, output: "", durationMs: 1 });
    const third = await queuectlJson<{ id: string; existing?: string[] }>(["enqueue", '{"command":"sync","unique_key":"sync-1"}']);
    expect(third.id).not.toBe(id);
    expect(third.existing).toBeUndefined();
  });

  it("20 enqueuers racing with one key add exactly one job, and all get its id", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => enqueueJobsWithOutcome(db, { specs: [{ command: `race ${i}`, unique_key: "race-key", queue: "u" }] })),
    );
    const ids = new Set(results.map((r) => r.ids[0]));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.existing.size === 0)).toHaveLength(1);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE unique_key = 'race-key'")).rows[0].n).toBe(1);
  });

  it("the same key twice in one input adds one job; both positions name it", async () => {
    const ids = await enqueueJobs(db, { specs: [{ command: "a", unique_key: "dup" }, { command: "b", unique_key: "dup" }, { command: "c" }] });
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });
});

describe("retry rules", () => {
  it("no_retry_on: exit 2 goes to the DLQ after one attempt despite max_retries 3; other codes retry", async () => {
    await enqueueJobs(db, { specs: [{ id: "nr-1", command: "x", queue: "nr1", max_retries: 3, no_retry_on: [2, 127] }] });
    expect((await runOnce("nr1", 2))?.state).toBe("dead");
    const dl = await db.pool.query("SELECT reason FROM dead_letters WHERE job_id = 'nr-1'");
    expect(dl.rows[0].reason).toBe("exit code 2 is not retried (retry_on / no_retry_on)");

    await enqueueJobs(db, { specs: [{ id: "nr-2", command: "x", queue: "nr2", max_retries: 3, no_retry_on: [2] }] });
    expect((await runOnce("nr2", 1))?.state).toBe("failed");
  });

  it("retry_on: only the listed exit codes are retried", async () => {
    await enqueueJobs(db, { specs: [{ id: "ro-1", command: "x", queue: "ro1", max_retries: 3, retry_on: [75] }] });
    const r1 = await runOnce("ro1", 75);
    expect(r1?.state).toBe("failed");
    await db.pool.query("UPDATE jobs SET run_at = now() WHERE id = 'ro-1'");
    expect((await runOnce("ro1", 3))?.state).toBe("dead");
    expect(await jobState(db.pool, "ro-1")).toMatchObject({ attempts: 2 });
  });

  it("backoff_jitter shortens each delay by a random share, never beyond the plain delay", async () => {
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      await enqueueJobs(db, { specs: [{ id: `j-${i}`, command: "x", queue: `jq${i}`, max_retries: 3 }] });
      const before = Date.now();
      const res = await runOnce(`jq${i}`, 1, 1);
      delays.push(res!.runAt.getTime() - before);
    }
    // Attempt 1 with base 2: at most 2 s; with full jitter, spread across [0, 2 s].
    expect(Math.max(...delays)).toBeLessThanOrEqual(2100);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(-100);
    expect(new Set(delays.map((d) => Math.round(d / 100))).size).toBeGreaterThan(3);
  });

  it("the CLI takes --retry-on / --never-retry-on and rejects bad codes with exit 2, adding nothing", async () => {
    const res = await queuectlJson<{ id: string }>(["enqueue", "--command", "x", "--never-retry-on", "2,127", "--retry-on", "1"]);
    const row = await db.pool.query("SELECT retry_on, no_retry_on FROM jobs WHERE id = $1", [res.id]);
    expect(row.rows[0]).toEqual({ retry_on: [1], no_retry_on: [2, 127] });
    const before = (await db.pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n;
    for (const args of [["--never-retry-on", "2,x"], ["--retry-on", "256"]]) {
      const bad = await queuectl(["enqueue", "--command", "x", ...args]);
      expect(bad.code).toBe(2);
      expect(bad.stderr.split("\n")).toHaveLength(1);
    }
    expect(await queuectl(["enqueue", '{"command":"x","retry_on":"2"}'])).toMatchObject({ code: 2, stderr: "queuectl: 'retry_on' must be an array" });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n).toBe(before);
  });
});
