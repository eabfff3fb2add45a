/**
 * `queuectl run [job options] -- <command...>`: enqueues, streams the output live from whichever worker
 * runs it, and exits with the job's own exit code (124 on --timeout); with no worker for its queue it
 * says so at once and waits, or with --no-wait exits 1 and enqueues nothing.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { startWorkerProcess, waitFor, type WorkerProcess } from "./helpers/workers.js";

const db = useTestDatabase();

/** `queuectl run ...` as a child whose output can be watched while it runs. */
function runChild(args: string[]) {
  const child = spawn(process.execPath, [CLI, "run", ...args], { env: process.env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { out: () => stdout, err: () => stderr, exited };
}

async function jobCount(): Promise<number> {
  return (await db.pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n;
}

describe("queuectl run", () => {
  it("--no-wait with no worker for the queue: exit 1, one line, nothing enqueued", async () => {
    const res = await queuectl(["run", "--no-wait", "--", "echo", "hi"]);
    expect(res).toMatchObject({ code: 1, stdout: "", stderr: "queuectl: no worker is running for queue 'default': nothing enqueued (start one: queuectl worker start)" });
    expect(await jobCount()).toBe(0);
  });

  it("without a worker says so at once and waits; a worker started later runs it", async () => {
    const run = runChild(["--queue", "later", "--", "echo", "ran later"]);
    await waitFor(() => run.err().includes("waits for a worker: none runs for queue 'later'"), { what: `the notice; stderr: ${run.err()}` });
    const worker = startWorkerProcess(["--queue", "later"], { QUEUECTL_LOG_LEVEL: "warn" });
    try {
      expect(await run.exited).toBe(0);
      expect(run.out()).toBe("ran later\n");
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
  });

  describe("with a worker", () => {
    let worker: WorkerProcess;
    beforeAll(() => {
      worker = startWorkerProcess(["--queue", "default", "--concurrency", "2"], { QUEUECTL_LOG_LEVEL: "warn" });
    });
    afterAll(async () => {
      worker.child.kill("SIGTERM");
      await worker.exited;
    });

    it("streams the output while the command runs, then exits 0", async () => {
      const run = runChild(["--max-retries", "0", "--", "sh -c 'echo first; sleep 2; echo second'"]);
      await waitFor(() => run.out().includes("first"), { what: `the first line; stderr: ${run.err()}` });
      // Seen while the job still runs: live, not replayed at the end.
      const states = (await db.pool.query<{ state: string }>("SELECT state FROM jobs WHERE command LIKE '%echo first%'")).rows.map((r) => r.state);
      expect(states).toEqual(["processing"]);
      expect(await run.exited).toBe(0);
      expect(run.out()).toBe("first\nsecond\n");
    });

    it("exits with the job's exit code, and 124 when its --timeout ended it", async () => {
      const failed = await queuectl(["run", "--max-retries", "0", "--", "sh", "-c", "echo out; exit 3"]);
      expect(failed.code).toBe(3);
      expect(failed.stdout).toBe("out");
      expect(failed.stderr).toMatch(/is dead \(exit code 3\)$/);
      const timedOut = await queuectl(["run", "--max-retries", "0", "--timeout", "300", "--", "sleep", "5"]);
      expect(timedOut.code).toBe(124);
      expect(timedOut.stderr).toMatch(/timed out after 300 ms/);
    });
  });

  it("refuses bad job options before enqueueing: exit 2", async () => {
    const before = await jobCount();
    const res = await queuectl(["run", "--priority", "high", "--", "true"]);
    expect(res.code).toBe(2);
    expect(res.stderr.split("\n")).toHaveLength(1);
    expect(await jobCount()).toBe(before);
  });
});
