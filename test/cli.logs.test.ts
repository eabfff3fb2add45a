/**
 * `logs`: the output of the latest or a chosen attempt, what a running attempt printed so far, and
 * `--follow` streaming a running job's lines from a worker in another process while it still runs,
 * then exiting when the job ends.
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CLI, queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, jobState, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();

describe("logs", () => {
  it("--follow shows lines while the job is still running, then the rest, and exits when the job ends", async () => {
    const worker = startWorkerProcess(["--queue", "lq", "--concurrency", "2"]);
    try {
      await enqueue(db.pool, [{ id: "f-1", command: 'for i in 1 2 3 4 5 6; do echo "line-$i $(date +%s%3N)"; sleep 0.4; done', queue: "lq" }]);
      const follower = spawn(process.execPath, [CLI, "logs", "f-1", "--follow"], { env: { ...process.env }, stdio: ["ignore", "pipe", "pipe"] });
      const seen: Array<{ line: string; at: number; state: string | undefined }> = [];
      let buffered = "";
      const pendingStates: Array<Promise<void>> = [];
      follower.stdout.on("data", (c: Buffer) => {
        buffered += c.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) {
          const entry = { line, at: Date.now(), state: undefined as string | undefined };
          seen.push(entry);
          pendingStates.push(jobState(db.pool, "f-1").then((s) => void (entry.state = s?.state)));
        }
      });
      let stderr = "";
      follower.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => follower.once("exit", (c) => resolve(c)));
      await Promise.all(pendingStates);
      expect(stderr).toBe("");
      expect(code).toBe(0);
      expect(seen.map((s) => s.line.split(" ")[0])).toEqual(["line-1", "line-2", "line-3", "line-4", "line-5", "line-6"]);
      // Lines arrived while the job still ran, not all at the end.
      const whileRunning = seen.filter((s) => s.state === "processing");
      expect(whileRunning.length).toBeGreaterThanOrEqual(3);
      const latencies = seen.slice(0, 5).map((s) => s.at - Number(s.line.split(" ")[1]));
      console.log(`follow latency per line (printed -> seen by the follower): ${latencies.join(", ")} ms`);
      expect(Math.max(...latencies)).toBeLessThan(1500);
      expect(await jobState(db.pool, "f-1")).toMatchObject({ state: "completed" });
      // The live chunks are gone once the attempt's output is recorded.
      await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM job_output WHERE job_id = 'f-1'")).rows[0].n === 0, { what: "chunks deleted" });
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
  });

  it("prints the latest attempt's output, or --attempt n's, and what a running attempt printed so far", async () => {
    const worker = startWorkerProcess(["--queue", "lq2", "--concurrency", "2"]);
    try {
      await enqueue(db.pool, [{ id: "l-1", command: 'echo "attempt $QUEUECTL_ATTEMPT"; [ "$QUEUECTL_ATTEMPT" = 2 ]', queue: "lq2", max_retries: 1 }]);
      await db.pool.query("INSERT INTO config (key, value) VALUES ('backoff_base', '1.01') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value");
      await waitFor(async () => (await jobState(db.pool, "l-1"))?.state === "completed", { timeoutMs: 20_000, what: "l-1 to succeed on attempt 2" });
      expect(await queuectl(["logs", "l-1"])).toEqual({ code: 0, stdout: "attempt 2", stderr: "" });
      expect(await queuectl(["logs", "l-1", "--attempt", "1"])).toEqual({ code: 0, stdout: "attempt 1", stderr: "" });

      await enqueue(db.pool, [{ id: "l-run", command: "echo started; sleep 30", queue: "lq2" }]);
      await waitFor(async () => (await queuectlJson<{ output: string }>(["logs", "l-run"])).output === "started\n", { timeoutMs: 10_000, what: "live output of l-run" });
      expect(await queuectlJson(["logs", "l-run"])).toEqual({ attempt: 1, running: true, output: "started\n" });
      await queuectl(["cancel", "l-run"]);
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
  });

  it("refuses unknown jobs and attempts (exit 3) and bad flags (exit 2)", async () => {
    expect(await queuectl(["logs", "ghost"])).toEqual({ code: 3, stdout: "", stderr: "queuectl: no job 'ghost'" });
    expect(await queuectl(["logs", "l-1", "--attempt", "9"])).toEqual({ code: 3, stdout: "", stderr: "queuectl: job 'l-1' has no attempt 9" });
    expect((await queuectl(["logs", "l-1", "--attempt", "x"])).code).toBe(2);
    expect((await queuectl(["logs", "l-1", "--attempt", "1", "--follow"])).code).toBe(2);
  });
});
