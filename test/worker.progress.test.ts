/**
 * Progress from shell commands: a command writes lines to the file named in $QUEUECTL_PROGRESS; the
 * worker stores the last one with the job at its heartbeat, `show`, `list` and the JSON show it, and a
 * new attempt starts without the last one's.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { setConfigValue } from "../src/queue/config.js";
import { heartbeat } from "../src/queue/sql/leases.js";
import { parseProgressLine } from "../src/worker/progress-reports.js";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { claimJobs } from "./helpers/queue.js";
import { enqueue, jobState, startInProcessWorker, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-progress-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ProgressJson {
  state: string;
  progress_pct: number | null;
  progress_message: string | null;
  progress_at: string | null;
}

describe("progress reports", () => {
  it("reads a line as an optional percentage and a message", () => {
    expect(parseProgressLine("40 copying table 3/7")).toEqual({ pct: 40, message: "copying table 3/7" });
    expect(parseProgressLine("  75%  ")).toEqual({ pct: 75, message: null });
    expect(parseProgressLine("12.6% rows")).toEqual({ pct: 13, message: "rows" });
    expect(parseProgressLine("250 over the top")).toEqual({ pct: 100, message: "over the top" });
    expect(parseProgressLine("phase two: indexes")).toEqual({ pct: null, message: "phase two: indexes" });
    expect(parseProgressLine("2024-01-01 backup")).toEqual({ pct: null, message: "2024-01-01 backup" });
    expect(parseProgressLine("   ")).toBeUndefined();
    expect(parseProgressLine("x".repeat(500))?.message).toHaveLength(200);
  });

  it("a running command's last line is stored at the heartbeat and shown by show, list and --json; the file goes with the run", async () => {
    // A beat every 300 ms (lease_ms / 3).
    await setConfigValue(db.pool, "lease_ms", "900");
    const go = join(dir, "go");
    const seen = join(dir, "path");
    const command = [
      `echo "$QUEUECTL_PROGRESS" > ${seen}`,
      // Many lines between two beats: only the last counts.
      `for i in 1 2 3 4 5 6 7 8 9 10; do echo "$i starting" >> "$QUEUECTL_PROGRESS"; done`,
      `echo "40 copying table 3/7" >> "$QUEUECTL_PROGRESS"`,
      `while [ ! -e ${go} ]; do sleep 0.05; done`,
      `echo "phase two" > "$QUEUECTL_PROGRESS"`,
      `while [ ! -e ${go}2 ]; do sleep 0.05; done`,
    ].join("; ");
    await enqueue(db.pool, [{ id: "reporter", command }]);
    const worker = await startInProcessWorker(db);
    try {
      const first = await waitFor(
        async () => {
          const j = await queuectlJson<ProgressJson>(["show", "reporter"]);
          return j.progress_pct === 40 ? j : undefined;
        },
        { what: "the job's progress to read 40%" },
      );
      expect(first).toMatchObject({ state: "processing", progress_message: "copying table 3/7" });
      const path = readFileSync(seen, "utf8").trim();
      expect(existsSync(path)).toBe(true);

      const human = await queuectl(["show", "reporter"]);
      expect(human.stdout).toMatch(/^progress\s+40% copying table 3\/7 \(reported (now|\d+s ago)\)$/m);
      const listed = await queuectl(["list"]);
      expect(listed.stdout).toMatch(/^id\s+queue\s+state\s+progress\s/m);
      expect(listed.stdout).toMatch(/^reporter\s+default\s+processing\s+40%\s/m);

      // Nothing new: later beats leave the report and its time alone.
      await new Promise((r) => setTimeout(r, 1000));
      expect((await queuectlJson<ProgressJson>(["show", "reporter"])).progress_at).toBe(first!.progress_at);

      writeFileSync(go, "");
      const second = await waitFor(
        async () => {
          const j = await queuectlJson<ProgressJson>(["show", "reporter"]);
          return j.progress_message === "phase two" ? j : undefined;
        },
        { what: "the message-only report" },
      );
      expect(second!.progress_pct).toBeNull();

      writeFileSync(`${go}2`, "");
      await waitFor(async () => (await jobState(db.pool, "reporter"))?.state === "completed", { what: "the job to complete" });
      await waitFor(() => !existsSync(path), { what: "the run's progress file to be removed" });
    } finally {
      writeFileSync(go, "");
      writeFileSync(`${go}2`, "");
      worker.requestStop("test");
      await worker.finished();
    }
  });

  it("only the worker holding the attempt stores its command's report: a worker that lost the job writes nothing", async () => {
    await enqueue(db.pool, [{ id: "taken-over", command: "true" }]);
    const [a] = await claimJobs(db.pool, { workerId: "A", queues: [], limit: 1, leaseMs: 60_000 });
    expect(a?.id).toBe("taken-over");
    // What a takeover leaves: another worker holds the next attempt.
    await db.pool.query("UPDATE jobs SET worker_id = 'B', last_attempt = last_attempt + 1 WHERE id = 'taken-over'");
    const late = await heartbeat(db.pool, { workerId: "A", running: [{ id: "taken-over", attempt: a!.attempt, progress: { pct: 99, message: "stale" } }], unrecorded: [], leaseMs: 60_000 });
    expect(late.held.has("taken-over")).toBe(false);
    const read = async () => (await db.pool.query("SELECT progress_pct, progress_message FROM jobs WHERE id = 'taken-over'")).rows[0];
    expect(await read()).toEqual({ progress_pct: null, progress_message: null });
    const holder = await heartbeat(db.pool, { workerId: "B", running: [{ id: "taken-over", attempt: a!.attempt + 1, progress: { pct: 10, message: "fresh" } }], unrecorded: [], leaseMs: 60_000 });
    expect(holder.held.has("taken-over")).toBe(true);
    expect(await read()).toEqual({ progress_pct: 10, progress_message: "fresh" });
    // A beat with nothing new keeps the report.
    await heartbeat(db.pool, { workerId: "B", running: [{ id: "taken-over", attempt: a!.attempt + 1 }], unrecorded: [], leaseMs: 60_000 });
    expect(await read()).toEqual({ progress_pct: 10, progress_message: "fresh" });
  });

  it("a claim clears the previous attempt's report", async () => {
    await enqueue(db.pool, [{ id: "retried", command: "true" }]);
    await db.pool.query("UPDATE jobs SET progress_pct = 90, progress_message = 'almost', progress_at = now() WHERE id = 'retried'");
    const [claimed] = await claimJobs(db.pool, { workerId: "w", queues: [], limit: 1, leaseMs: 60_000 });
    expect(claimed?.id).toBe("retried");
    const row = await db.pool.query("SELECT progress_pct, progress_message, progress_at FROM jobs WHERE id = 'retried'");
    expect(row.rows[0]).toEqual({ progress_pct: null, progress_message: null, progress_at: null });
  });
});
