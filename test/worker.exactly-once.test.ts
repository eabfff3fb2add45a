/**
 * Never two workers on one job: 4 worker processes share 1000 jobs, each job appends its own id to a
 * file; every id must appear exactly once, and every job must end completed with one attempt.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { completeAndClaimJobs, type ClaimedJob } from "../src/queue/sql/claim.js";
import { rescueExpiredJobs } from "../src/queue/sql/leases.js";
import { useTestDatabase } from "./helpers/db.js";
import { countByState, enqueue, startWorkerProcess, waitFor } from "./helpers/workers.js";
import { claimJobs } from "./helpers/queue.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-once-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("claiming", () => {
  it("4 worker processes x 1000 jobs run every job exactly once", async () => {
    const out = join(dir, "ran.txt");
    const specs = Array.from({ length: 1000 }, (_, i) => ({ id: `once-${i}`, command: `echo "$QUEUECTL_JOB_ID" >> ${out}` }));
    const workers = Array.from({ length: 4 }, () => startWorkerProcess(["--concurrency", "2"]));
    // Let them all be idle and listening first, so the claim race is real.
    await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM workers WHERE state = 'running'")).rows[0].n === 4, { what: "4 workers" });
    await enqueue(db.pool, specs);
    await waitFor(async () => (await countByState(db.pool)).completed === 1000, { timeoutMs: 45_000, what: "1000 completed jobs" });
    for (const w of workers) w.child.kill("SIGTERM");
    const codes = await Promise.all(workers.map((w) => w.exited));
    expect(codes).toEqual([0, 0, 0, 0]);

    const lines = readFileSync(out, "utf8").trim().split("\n");
    expect(lines.length).toBe(1000);
    expect(new Set(lines).size).toBe(1000);
    expect(await countByState(db.pool)).toEqual({ completed: 1000 });
    const attempts = await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT worker_id)::int AS workers FROM job_attempts");
    expect(attempts.rows[0].n).toBe(1000);
    // The work was shared, not done by one process.
    expect(attempts.rows[0].workers).toBeGreaterThan(1);
  });

  it("concurrent claims on one database never return the same job twice", async () => {
    await enqueue(db.pool, Array.from({ length: 300 }, (_, i) => ({ id: `race-${i}`, command: "true" })));
    const claimers = Array.from({ length: 12 }, (_, i) => (async () => {
      const got: string[] = [];
      for (;;) {
        const jobs = await claimJobs(db.pool, { workerId: `w${i}`, queues: [], limit: 3, leaseMs: 60_000 });
        if (jobs.length === 0) return got;
        got.push(...jobs.map((j) => j.id));
      }
    })());
    const all = (await Promise.all(claimers)).flat();
    expect(all.length).toBe(300);
    expect(new Set(all).size).toBe(300);
  });

  it("8 loops completing and claiming in one statement finish 1500 jobs, each once, while leases expire under them", async () => {
    await enqueue(db.pool, Array.from({ length: 1500 }, (_, i) => ({ id: `cc-${i}`, queue: "cc", command: "true", max_retries: 100 })));
    const accepted: string[] = [];
    let refused = 0;
    const loop = async (i: number) => {
      let held: ClaimedJob[] = [];
      for (let pass = 0; ; pass++) {
        // Every fifth pass, loop 0 holds its jobs past their 1 ms lease, so the rescuer takes them
        // over and its completions must be refused while the other loops' batches go through.
        const slow = i === 0 && pass % 5 === 4;
        const slowNext = i === 0 && pass % 5 === 3;
        if (slow && held.length > 0) {
          await new Promise((r) => setTimeout(r, 30));
          await rescueExpiredJobs(db.pool, { backoffBase: 1, backoffMaxS: 0, limit: 100 });
          // Let the other loops claim them again first: the late result then meets a newer attempt (or a finished job).
          const ids = held.map((j) => j.id);
          await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND state = 'failed'", [ids])).rows[0].n === 0, { what: "rescued jobs claimed again" });
        }
        const { completed, claimed } = await completeAndClaimJobs(db.pool, {
          workerId: `w${i}`,
          queues: ["cc"],
          limit: 3,
          leaseMs: slowNext ? 1 : 60_000,
          completions: held.map((j) => ({ jobId: j.id, attempt: j.attempt, exitCode: 0, output: `by w${i}`, durationMs: 1 })),
        });
        for (const j of held) {
          if (completed.has(j.id)) accepted.push(j.id);
          else refused++;
        }
        held = claimed;
        if (held.length === 0) {
          // Nothing runnable: done, unless a failed (rescued) job is waiting for its retry.
          const left = await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE id LIKE 'cc-%' AND state <> 'completed'");
          if (left.rows[0].n === 0) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => loop(i)));

    expect(accepted.length).toBe(1500);
    expect(new Set(accepted).size).toBe(1500);
    const states = await db.pool.query("SELECT state, count(*)::int AS n FROM jobs WHERE id LIKE 'cc-%' GROUP BY state");
    expect(states.rows).toEqual([{ state: "completed", n: 1500 }]);
    // Every finished attempt row belongs to the completion that was accepted; a refused attempt
    // was closed by the rescuer, never by its late completion.
    const rows = await db.pool.query(
      `SELECT count(*)::int AS finished, count(*) FILTER (WHERE a.output = 'by ' || a.worker_id)::int AS by_holder
       FROM job_attempts a JOIN jobs j ON j.id = a.job_id AND j.last_attempt = a.attempt WHERE a.job_id LIKE 'cc-%' AND a.finished_at IS NOT NULL`,
    );
    expect(rows.rows[0]).toEqual({ finished: 1500, by_holder: 1500 });
    // The race was real: the rescuer took jobs from the slow loop and their late results were refused.
    expect(refused).toBeGreaterThan(0);
  });
});

describe("the claim statement's plan", () => {
  it("walks the claim index, not the whole table, once PostgreSQL plans it generically (one queue, 3000 jobs waiting)", async () => {
    // One queue name in the statistics is what made the generic plan sort every runnable job: it
    // costed "not a held queue" as matching no row.
    await db.pool.query("DELETE FROM jobs");
    await enqueue(db.pool, Array.from({ length: 3000 }, (_, i) => ({ id: `plan-${i}`, command: "true" })));
    await db.pool.query("ANALYZE jobs");
    const client = await db.pool.connect();
    try {
      await client.query("SET plan_cache_mode = force_generic_plan");
      await client.query("BEGIN");
      // This backend's table counters, flushed or not (pg_stat_xact_*): scans of jobs since `before`.
      const scans = async () => {
        const r = await client.query("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'jobs'");
        return { seq: Number(r.rows[0].seq_scan), idx: Number(r.rows[0].idx_scan) };
      };
      const before = await scans();
      let held: ClaimedJob[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await completeAndClaimJobs(client, {
          workerId: "planner",
          queues: [],
          limit: 2,
          leaseMs: 60_000,
          completions: held.map((j) => ({ jobId: j.id, attempt: j.attempt, exitCode: 0, output: "", durationMs: 1 })),
        });
        expect(r.claimed.length).toBe(2);
        held = r.claimed;
      }
      const after = await scans();
      expect(after.seq - before.seq).toBe(0);
      expect(after.idx - before.idx).toBeGreaterThanOrEqual(8);
    } finally {
      await client.query("ROLLBACK").catch(() => {});
      client.release(true);
    }
  });
});
