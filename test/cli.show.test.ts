/**
 * `queuectl show <id>`: the job's fields, its attempt history and captured output, after attempts
 * recorded through the worker's own statements (claimJobs / failJob / completeJob).
 */
import { beforeAll, describe, expect, it } from "vitest";

import { failJob } from "../src/queue/sql/outcomes.js";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue } from "./helpers/workers.js";
import { claimJobs, completeJob } from "./helpers/queue.js";

const db = useTestDatabase();

interface ShowJson {
  id: string;
  state: string;
  attempts: number;
  exit_code: number | null;
  history: Array<{ attempt: number; worker_id: string; started_at: string; finished_at: string | null; exit_code: number | null; error: string | null; output: string | null }>;
  [key: string]: unknown;
}

beforeAll(async () => {
  await enqueue(db.pool, [{ id: "twice", command: "./flaky.sh", queue: "q", priority: 2, timeout: 5000 }, { id: "fresh", command: "echo new" }]);
  // Attempt 1 on w1 fails; attempt 2 on w2 succeeds.
  const [first] = await claimJobs(db.pool, { workerId: "w1", queues: ["q"], limit: 1, leaseMs: 30_000 });
  await failJob(db.pool, {
    jobId: "twice", workerId: "w1", attempt: first!.attempt, exitCode: 1, output: "starting\nboom: disk full\n", durationMs: 40,
    error: "exit code 1", backoffBase: 2, backoffMaxS: 3600,
  });
  await db.pool.query("UPDATE jobs SET run_at = now() WHERE id = 'twice'");
  const [second] = await claimJobs(db.pool, { workerId: "w2", queues: ["q"], limit: 1, leaseMs: 30_000 });
  await completeJob(db.pool, { jobId: "twice", workerId: "w2", attempt: second!.attempt, exitCode: 0, output: "starting\nall good\n", durationMs: 25 });
});

describe("show", () => {
  it("prints the job and every attempt with its output as JSON, in attempt order", async () => {
    const job = await queuectlJson<ShowJson>(["show", "twice"]);
    expect(job).toMatchObject({ id: "twice", queue: "q", command: "./flaky.sh", state: "completed", priority: 2, attempts: 2, timeout_ms: 5000, worker_id: "w2", exit_code: 0, duration_ms: 25 });
    expect(job.history).toEqual([
      { attempt: 1, worker_id: "w1", started_at: expect.any(String), finished_at: expect.any(String), exit_code: 1, error: "exit code 1", output: "starting\nboom: disk full\n" },
      { attempt: 2, worker_id: "w2", started_at: expect.any(String), finished_at: expect.any(String), exit_code: 0, error: null, output: "starting\nall good\n" },
    ]);
    expect(Object.keys(job).slice(0, 18)).toEqual([
      "id", "queue", "command", "state", "priority", "attempts", "last_attempt", "max_retries", "timeout_ms", "run_at",
      "created_at", "updated_at", "started_at", "finished_at", "worker_id", "exit_code", "last_error", "duration_ms",
    ]);
  });

  it("prints fields, a history table, the last output in full and earlier ones summarized", async () => {
    const res = await queuectl(["show", "twice"]);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^id\s+twice$/m);
    expect(res.stdout).toMatch(/^state\s+completed$/m);
    expect(res.stdout).toMatch(/^attempts\s+2 of 4 \(max_retries 3\)$/m);
    expect(res.stdout).toMatch(/^timeout\s+5\.0s$/m);
    expect(res.stdout).toMatch(/^attempt\s+worker\s+started\s+finished\s+exit\s+error\s+output/m);
    expect(res.stdout).toMatch(/^1\s+w1\s+.*\s1\s+exit code 1\s+25 B/m);
    expect(res.stdout).toMatch(/^output of attempt 1: 25 bytes, last line: boom: disk full$/m);
    expect(res.stdout.endsWith("output of attempt 2:\nstarting\nall good")).toBe(true);
  });

  it("shows a job that never ran", async () => {
    const job = await queuectlJson<ShowJson>(["show", "fresh"]);
    expect(job).toMatchObject({ id: "fresh", state: "pending", attempts: 0, history: [] });
    const res = await queuectl(["show", "fresh"]);
    expect(res.stdout).toMatch(/^state\s+pending \(runnable now\)$/m);
    expect(res.stdout).toMatch(/^history: no attempts yet$/m);
  });

  it("exits 3 with one line for an unknown id", async () => {
    for (const args of [["show", "nope"], ["show", "nope", "--json"]]) {
      const res = await queuectl(args);
      expect(res).toEqual({ code: 3, stdout: "", stderr: "queuectl: no job 'nope'" });
    }
  });
});
