/**
 * A timeout ends the whole process tree of a command, not only the shell: children that the command
 * started (even one that ignores SIGTERM) must be gone when the attempt is recorded.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { setConfigValue } from "../src/queue/config.js";
import type { Worker } from "../src/worker/worker.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, jobState, startInProcessWorker, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-timeout-"));
let worker: Worker | undefined;
afterEach(async () => {
  worker?.requestStop("test done");
  await worker?.finished();
  worker = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Running (a zombie left for an init that does not reap counts as gone: it runs nothing). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

describe("timeouts", () => {
  it("kills a command and the children it spawned when its timeout passes", async () => {
    const pids = join(dir, "pids");
    worker = await startInProcessWorker(db);
    const started = Date.now();
    const [id] = await enqueue(db.pool, [{
      command: `sleep 60 & echo $! >> ${pids}; sh -c 'trap "" TERM; sleep 60' & echo $! >> ${pids}; sleep 60`,
      timeout: 400,
      max_retries: 0,
    }]);
    await waitFor(async () => (await jobState(db.pool, id!))?.state === "dead", { timeoutMs: 10_000, what: "timed-out job dead" });
    const job = await jobState(db.pool, id!);
    expect(job?.last_error).toBe("timed out after 400 ms (process group terminated)");
    // SIGTERM at 400 ms, SIGKILL for the child that ignores it after the grace period.
    expect(Date.now() - started).toBeLessThan(6000);
    const children = readFileSync(pids, "utf8").trim().split("\n").map(Number);
    expect(children.length).toBe(2);
    for (const pid of children) expect(alive(pid)).toBe(false);
  });

  it("applies the config default job_timeout_ms when the job sets none", async () => {
    await setConfigValue(db.pool, "job_timeout_ms", "300");
    worker = await startInProcessWorker(db);
    const [slow, quick] = await enqueue(db.pool, [
      { command: "sleep 30", max_retries: 0 },
      { command: "sleep 0.5", max_retries: 0, timeout: 5000 },
    ]);
    await waitFor(async () => (await jobState(db.pool, slow!))?.state === "dead", { timeoutMs: 8000, what: "slow job dead" });
    await waitFor(async () => (await jobState(db.pool, quick!))?.state === "completed", { timeoutMs: 8000, what: "quick job done" });
    expect((await jobState(db.pool, slow!))?.last_error).toMatch(/^timed out after 300 ms/);
  });
});
