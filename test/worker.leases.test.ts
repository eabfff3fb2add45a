/**
 * Leases: a job whose worker dies is taken back after its lease and finished by another worker, and a
 * late result from the old holder is refused by the completion fence.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { setConfigValue } from "../src/queue/config.js";
import { createPool } from "../src/db/pool.js";
import { completeAndClaimJobs } from "../src/queue/sql/claim.js";
import { failJob, releaseUnacknowledgedClaims } from "../src/queue/sql/outcomes.js";
import { rescueExpiredJobs } from "../src/queue/sql/leases.js";
import { useTestDatabase } from "./helpers/db.js";
import { alive, enqueue, jobState, startInProcessWorker, startWorkerProcess, waitFor } from "./helpers/workers.js";
import { claimJobs, completeJob } from "./helpers/queue.js";

const db = useTestDatabase();

describe("leases", () => {
  it("a job whose worker was killed with SIGKILL completes on another worker after its lease", async () => {
    await setConfigValue(db.pool, "lease_ms", "1000");
    await setConfigValue(db.pool, "backoff_base", "1");
    const first = startWorkerProcess();
    const pidFile = join(tmpdir(), `queuectl-orphan-${process.pid}-${Date.now()}`);
    const [id] = await enqueue(db.pool, [{ id: "orphan", command: `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then echo $$ > ${pidFile}; sleep 30; fi; echo finished` }]);
    await waitFor(async () => (await jobState(db.pool, id!))?.state === "processing" && existsSync(pidFile), { what: "job claimed" });
    const victim = (await jobState(db.pool, id!))!.worker_id;
    const group = Number(readFileSync(pidFile, "utf8"));
    first.child.kill("SIGKILL");
    await first.exited;
    // The command went down with its worker (its command host saw the worker go), so it cannot run
    // on beside the retry.
    await waitFor(() => !alive(-group), { timeoutMs: 6000, what: "the killed worker's command to end" });
    rmSync(pidFile, { force: true });

    const second = startWorkerProcess();
    try {
      await waitFor(async () => (await jobState(db.pool, id!))?.state === "completed", { timeoutMs: 15_000, what: "job completed by the second worker" });
      const job = await jobState(db.pool, id!);
      expect(job?.attempts).toBe(2);
      expect(job?.worker_id).not.toBe(victim);
      const attempts = await db.pool.query("SELECT attempt, worker_id, error FROM job_attempts WHERE job_id = $1 ORDER BY id", [id]);
      expect(attempts.rows[0].worker_id).toBe(victim);
      expect(attempts.rows[0].error).toMatch(/^lease expired/);
      expect(attempts.rows[1].worker_id).toBe(job?.worker_id);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });

  it("refuses a stale completion from an attempt whose lease was taken over", async () => {
    await enqueue(db.pool, [{ id: "contested", command: "true" }]);
    const [a] = await claimJobs(db.pool, { workerId: "A", queues: [], limit: 1, leaseMs: 200 });
    expect(a?.id).toBe("contested");
    await new Promise((r) => setTimeout(r, 300));
    expect((await rescueExpiredJobs(db.pool, { backoffBase: 1, backoffMaxS: 0, limit: 10 })).map((j) => j.id)).toEqual(["contested"]);
    const [b] = await claimJobs(db.pool, { workerId: "B", queues: [], limit: 1, leaseMs: 60_000 });
    expect(b?.attempts).toBe(2);

    // A comes back from a long pause and reports: both success and failure are refused.
    const stale = { jobId: "contested", workerId: "A", attempt: 1, exitCode: 0, output: "late", durationMs: 1 };
    expect(await completeJob(db.pool, stale)).toBeNull();
    expect(await failJob(db.pool, { ...stale, exitCode: 1, error: "exit code 1", backoffBase: 2, backoffMaxS: 60 })).toBeNull();
    expect(await jobState(db.pool, "contested")).toMatchObject({ state: "processing", worker_id: "B", attempts: 2 });

    // B's own result is accepted, once.
    const fresh = { ...stale, workerId: "B", attempt: 2, output: "ok" };
    expect(await completeJob(db.pool, fresh)).toEqual({ dependents: 0 });
    expect(await completeJob(db.pool, fresh)).toBeNull();
    const rows = await db.pool.query("SELECT attempt, worker_id, output FROM job_attempts WHERE job_id = 'contested' ORDER BY id");
    expect(rows.rows).toEqual([
      { attempt: 1, worker_id: "A", output: null },
      { attempt: 2, worker_id: "B", output: "ok" },
    ]);
  });

  it("in one batch, refuses the stale completion and records the rest, and claims only other jobs", async () => {
    await enqueue(db.pool, [{ id: "lost", command: "true", priority: 9 }, { id: "kept", command: "true", priority: 8 }]);
    const [lost] = await claimJobs(db.pool, { workerId: "A", queues: [], limit: 1, leaseMs: 1 });
    const [kept] = await claimJobs(db.pool, { workerId: "A", queues: [], limit: 1, leaseMs: 60_000 });
    await new Promise((r) => setTimeout(r, 20));
    expect((await rescueExpiredJobs(db.pool, { backoffBase: 1, backoffMaxS: 0, limit: 10 })).map((j) => j.id)).toEqual(["lost"]);
    const [retaken] = await claimJobs(db.pool, { workerId: "B", queues: [], limit: 1, leaseMs: 60_000 });
    expect(retaken).toMatchObject({ id: "lost", attempts: 2 });
    await enqueue(db.pool, [{ id: "next", command: "true" }]);

    const done = (j: { id: string; attempt: number }) => ({ jobId: j.id, attempt: j.attempt, exitCode: 0, output: "by A", durationMs: 1 });
    const result = await completeAndClaimJobs(db.pool, { workerId: "A", queues: [], limit: 5, leaseMs: 60_000, completions: [done(lost!), done(kept!)] });
    expect([...result.completed.keys()]).toEqual(["kept"]);
    expect(result.claimed.map((j) => j.id)).toEqual(["next"]);
    expect(await jobState(db.pool, "lost")).toMatchObject({ state: "processing", worker_id: "B", attempts: 2 });
    expect(await jobState(db.pool, "kept")).toMatchObject({ state: "completed", worker_id: "A", attempts: 1 });
    const rows = await db.pool.query("SELECT job_id, attempt, worker_id, output, finished_at IS NOT NULL AS finished FROM job_attempts WHERE job_id IN ('lost', 'kept', 'next') ORDER BY id");
    expect(rows.rows).toEqual([
      { job_id: "lost", attempt: 1, worker_id: "A", output: null, finished: true },
      { job_id: "kept", attempt: 1, worker_id: "A", output: "by A", finished: true },
      { job_id: "lost", attempt: 2, worker_id: "B", output: null, finished: false },
      { job_id: "next", attempt: 1, worker_id: "A", output: null, finished: false },
    ]);
  });

  it("rescuing concurrently from many workers takes each expired job back once", async () => {
    await enqueue(db.pool, Array.from({ length: 50 }, (_, i) => ({ id: `exp-${i}`, command: "true" })));
    await claimJobs(db.pool, { workerId: "gone", queues: [], limit: 50, leaseMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const results = await Promise.all(Array.from({ length: 6 }, () => rescueExpiredJobs(db.pool, { backoffBase: 2, backoffMaxS: 60, limit: 20 })));
    const ids = results.flat().map((r) => r.id);
    // Together they may leave some for the next round, but never take one twice.
    expect(new Set(ids).size).toBe(ids.length);
    const again = await rescueExpiredJobs(db.pool, { backoffBase: 2, backoffMaxS: 60, limit: 100 });
    expect(ids.length + again.length).toBe(50);
    const failed = await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE state = 'failed' AND attempts = 1");
    expect(failed.rows[0].n).toBe(50);
  });

  it("gives back only the jobs a worker holds without knowing it, each attempt uncounted", async () => {
    await enqueue(db.pool, ["u1", "u2", "u3", "u4"].map((id, i) => ({ id, command: "true", priority: 9 - i })));
    await claimJobs(db.pool, { workerId: "U", queues: [], limit: 3, leaseMs: 60_000 });
    await claimJobs(db.pool, { workerId: "V", queues: [], limit: 1, leaseMs: 60_000 });
    // U heard back about u1 only: u2 and u3 were claimed by a statement whose answer it never got.
    const released = await releaseUnacknowledgedClaims(db.pool, { workerId: "U", heldJobIds: ["u1"] });
    expect(released.map((r) => r.id).sort()).toEqual(["u2", "u3"]);
    expect(await jobState(db.pool, "u1")).toMatchObject({ state: "processing", worker_id: "U", attempts: 1 });
    expect(await jobState(db.pool, "u2")).toMatchObject({ state: "pending", attempts: 0 });
    expect(await jobState(db.pool, "u4")).toMatchObject({ state: "processing", worker_id: "V", attempts: 1 });
    const history = await db.pool.query("SELECT job_id, error FROM job_attempts WHERE job_id IN ('u2', 'u3') ORDER BY job_id");
    expect(history.rows.map((r) => r.job_id)).toEqual(["u2", "u3"]);
    for (const r of history.rows) expect(r.error).toMatch(/never got the answer to its claim/);
    expect(await releaseUnacknowledgedClaims(db.pool, { workerId: "U", heldJobIds: ["u1"] })).toEqual([]);
    // Uncounted (attempts 1 again), with a new attempt number: no two runs of a job share one.
    expect((await claimJobs(db.pool, { workerId: "V", queues: [], limit: 5, leaseMs: 60_000 })).map((j) => [j.id, j.attempts, j.attempt])).toEqual([["u2", 1, 2], ["u3", 1, 2]]);
  });

  it("a claim that committed but whose answer was lost runs once, at once, not after its lease", async () => {
    await setConfigValue(db.pool, "lease_ms", "60000");
    await setConfigValue(db.pool, "poll_interval_ms", "100");
    const workerId = "lost-answer-worker";
    // What a lost answer leaves behind: the job is processing under the worker, which never heard of it.
    await enqueue(db.pool, [{ id: "unanswered", command: "echo ran" }]);
    await claimJobs(db.pool, { workerId, queues: [], limit: 1, leaseMs: 60_000 });
    const pool = createPool(db.url, { applicationName: "queuectl-lost-answer" });
    const worker = await startInProcessWorker({ pool, url: db.url }, { id: workerId });
    const locker = await db.pool.connect();
    try {
      // Make the worker's next claim fail: hold it on a lock, then end its connection.
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE queues IN ACCESS EXCLUSIVE MODE");
      const blocked = await waitFor(async () => {
        const res = await db.pool.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE application_name = 'queuectl-lost-answer' AND wait_event_type = 'Lock' AND query LIKE 'WITH finished AS%'`,
        );
        return res.rows[0]?.pid;
      }, { what: "the worker's claim waiting on the lock" });
      await db.pool.query("SELECT pg_terminate_backend($1)", [blocked]);
      await locker.query("COMMIT");
      await waitFor(async () => (await jobState(db.pool, "unanswered"))?.state === "completed", { timeoutMs: 10_000, what: "the unanswered job to run" });
      expect(await jobState(db.pool, "unanswered")).toMatchObject({ attempts: 1, worker_id: workerId });
      const history = await db.pool.query("SELECT error, output FROM job_attempts WHERE job_id = 'unanswered' ORDER BY id");
      expect(history.rows).toHaveLength(2);
      expect(history.rows[0].error).toMatch(/never got the answer to its claim/);
      expect(history.rows[1]).toEqual({ error: null, output: "ran\n" });
    } finally {
      locker.release();
      worker.requestStop("test over");
      await worker.finished();
      await pool.end();
    }
  });

  it("an outcome given up after an outage goes to the rescuer, counted, and the command does not run again", async () => {
    await setConfigValue(db.pool, "lease_ms", "1500");
    await setConfigValue(db.pool, "poll_interval_ms", "100");
    const ran = join(tmpdir(), `queuectl-gave-up-${process.pid}`);
    rmSync(ran, { force: true });
    await enqueue(db.pool, [{ id: "given-up", command: `echo ran >> ${ran}; sleep 0.5; exit 3` }], 0);
    const pool = createPool(db.url, { applicationName: "queuectl-gave-up" });
    const worker = await startInProcessWorker({ pool, url: db.url }, { id: "gave-up-worker", outcomeRetryMs: 300 });
    const locker = await db.pool.connect();
    let outage = true;
    try {
      await waitFor(() => existsSync(ran), { what: "the command to run" });
      // An outage that outlasts the worker's retry window: every statement it sends waits on the lock
      // and has its connection ended, so failJob gives up and the next claim's answer is lost as well.
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE");
      const killer = (async () => {
        while (outage) {
          await db.pool.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'queuectl-gave-up' AND wait_event_type = 'Lock'`);
          await new Promise((r) => setTimeout(r, 30));
        }
      })();
      await waitFor(() => worker.runningJobIds.length === 0, { timeoutMs: 10_000, what: "the worker to give up the outcome" });
      outage = false;
      await killer;
      await locker.query("COMMIT");
      // The worker's next pass gives back its unanswered claims; the ran-but-unrecorded job is not one of them.
      await waitFor(async () => (await jobState(db.pool, "given-up"))?.state === "dead", { timeoutMs: 15_000, what: "the rescuer to end the job" });
      expect(await jobState(db.pool, "given-up")).toMatchObject({ attempts: 1, last_error: expect.stringMatching(/lease/) });
      expect(readFileSync(ran, "utf8")).toBe("ran\n");
    } finally {
      outage = false;
      await locker.query("ROLLBACK").catch(() => {});
      locker.release();
      worker.requestStop("test over");
      await worker.finished();
      await pool.end();
      rmSync(ran, { force: true });
    }
  });
});
