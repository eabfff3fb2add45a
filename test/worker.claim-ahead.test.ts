/**
 * Claiming ahead: a worker running short commands holds a few jobs more than it has free slots. Those
 * jobs must never be stuck behind a long command, never survive a stop, and never start after the
 * worker was paused past its lease (another worker owns them by then).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { setConfigValue } from "../src/queue/config.js";
import { kill } from "../src/queue/operator.js";
import { requestJobSignal } from "../src/queue/sql/signals.js";
import type { Worker, WorkerOptions } from "../src/worker/worker.js";
import { useTestDatabase } from "./helpers/db.js";
import { countByState, enqueue, jobState, startInProcessWorker, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-ahead-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let workers: Worker[] = [];
afterEach(async () => {
  for (const w of workers) w.forceStop("test over");
  await Promise.all(workers.map((w) => w.finished()));
  workers = [];
  await db.pool.query("TRUNCATE jobs, job_attempts, dead_letters, workers, queues CASCADE");
});

/** Lines of a file the jobs append to; empty when none ran yet. */
function lines(file: string): string[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/** An in-process worker that afterEach stops. */
async function startWorker(options: Partial<WorkerOptions>): Promise<Worker> {
  const worker = await startInProcessWorker(db, options);
  workers.push(worker);
  return worker;
}

/** Resolves when `worker` starts the command of job `id`. */
function jobStarted(worker: Worker, id: string): Promise<void> {
  return new Promise((resolve) => worker.on("job:start", (e) => e.id === id && resolve()));
}

describe("jobs claimed ahead", () => {
  it("go back within READY_MAX_WAIT_MS when every slot is busy with a long command, and an idle worker runs them", async () => {
    const ran = join(dir, "behind-long.txt");
    await enqueue(db.pool, [
      { id: "long", command: "sleep 3", priority: 10 },
      { id: "quick-1", command: `echo "$QUEUECTL_JOB_ID $QUEUECTL_WORKER_ID" >> ${ran}` },
      { id: "quick-2", command: `echo "$QUEUECTL_JOB_ID $QUEUECTL_WORKER_ID" >> ${ran}` },
    ]);
    const busy = await startWorker({ concurrency: 1, claimAhead: 2 });
    const givenBack: string[] = [];
    busy.on("job:released", (e) => givenBack.push(e.id));
    // Its first statement claims the long job for the slot and both quick ones ahead of it.
    await jobStarted(busy, "long");
    const idle = await startWorker({ concurrency: 1 });

    await waitFor(() => lines(ran).length === 2, { timeoutMs: 2_500, what: "the quick jobs to run elsewhere while the long one runs" });
    expect((await jobState(db.pool, "long"))?.state).toBe("processing");
    expect(lines(ran).sort()).toEqual([`quick-1 ${idle.id}`, `quick-2 ${idle.id}`]);
    expect(givenBack.sort()).toEqual(["quick-1", "quick-2"]);
    await waitFor(async () => (await countByState(db.pool)).completed === 2, { what: "quick jobs completed" });
    // Given back uncounted and without a trace in the history: the one attempt is the one that ran.
    const history = await db.pool.query("SELECT job_id, attempt, worker_id, error FROM job_attempts WHERE job_id LIKE 'quick-%' ORDER BY job_id, id");
    expect(history.rows).toEqual([
      { job_id: "quick-1", attempt: 1, worker_id: idle.id, error: null },
      { job_id: "quick-2", attempt: 1, worker_id: idle.id, error: null },
    ]);
  });

  it("go back uncounted when the worker stops; only the running command finishes", async () => {
    const ran = join(dir, "stop.txt");
    const command = `echo "$QUEUECTL_JOB_ID" >> ${ran}`;
    await enqueue(db.pool, [
      { id: "running", command: `sleep 0.5; ${command}`, priority: 10 },
      { id: "ahead-1", command },
      { id: "ahead-2", command },
      { id: "ahead-3", command },
    ]);
    const worker = await startInProcessWorker(db, { concurrency: 1, claimAhead: 3 });
    await jobStarted(worker, "running");
    worker.requestStop("test");
    await worker.finished();

    expect(lines(ran)).toEqual(["running"]);
    expect(await jobState(db.pool, "running")).toMatchObject({ state: "completed", attempts: 1 });
    for (const id of ["ahead-1", "ahead-2", "ahead-3"]) {
      expect(await jobState(db.pool, id)).toMatchObject({ state: "pending", attempts: 0, last_error: null });
    }
    const history = await db.pool.query("SELECT job_id FROM job_attempts");
    expect(history.rows).toEqual([{ job_id: "running" }]);
    // A worker started later runs them at once, as attempt 1.
    const next = await startWorker({ concurrency: 2 });
    await waitFor(async () => (await countByState(db.pool)).completed === 4, { what: "all 4 completed" });
    const attempts = await db.pool.query("SELECT max(attempts)::int AS n FROM jobs");
    expect(attempts.rows[0].n).toBe(1);
  });
});

describe("batched successes", () => {
  it("a success is recorded within the hold while the next command runs, not when that command ends", async () => {
    await enqueue(db.pool, [
      { id: "first", command: "true", priority: 10 },
      { id: "long", command: "sleep 2" },
    ]);
    const worker = await startWorker({ concurrency: 1, claimAhead: 2 });
    // `long` starts from the claim-ahead buffer the moment `first` ends; no slot is idle to send the
    // statement at once, so first's success waits for the hold (20 ms) or a companion.
    await jobStarted(worker, "long");
    const started = Date.now();
    await waitFor(async () => (await jobState(db.pool, "first"))?.state === "completed", { timeoutMs: 1_500, everyMs: 10, what: "first completed while long runs" });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await jobState(db.pool, "long"))?.state).toBe("processing");
  });
});

describe("kill and jobs claimed ahead", () => {
  it("a signal for a job claimed ahead is delivered as soon as its command starts (or kill says it was dropped)", async () => {
    await enqueue(db.pool, [
      { id: "first", command: "sleep 0.05", priority: 10 },
      { id: "second", command: "sleep 3" },
    ], 0);
    const worker = await startWorker({ concurrency: 1, claimAhead: 1 });
    // While `first` runs, `second` waits in the worker's ready list: no process to signal yet.
    await jobStarted(worker, "first");
    const sent = await kill(db.pool, { id: "second", signal: "SIGTERM", waitMs: 3_000 });
    if (sent.dropped) {
      // On a loaded machine `second` may have waited past READY_MAX_WAIT_MS and gone back unrun: then
      // kill says so, and the signal meant for that claim never reaches a later one.
      await waitFor(async () => (await jobState(db.pool, "second"))?.state === "completed", { timeoutMs: 10_000, what: "second to run untouched" });
      return;
    }
    // Without delivery at start, it would wait for a heartbeat (every 10 s with the default lease).
    expect(sent.delivered).toBe(true);
    await waitFor(async () => (await jobState(db.pool, "second"))?.state === "dead", { timeoutMs: 2_500, what: "second ended by the signal" });
    expect((await jobState(db.pool, "second"))?.last_error).toBe("killed by SIGTERM");
  });

  it("a signal for a job claimed ahead goes away with it when the job goes back unrun", async () => {
    await enqueue(db.pool, [
      { id: "long", command: "sleep 1", priority: 10 },
      { id: "waiting", command: "true" },
    ]);
    const worker = await startWorker({ concurrency: 1, claimAhead: 1 });
    const released = new Promise<void>((resolve) => worker.on("job:released", (e) => e.id === "waiting" && resolve()));
    await jobStarted(worker, "long");
    // (On a loaded machine it may have gone back already: then there is nothing to signal.)
    await requestJobSignal(db.pool, { id: "waiting", signal: "SIGUSR1" });
    await released;
    // Meant for an attempt that never ran: the next attempt must not get it.
    const row = await db.pool.query("SELECT state, attempts, signal_requested FROM jobs WHERE id = 'waiting'");
    expect(row.rows[0]).toEqual({ state: "pending", attempts: 0, signal_requested: null });
  });
});

describe("a claim that takes long to answer", () => {
  /**
   * One `true` job in a new limited queue whose row the test holds locked for 400 ms after a worker
   * starts, so the worker's claim (claimLimitedJobs) waits that long for its answer. Resolves once the
   * job completed, with the jobs the worker gave back meanwhile and the job's attempt history.
   */
  async function runWithSlowClaim(queue: string): Promise<{ givenBack: string[]; history: unknown[] }> {
    await db.pool.query("INSERT INTO queues (name, concurrency_limit) VALUES ($1, 5)", [queue]);
    const [id] = await enqueue(db.pool, [{ queue, command: "true" }]);
    const blocker = await db.pool.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query("SELECT * FROM queues WHERE name = $1 FOR UPDATE", [queue]);
      const worker = await startWorker({ concurrency: 1, queues: [queue] });
      const givenBack: string[] = [];
      worker.on("job:released", (e) => givenBack.push(e.id === id ? "the job" : e.id));
      await new Promise((r) => setTimeout(r, 400));
      await blocker.query("COMMIT");
      await waitFor(async () => (await jobState(db.pool, id!))?.state === "completed", { what: "the slowly claimed job completed" });
      const history = await db.pool.query("SELECT attempt, error FROM job_attempts WHERE job_id = $1", [id]);
      return { givenBack, history: history.rows };
    } finally {
      blocker.release();
    }
  }

  it("still starts the jobs it claimed for free slots (READY_MAX_WAIT_MS counts from the answer)", async () => {
    expect(await runWithSlowClaim("slow")).toEqual({ givenBack: [], history: [{ attempt: 1, error: null }] });
  });

  it("does not start a job whose claim took more than half a lease to answer: it goes back and is claimed again", async () => {
    // The claim's transaction began before it waited, and its lease counts from then (now()).
    await setConfigValue(db.pool, "lease_ms", "500");
    try {
      expect(await runWithSlowClaim("slower")).toEqual({ givenBack: ["the job"], history: [{ attempt: 1, error: null }] });
    } finally {
      await setConfigValue(db.pool, "lease_ms", "30000");
    }
  });
});

describe("a worker frozen past its lease while it holds jobs claimed ahead", () => {
  it("does not start them when it resumes: another worker ran them, once", async () => {
    await setConfigValue(db.pool, "lease_ms", "1000");
    await setConfigValue(db.pool, "backoff_base", "1");
    const ran = join(dir, "frozen.txt");
    writeFileSync(ran, "");
    // One job claimed ahead of its one slot; each line says who ran which attempt.
    const specs = Array.from({ length: 60 }, (_, i) => ({ id: `f-${String(i).padStart(2, "0")}`, command: `echo "$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT $QUEUECTL_WORKER_ID" >> ${ran}; sleep 0.005` }));
    await enqueue(db.pool, specs, 3);
    const frozen = startWorkerProcess(["--concurrency", "1", "--claim-ahead", "1"]);
    let other: ReturnType<typeof startWorkerProcess> | undefined;
    try {
      await waitFor(() => lines(ran).length >= 5, { what: "the worker under way" });
      const frozenId: string = (await db.pool.query("SELECT id FROM workers")).rows[0].id;
      // Freeze it at a moment when it holds a job whose command has not started (no line yet).
      let neverStarted: string[] = [];
      for (let tries = 0; neverStarted.length === 0; tries++) {
        expect(tries).toBeLessThan(20);
        frozen.child.kill("SIGSTOP");
        // A command the worker handed to its command host just before the freeze still starts (the
        // host is not frozen) and writes its line; under a loaded test run that can take a while, and
        // a job caught that way must not be taken for one that never started.
        await new Promise((r) => setTimeout(r, 1_000));
        const held = await db.pool.query<{ id: string }>("SELECT id FROM jobs WHERE worker_id = $1 AND state = 'processing'", [frozenId]);
        const started = new Set(lines(ran).map((l) => l.split(" ")[0]));
        neverStarted = held.rows.map((r) => r.id).filter((id) => !started.has(id));
        if (neverStarted.length === 0) {
          frozen.child.kill("SIGCONT");
          await new Promise((r) => setTimeout(r, 10 + tries * 7));
        }
      }
      const linesByFrozen = lines(ran).filter((l) => l.endsWith(` ${frozenId}`)).length;

      other = startWorkerProcess(["--concurrency", "2"]);
      await waitFor(async () => (await countByState(db.pool)).completed === 60, { timeoutMs: 30_000, what: "all 60 completed by the other worker" });
      frozen.child.kill("SIGCONT");
      // Its heartbeat or its slot loop, whichever runs first, finds them gone.
      await waitFor(() => /not running jobs claimed ahead|dropping a job claimed ahead/.test(frozen.log()), { timeoutMs: 5_000, what: "the resumed worker to drop its jobs claimed ahead" }).catch((err) => {
        throw new Error(`${(err as Error).message}\n${frozen.log().slice(-3000)}`);
      });
      await new Promise((r) => setTimeout(r, 300));

      // The resumed worker ran nothing more, and the job it had claimed ahead ran once, elsewhere.
      expect(lines(ran).filter((l) => l.endsWith(` ${frozenId}`))).toHaveLength(linesByFrozen);
      for (const id of neverStarted) {
        const runs = lines(ran).filter((l) => l.startsWith(`${id} `));
        expect(runs).toHaveLength(1);
        expect(runs[0]).not.toContain(frozenId);
        // The rescuer counted the attempt the frozen worker held: a lease that ran out is a failed attempt.
        expect(await jobState(db.pool, id)).toMatchObject({ state: "completed", attempts: 2 });
      }
      // Every other job ran once per attempt, and all completed.
      expect(await countByState(db.pool)).toEqual({ completed: 60 });
    } finally {
      frozen.child.kill("SIGCONT");
      frozen.child.kill("SIGTERM");
      other?.child.kill("SIGTERM");
      await Promise.all([frozen.exited, other?.exited]);
      await setConfigValue(db.pool, "lease_ms", "30000");
    }
  });
});
