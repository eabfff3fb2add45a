/**
 * `cancel` and `kill` reach jobs wherever they are: a pending or failed job is never run; a running
 * one's process group is ended on the worker process that runs it (another process, found through
 * NOTIFY and the heartbeat) and the job ends cancelled, not retried; `kill --signal` delivers a signal
 * the command can trap. Wrong ids and finished jobs change nothing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cancelJob } from "../src/queue/sql/cancel.js";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { alive, enqueue, jobState, startWorkerProcess, waitFor, type WorkerProcess } from "./helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-cancel-"));
let worker: WorkerProcess | undefined;
afterAll(async () => {
  worker?.child.kill("SIGTERM");
  await worker?.exited;
  rmSync(dir, { recursive: true, force: true });
});

describe("cancel", () => {
  it("a pending job becomes cancelled and never runs", async () => {
    const marker = join(dir, "never.txt");
    await enqueue(db.pool, [{ id: "c-pending", command: `touch ${marker}`, queue: "cq", run_at: new Date(Date.now() + 1500).toISOString() }]);
    expect(await queuectl(["cancel", "c-pending"])).toMatchObject({ code: 0, stdout: "job 'c-pending' cancelled (it was pending); it will not run" });
    worker = startWorkerProcess(["--queue", "cq", "--concurrency", "2"]);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await jobState(db.pool, "c-pending")).toMatchObject({ state: "cancelled", attempts: 0 });
    expect(existsSync(marker)).toBe(false);
  });

  it("a running job on another worker process: its command ends within 2 s and the job ends cancelled, not retried", async () => {
    const pidFile = join(dir, "pid");
    const after = join(dir, "after.txt");
    await enqueue(db.pool, [{ id: "c-running", command: `sh -c 'echo $$ > ${pidFile}; exec sleep 60' ; touch ${after}`, queue: "cq", max_retries: 3 }]);
    const pid = await waitFor(() => (existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() ? Number(readFileSync(pidFile, "utf8")) : 0), { what: "the command to start" });
    expect(alive(pid)).toBe(true);
    const started = Date.now();
    const res = await queuectl(["cancel", "c-running"]);
    expect(res.code).toBe(0);
    // cancel waits until nothing of the command is left: the job is cancelled when it returns.
    expect(res.stdout).toBe("job 'c-running' cancelled; its command has ended");
    expect(alive(pid)).toBe(false);
    const latencyMs = Date.now() - started;
    console.log(`cancel latency (CLI start to process gone): ${latencyMs} ms`);
    expect(latencyMs).toBeLessThan(2000 + 1500); // 2 s, plus the CLI's own start-up on a busy 2-core machine
    await new Promise((r) => setTimeout(r, 1000));
    expect(await jobState(db.pool, "c-running")).toMatchObject({ state: "cancelled", attempts: 1, last_error: "cancelled by an operator" });
    // The rest of the shell line never ran, and the attempt is closed as cancelled.
    expect(existsSync(after)).toBe(false);
    const history = await queuectlJson<{ history: Array<{ error: string; finished_at: string | null }> }>(["show", "c-running"]);
    expect(history.history).toHaveLength(1);
    expect(history.history[0]).toMatchObject({ error: "cancelled by an operator" });
    expect(worker!.log()).toMatch(/cancelled by an operator/);
  });

  it("a failed job waiting for its retry is cancelled too, and a cancel racing a claim leaves the job cancelled", async () => {
    await enqueue(db.pool, [{ id: "c-failed", command: "exit 1", queue: "cq", max_retries: 5 }]);
    await waitFor(async () => (await jobState(db.pool, "c-failed"))?.state === "failed", { what: "c-failed to fail once" });
    expect(await queuectlJson(["cancel", "c-failed"])).toEqual({ id: "c-failed", previous_state: "failed", state: "cancelled", worker_id: null });
    await new Promise((r) => setTimeout(r, 2500));
    expect(await jobState(db.pool, "c-failed")).toMatchObject({ state: "cancelled", attempts: 1 });

    // Many jobs, each cancelled right after enqueue while the worker claims: none runs to completion
    // (each lasts long enough that a cancel reaches it before it could end on its own).
    const ids = await enqueue(db.pool, Array.from({ length: 20 }, (_, i) => ({ id: `c-race-${i}`, command: "sleep 2", queue: "cq" })));
    await Promise.all(ids.map((id) => cancelJob(db.pool, { id })));
    await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE id LIKE 'c-race-%' AND state = 'processing'")).rows[0].n === 0, {
      timeoutMs: 10_000,
      what: "every cancelled command to end",
    });
    const states = await db.pool.query("SELECT DISTINCT state::text FROM jobs WHERE id LIKE 'c-race-%'");
    expect(states.rows).toEqual([{ state: "cancelled" }]);
  });

  it("a command that ignores SIGTERM: the job stays processing until it is gone, so a requeue cannot run it beside itself", async () => {
    const runs = join(dir, "stubborn-runs");
    const firstPid = join(dir, "stubborn-pid");
    // Attempt 1 ignores SIGTERM and would run for 20 s; attempt 2 notes whether attempt 1 is still alive.
    const command = [
      `trap "" TERM`,
      `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then echo $$ > ${firstPid}; echo "start 1" >> ${runs}; sleep 20; echo "end 1" >> ${runs}; exit 0; fi`,
      `if kill -0 $(cat ${firstPid}) 2>/dev/null; then echo "start $QUEUECTL_ATTEMPT beside attempt 1" >> ${runs}; else echo "start $QUEUECTL_ATTEMPT" >> ${runs}; fi`,
      `echo "end $QUEUECTL_ATTEMPT" >> ${runs}`,
    ].join("; ");
    await enqueue(db.pool, [{ id: "stubborn", command, queue: "cq", max_retries: 0 }]);
    await waitFor(() => existsSync(runs), { what: "attempt 1 to start" });
    const asked = await queuectl(["cancel", "stubborn", "--no-wait"]);
    expect(asked.stdout).toMatch(/^cancel of job 'stubborn' recorded; worker \S+ is ending its command \(the job stays processing until it has\)$/);
    // Its command is still alive: requeue is refused, and nothing changes.
    expect(await queuectl(["requeue", "stubborn"])).toEqual({
      code: 2,
      stdout: "",
      stderr: "queuectl: job 'stubborn' is processing (a cancel may still be stopping its command): requeue it once it has finished",
    });
    // cancel (waiting, the default) returns once SIGKILL ended it; then requeue runs it again.
    expect(await queuectl(["cancel", "stubborn"])).toMatchObject({ code: 0, stdout: "job 'stubborn' cancelled; its command has ended" });
    expect(await queuectl(["requeue", "stubborn"])).toMatchObject({ code: 0 });
    await waitFor(async () => (await jobState(db.pool, "stubborn"))?.state === "completed", { timeoutMs: 15_000, what: "the requeued run to complete" });
    // Attempt 1 never ended (SIGKILL); attempt 2 started after it was gone and ran to its end.
    expect(readFileSync(runs, "utf8").trim().split("\n")).toEqual(["start 1", "start 2", "end 2"]);
    const history = await db.pool.query("SELECT attempt, error FROM job_attempts WHERE job_id = 'stubborn' ORDER BY id");
    expect(history.rows).toEqual([{ attempt: 1, error: "cancelled by an operator" }, { attempt: 2, error: null }]);
  });

  it("refuses unknown ids (exit 3) and finished jobs (exit 2), changing nothing", async () => {
    await enqueue(db.pool, [{ id: "c-done", command: "true", queue: "cq" }]);
    await waitFor(async () => (await jobState(db.pool, "c-done"))?.state === "completed", { what: "c-done" });
    const before = (await db.pool.query("SELECT id, state, updated_at FROM jobs ORDER BY id")).rows;
    expect(await queuectl(["cancel", "ghost"])).toEqual({ code: 3, stdout: "", stderr: "queuectl: no job 'ghost'" });
    expect(await queuectl(["cancel", "c-done"])).toEqual({ code: 2, stdout: "", stderr: "queuectl: job 'c-done' is completed: only pending, failed or processing jobs can be cancelled" });
    expect(await queuectl(["kill", "c-done"])).toEqual({ code: 2, stdout: "", stderr: "queuectl: job 'c-done' is completed, not running: nothing to signal" });
    expect(await queuectl(["kill", "c-done", "--signal", "NOPE"])).toEqual({ code: 2, stdout: "", stderr: "queuectl: unknown signal 'NOPE' (e.g. TERM, INT, HUP, USR1, KILL or a number)" });
    expect((await db.pool.query("SELECT id, state, updated_at FROM jobs ORDER BY id")).rows).toEqual(before);
  });
});

describe("kill", () => {
  it("sends a signal to a running job's process group on another worker process; the command decides what happens", async () => {
    const ready = join(dir, "ready");
    const got = join(dir, "got-usr1");
    await enqueue(db.pool, [{ id: "k-1", command: `trap 'echo usr1 > ${got}; exit 5' USR1; touch ${ready}; while true; do sleep 0.05; done`, queue: "cq", max_retries: 0 }]);
    await waitFor(() => existsSync(ready), { what: "the command to be ready" });
    const res = await queuectl(["kill", "k-1", "--signal", "USR1"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^sent SIGUSR1 to job 'k-1' \(worker \S+\)$/);
    await waitFor(async () => (await jobState(db.pool, "k-1"))?.state === "dead", { what: "k-1 to exit 5" });
    expect(readFileSync(got, "utf8")).toBe("usr1\n");
    expect(await jobState(db.pool, "k-1")).toMatchObject({ last_error: "exit code 5" });
  });
});
