/**
 * `worker start` options as a user types them: bad values are refused with exit 2 and one line, and
 * start nothing; --claim-ahead reaches the workers it starts, in the foreground and in the background.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { alive, countByState, enqueue, jobState, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();

describe("worker start", () => {
  it("refuses bad option values with exit 2 and one line, and starts nothing", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["--concurrency", "0"], /--concurrency must be a whole number from 1 to 256/],
      [["--concurrency", "1.5"], /--concurrency must be a whole number from 1 to 256/],
      [["--count", "many"], /--count must be a whole number from 1 to 64/],
      [["--stop-timeout", "-1"], /must be seconds from 0 to 86400/],
      [["--claim-ahead", "-1"], /--claim-ahead must be a whole number from 0 to 64/],
      [["--claim-ahead", "65"], /--claim-ahead must be a whole number from 0 to 64/],
      [["--claim-ahead", "2x"], /--claim-ahead must be a whole number from 0 to 64/],
      [["--poll-interval", "5"], /--poll-interval must be a whole number from 10 to 3600000/],
      [["--queue", "no spaces"], /'no spaces' is not a queue name/],
      [["--foreground", "--count", "2"], /--foreground runs one worker/],
      // 64 workers of 261 connections each: more than any server here allows; none is started.
      [["--count", "64", "--concurrency", "256"], /^queuectl: --count 64 needs up to 16704 connections \(each worker 261: concurrency 256 \+ 5\), but the server has \d+ free \(max_connections \d+\): start at most \d+, lower --concurrency, or raise max_connections or put PgBouncer in front; none started$/],
    ];
    const results = await Promise.all(cases.map(([args]) => queuectl(["worker", "start", ...args], { timeoutMs: 20_000 })));
    results.forEach((res, i) => {
      expect(res.code, `${cases[i]![0].join(" ")}: ${res.stderr}`).toBe(2);
      expect(res.stdout).toBe("");
      expect(res.stderr.trim()).toMatch(cases[i]![1]);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
    });
    const workers = await db.pool.query("SELECT count(*)::int AS n FROM workers");
    expect(workers.rows[0].n).toBe(0);
  });

  it("--claim-ahead 0 runs jobs in the foreground; a background start passes it on to its processes", async () => {
    await enqueue(db.pool, Array.from({ length: 20 }, (_, i) => ({ command: `true ${i}` })));
    const fg = await queuectl(["worker", "start", "--foreground", "--exit-when-idle", "--concurrency", "2", "--claim-ahead", "0"], { timeoutMs: 20_000 });
    expect(fg.code, fg.stderr).toBe(0);
    expect(await countByState(db.pool)).toEqual({ completed: 20 });

    const started = await queuectlJson<Array<{ pid: number; log: string }>>(["worker", "start", "--claim-ahead", "3"]);
    expect(started).toHaveLength(1);
    const pid = started[0]!.pid;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      expect(cmdline.join(" ")).toContain("--claim-ahead 3");
    } finally {
      expect((await queuectl(["worker", "stop", "--wait"])).code).toBe(0);
      await waitFor(() => !alive(pid), { what: "the background worker to exit" });
    }
  });

  it("--poll-interval sets this worker's idle poll over the shared config", async () => {
    // With the shared poll at an hour, only the worker's own poll can notice a job made due without a
    // notification (an UPDATE from psql, say) within the test.
    expect((await queuectl(["config", "set", "poll_interval_ms", "3600000"])).code).toBe(0);
    try {
      await enqueue(db.pool, [
        { id: "first", command: "true" },
        { id: "quiet", command: "true", run_at: new Date(Date.now() + 3_600_000).toISOString() },
      ]);
      const worker = startWorkerProcess(["--poll-interval", "200"]);
      try {
        // Once the first job is done (and a moment more) the worker has gone idle, asleep for its poll.
        await waitFor(async () => (await jobState(db.pool, "first"))?.state === "completed", { what: "the first job to run" });
        await new Promise((r) => setTimeout(r, 500));
        await db.pool.query("UPDATE jobs SET run_at = now() WHERE id = 'quiet'");
        await waitFor(async () => (await jobState(db.pool, "quiet"))?.state === "completed", { what: "the job to run", timeoutMs: 30_000 });
      } finally {
        worker.child.kill("SIGTERM");
        await worker.exited;
      }
    } finally {
      await queuectl(["config", "set", "poll_interval_ms", "1000"]);
    }
  });
});
