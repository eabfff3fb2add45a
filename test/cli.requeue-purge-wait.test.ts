/**
 * `dlq retry --edit`, `requeue`, `purge` and the RetentionService, and `wait`: what an operator
 * does to finished jobs, and waiting for jobs from a script (exit codes 0, the job's own, 1, 124, 3).
 */
import { describe, expect, it } from "vitest";
import { enqueueJobs } from "../src/queue/enqueue.js";

import { failJob } from "../src/queue/sql/outcomes.js";
import { defaultConfig, setConfigValue } from "../src/queue/config.js";
import { createLogger } from "../src/worker/logger.js";
import { RetentionService } from "../src/worker/retention-service.js";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { jobState, startWorkerProcess } from "./helpers/workers.js";
import { claimJobs, completeJob } from "./helpers/queue.js";

const db = useTestDatabase();

/** Runs one job of `queue` through claim + complete/fail as a worker would. */
async function finish(queue: string, exitCode: number) {
  const [job] = await claimJobs(db.pool, { workerId: "w", queues: [queue], limit: 1, leaseMs: 60_000 });
  const base = { jobId: job!.id, workerId: "w", attempt: job!.attempt, exitCode, output: "", durationMs: 1 };
  if (exitCode === 0) await completeJob(db.pool, base);
  else await failJob(db.pool, { ...base, error: `exit code ${exitCode}`, backoffBase: 2, backoffMaxS: 3600 });
  return job!.id;
}

async function snapshot() {
  return (await db.pool.query("SELECT id, state, command, timeout_ms, max_retries, updated_at FROM jobs ORDER BY id")).rows;
}

describe("dlq retry --edit", () => {
  it("changes command, timeout and max_retries, then requeues the dead job", async () => {
    await enqueueJobs(db, { specs: [{ id: "e-1", command: "broken", queue: "e", max_retries: 0, timeout: 100 }] });
    await finish("e", 3);
    const res = await queuectl(["dlq", "retry", "e-1", "--edit", '{"command":"fixed","timeout":null,"max_retries":4}']);
    expect(res).toMatchObject({ code: 0, stdout: "job 'e-1' is pending again (attempts reset to 0)" });
    const row = (await db.pool.query("SELECT state, command, timeout_ms, max_retries, attempts FROM jobs WHERE id = 'e-1'")).rows[0];
    expect(row).toEqual({ state: "pending", command: "fixed", timeout_ms: null, max_retries: 4, attempts: 0 });
  });

  it("refuses a bad patch, several jobs, or a job not dead, changing nothing", async () => {
    await enqueueJobs(db, { specs: [{ id: "e-2", command: "broken", queue: "e2", max_retries: 0 }] });
    await finish("e2", 1);
    const before = await snapshot();
    const cases: Array<[string[], number, string]> = [
      [["dlq", "retry", "e-2", "--edit", '{"cmd":"x"}'], 2, "queuectl: --edit: unknown field 'cmd' (command, timeout, max_retries)"],
      [["dlq", "retry", "e-2", "--edit", "not json"], 2, `queuectl: --edit must be a JSON object, e.g. '{"command":"make report","timeout":60000}'`],
      [["dlq", "retry", "e-2", "--edit", '{"max_retries":-1}'], 2, "queuectl: --edit: 'max_retries' must be an integer from 0 to 1000"],
      [["dlq", "retry", "e-2", "--edit", "{}"], 2, "queuectl: --edit: nothing to change (fields: command, timeout, max_retries)"],
      [["dlq", "retry", "e-2", "e-1", "--edit", '{"command":"x"}'], 2, "queuectl: --edit changes one job: name exactly one dead job"],
      [["dlq", "retry", "e-1", "--edit", '{"command":"x"}'], 2, "queuectl: job 'e-1' is not in the DLQ (it is pending)"],
    ];
    for (const [args, code, stderr] of cases) expect(await queuectl(args), args.join(" ")).toEqual({ code, stdout: "", stderr });
    expect(await snapshot()).toEqual(before);
  });
});

describe("requeue", () => {
  it("runs a completed job again with the same spec; refuses dead, pending and unknown jobs", async () => {
    await enqueueJobs(db, { specs: [{ id: "r-1", command: "report", queue: "r", max_retries: 2 }] });
    await finish("r", 0);
    expect(await queuectl(["requeue", "r-1"])).toMatchObject({ code: 0, stdout: "job 'r-1' is pending again (attempts reset to 0)" });
    expect(await jobState(db.pool, "r-1")).toMatchObject({ state: "pending", attempts: 0, worker_id: null });
    const before = await snapshot();
    expect(await queuectl(["requeue", "r-1"])).toEqual({ code: 2, stdout: "", stderr: "queuectl: job 'r-1' is pending: only completed or cancelled jobs can be requeued" });
    expect(await queuectl(["requeue", "e-2"])).toEqual({ code: 2, stdout: "", stderr: "queuectl: job 'e-2' is dead: use queuectl dlq retry e-2" });
    expect(await queuectl(["requeue", "ghost"])).toEqual({ code: 3, stdout: "", stderr: "queuectl: no job 'ghost'" });
    expect(await snapshot()).toEqual(before);
    // History is kept: the new attempt counts 1 against the retry budget, and its number is the next one.
    await finish("r", 0);
    const shown = await queuectlJson<{ history: Array<{ attempt: number }> }>(["show", "r-1"]);
    expect(shown.history.map((h) => h.attempt)).toEqual([1, 2]);
  });

  it("refuses to requeue a job whose unique key another active job holds", async () => {
    await enqueueJobs(db, { specs: [{ id: "u-old", command: "x", queue: "uq", unique_key: "only-one" }] });
    await finish("uq", 0);
    await enqueueJobs(db, { specs: [{ id: "u-new", command: "x", queue: "uq", unique_key: "only-one" }] });
    expect(await queuectl(["requeue", "u-old"])).toEqual({ code: 2, stdout: "", stderr: "queuectl: another active job holds unique key 'only-one'; nothing was changed" });
    expect(await jobState(db.pool, "u-old")).toMatchObject({ state: "completed" });
  });
});

describe("purge and retention", () => {
  it("purge --dry-run counts, purge deletes only old jobs of that state (with their history), bad input exits 2", async () => {
    await enqueueJobs(db, { specs: Array.from({ length: 5 }, (_, i) => ({ id: `old-${i}`, command: "x", queue: "old" })) });
    for (let i = 0; i < 5; i++) await finish("old", 0);
    await db.pool.query("UPDATE jobs SET finished_at = now() - interval '8 days' WHERE id IN ('old-0', 'old-1', 'old-2')");
    expect(await queuectl(["purge", "--state", "completed", "--older-than", "7d", "--dry-run"])).toMatchObject({ code: 0, stdout: "would delete 3 completed jobs (dry run: nothing deleted)" });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE queue = 'old'")).rows[0].n).toBe(5);
    for (const args of [["--state", "pending", "--older-than", "7d"], ["--state", "completed", "--older-than", "soon"], ["--state", "completed"]]) {
      const res = await queuectl(["purge", ...args]);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr.split("\n")[0], args.join(" ")).toMatch(/^queuectl: (--state must be one of|--older-than 'soon' is not an age|required option '--older-than <age>')/);
    }
    expect(await queuectlJson(["purge", "--state", "completed", "--older-than", "7d"])).toEqual({ deleted: 3 });
    const left = await db.pool.query("SELECT id FROM jobs WHERE queue = 'old' ORDER BY id");
    expect(left.rows.map((r) => r.id)).toEqual(["old-3", "old-4"]);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM job_attempts WHERE job_id LIKE 'old-%'")).rows[0].n).toBe(2);
  });

  it("RetentionService deletes completed jobs older than retention_completed and audit rows older than retention_audit, in batches, and nothing when they are 0", async () => {
    await db.pool.query(
      `INSERT INTO jobs (id, queue, command, state, max_retries, finished_at)
       SELECT 'ret-' || i, 'ret', 'x', 'completed', 0, now() - interval '2 hours' FROM generate_series(1, 2500) i`,
    );
    await db.pool.query(
      `INSERT INTO audit_log (at, source, action, target) SELECT now() - interval '2 days', 'cli', 'cancel', 'old-' || i FROM generate_series(1, 1200) i`,
    );
    await db.pool.query(`INSERT INTO audit_log (source, action, target) VALUES ('cli', 'cancel', 'fresh')`);
    await enqueueJobs(db, { specs: [{ id: "ret-pending", command: "x", queue: "ret" }] });
    const service = new RetentionService({ pool: db.pool, log: createLogger({}, "silent") });
    expect(await service.runOnce()).toEqual({ jobs: 0, audit: 0 });
    await setConfigValue(db.pool, "retention_completed", "1h");
    await setConfigValue(db.pool, "retention_audit", "1d");
    expect(await service.runOnce()).toEqual({ jobs: 2500, audit: 1200 });
    const left = await db.pool.query("SELECT id FROM jobs WHERE queue = 'ret'");
    expect(left.rows).toEqual([{ id: "ret-pending" }]);
    // Every expired row went; the fresh one (and the rows of this file's other actions) stayed.
    const audit = await db.pool.query<{ old: number; fresh: number }>(
      "SELECT count(*) FILTER (WHERE target LIKE 'old-%')::int AS old, count(*) FILTER (WHERE target = 'fresh')::int AS fresh FROM audit_log",
    );
    expect(audit.rows[0]).toEqual({ old: 0, fresh: 1 });
    await setConfigValue(db.pool, "retention_completed", "0");
    await setConfigValue(db.pool, "retention_audit", "0");
  });

  it("config retention_completed takes 7d and stores seconds", async () => {
    expect(await queuectl(["config", "set", "retention_completed", "7d"])).toMatchObject({ code: 0 });
    expect(await queuectlJson(["config", "get", "retention_completed"])).toEqual({ key: "retention_completed", value: 604800 });
    expect((await queuectl(["config", "set", "retention_completed", "soon"])).code).toBe(2);
    await queuectl(["config", "set", "retention_completed", "0"]);
  });
});

describe("wait", () => {
  it("exits 0 when the jobs complete, with the job's exit code when it dies, 1 when cancelled, 124 on timeout, 3 for unknown ids", async () => {
    const worker = startWorkerProcess(["--queue", "wq", "--concurrency", "4"]);
    try {
      await enqueueJobs(db, {
        specs: [
          { id: "w-ok", command: "sleep 0.5", queue: "wq" },
          { id: "w-dies", command: "sleep 0.3; exit 7", queue: "wq", max_retries: 0 },
          { id: "w-long", command: "sleep 30", queue: "wq" },
        ],
      });
      const t0 = Date.now();
      expect(await queuectl(["wait", "w-ok"])).toEqual({ code: 0, stdout: "", stderr: "" });
      expect(Date.now() - t0).toBeGreaterThan(300);
      expect(await queuectl(["wait", "w-dies", "w-ok"])).toEqual({ code: 7, stdout: "", stderr: "queuectl: job 'w-dies' is dead (exit code 7)" });
      expect(await queuectl(["wait", "w-long", "--timeout", "0.5"])).toEqual({ code: 124, stdout: "", stderr: "queuectl: timed out waiting for w-long (processing)" });
      const waiting = queuectl(["wait", "w-long", "--json"]);
      await new Promise((r) => setTimeout(r, 800));
      await queuectl(["cancel", "w-long"]);
      const res = await waiting;
      expect(res.code).toBe(1);
      expect(res.stderr).toBe("queuectl: job 'w-long' was cancelled");
      expect(JSON.parse(res.stdout)).toEqual([{ id: "w-long", state: "cancelled", exit_code: null }]);
      expect(await queuectl(["wait", "w-ok", "ghost"])).toEqual({ code: 3, stdout: "", stderr: "queuectl: no job 'ghost'" });
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
  });
});
