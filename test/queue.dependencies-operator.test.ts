/**
 * Dependencies under operator actions: purge (and retention) racing completions never leaves a job
 * waiting on nothing, the rescuer's sweep repairs a job that was left so by a deletion, and requeue /
 * dlq retry never run a job before its dependencies completed (they wait again, or are refused).
 */
import { describe, expect, it } from "vitest";
import { InvalidStateError } from "../src/errors.js";
import { settleFinishedJobs } from "../src/queue/dependencies.js";
import { retryDead } from "../src/queue/dlq.js";
import { enqueueJobs } from "../src/queue/enqueue.js";
import { cancel, purge, requeue } from "../src/queue/operator.js";
import { createPrismaClient } from "../src/db/prisma.js";
import { loadConfig } from "../src/queue/config.js";
import { failJob } from "../src/queue/sql/outcomes.js";
import { RescuerService } from "../src/worker/rescuer-service.js";
import { createLogger } from "../src/worker/logger.js";
import { useTestDatabase } from "./helpers/db.js";
import { claimJobs, completeJob } from "./helpers/queue.js";
import { startInProcessWorker, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();

async function row(id: string) {
  return (await db.pool.query("SELECT state::text, deps_pending, last_error FROM jobs WHERE id = $1", [id])).rows[0];
}

async function runOne(queue: string, exitCode = 0) {
  const [job] = await claimJobs(db.pool, { workerId: "w1", queues: [queue], limit: 1, leaseMs: 60_000 });
  const base = { jobId: job!.id, workerId: "w1", attempt: job!.attempt, exitCode, output: "", durationMs: 1 };
  if (exitCode === 0) await completeJob(db.pool, base);
  else await failJob(db.pool, { ...base, error: `exit code ${exitCode}`, backoffBase: 2, backoffMaxS: 60 });
  return job!;
}

describe("purge and completion", () => {
  it("purge keeps a completed job until the jobs after it have completed, settling them first", async () => {
    await enqueueJobs(db, { specs: [{ id: "p", command: "true", queue: "pq" }, { id: "k", command: "true", queue: "pq", depends_on: ["p"] }] });
    await runOne("pq");
    // Completed, its dependent not settled yet: the moment the race used to strike. Purge settles it
    // (k is runnable now) and keeps p while k has not run.
    expect(await purge(db.pool, { state: "completed", olderThanS: 0 })).toBe(0);
    expect(await row("k")).toMatchObject({ state: "pending", deps_pending: 0 });
    expect(await row("p")).toMatchObject({ state: "completed" });
    await runOne("pq");
    expect(await purge(db.pool, { state: "completed", olderThanS: 0 })).toBe(2);
    expect(await row("p")).toBeUndefined();
  });

  it("purge keeps a dead or cancelled job while a job after it has not completed, so a requeue still knows what it waits for", async () => {
    await enqueueJobs(db, { specs: [{ id: "pa", command: "true", queue: "pc", max_retries: 0 }, { id: "pb", command: "true", queue: "pc", depends_on: ["pa"] }] });
    await runOne("pc", 1);
    await settleFinishedJobs(db.pool, ["pa"]);
    expect(await row("pb")).toMatchObject({ state: "cancelled" });
    expect(await purge(db.pool, { state: "dead", olderThanS: 0 })).toBe(0);
    await expect(requeue(db.pool, { ids: ["pb"] })).rejects.toThrow(/runs after 'pa', which is dead/);
    // Once the job after it is gone, it goes too.
    expect(await purge(db.pool, { state: "cancelled", olderThanS: 0 })).toBe(1);
    expect(await purge(db.pool, { state: "dead", olderThanS: 0 })).toBe(1);
  });

  it("two workers and a purge loop: every dependent runs, none is left waiting on nothing (300 pairs)", async () => {
    const pairs = 300;
    const specs = [];
    for (let i = 0; i < pairs; i++) specs.push({ id: `P${i}`, command: "true", queue: "race" }, { id: `K${i}`, command: "true", queue: "race", depends_on: [`P${i}`] });
    await enqueueJobs(db, { specs });
    const workers = await Promise.all([startInProcessWorker(db, { queues: ["race"], concurrency: 4 }), startInProcessWorker(db, { queues: ["race"], concurrency: 4 })]);
    let purging = true;
    const purged = (async () => {
      let n = 0;
      while (purging) n += await purge(db.pool, { state: "completed", olderThanS: 0 });
      return n;
    })();
    try {
      await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE id LIKE 'K%' AND state <> 'completed'")).rows[0].n === 0, {
        timeoutMs: 60_000,
        what: "every K job to complete",
      });
    } finally {
      purging = false;
      await purged;
      for (const w of workers) w.requestStop("test over");
      await Promise.all(workers.map((w) => w.finished()));
    }
    const stranded = await db.pool.query("SELECT id FROM jobs WHERE deps_pending > 0 AND state = 'pending'");
    expect(stranded.rows).toEqual([]);
    const left = await db.pool.query("SELECT id, state::text, deps_pending FROM jobs WHERE queue = 'race' AND state <> 'completed' ORDER BY id");
    expect(left.rows).toEqual([]);
  });

  it("the rescuer's sweep cancels a job left waiting on a dependency deleted before it settled, naming why", async () => {
    await enqueueJobs(db, { specs: [{ id: "gone", command: "true", queue: "sw" }, { id: "orphan", command: "true", queue: "sw", depends_on: ["gone"] }, { id: "after-orphan", command: "true", queue: "sw", depends_on: ["orphan"] }] });
    // What an older build's purge (or a DELETE by hand) left: the dependency and its edge gone, the count not.
    await db.pool.query("DELETE FROM jobs WHERE id = 'gone'");
    expect(await row("orphan")).toMatchObject({ state: "pending", deps_pending: 1 });
    const config = await loadConfig(db.pool);
    await new RescuerService({ pool: db.pool, log: createLogger({}, "silent"), config: () => config }).runOnce();
    expect(await row("orphan")).toMatchObject({ state: "cancelled", deps_pending: 0 });
    expect((await row("orphan")).last_error).toMatch(/^cancelled: 1 of its dependencies were deleted before they were settled; requeue it/);
    // The job after it is cancelled in turn, as for any dependency that will not complete.
    expect(await row("after-orphan")).toMatchObject({ state: "cancelled" });
    // A requeue runs it (it waits on nothing now); the one after it waits for it again.
    expect(await requeue(db.pool, { ids: ["orphan", "after-orphan"] })).toEqual(["orphan", "after-orphan"]);
    expect(await row("orphan")).toMatchObject({ state: "pending", deps_pending: 0 });
    expect(await row("after-orphan")).toMatchObject({ state: "pending", deps_pending: 1 });
  });
});

describe("requeue and dlq retry with dependencies", () => {
  it("a job whose dependency was cancelled is refused, naming it; requeued together, it waits for it again", async () => {
    await enqueueJobs(db, { specs: [{ id: "A", command: "true", queue: "rq" }, { id: "B", command: "true", queue: "rq", depends_on: ["A"] }] });
    await cancel(db.pool, { id: "A" });
    expect(await row("B")).toMatchObject({ state: "cancelled" });
    const before = (await db.pool.query("SELECT id, state, deps_pending, updated_at FROM jobs ORDER BY id")).rows;
    await expect(requeue(db.pool, { ids: ["B"] })).rejects.toThrow(new InvalidStateError("job 'B' runs after 'A', which is cancelled: requeue 'A' first (or in the same requeue); nothing was changed"));
    expect((await db.pool.query("SELECT id, state, deps_pending, updated_at FROM jobs ORDER BY id")).rows).toEqual(before);

    expect(await requeue(db.pool, { ids: ["A", "B"] })).toEqual(["A", "B"]);
    expect(await row("B")).toMatchObject({ state: "pending", deps_pending: 1 });
    // The claim gives A only; B after A completes.
    expect((await claimJobs(db.pool, { workerId: "w1", queues: ["rq"], limit: 5, leaseMs: 60_000 })).map((j) => j.id)).toEqual(["A"]);
    await completeJob(db.pool, { jobId: "A", workerId: "w1", attempt: 1, exitCode: 0, output: "", durationMs: 1 });
    expect(await settleFinishedJobs(db.pool, ["A"])).toEqual({ released: ["B"], cancelled: [] });
    expect((await claimJobs(db.pool, { workerId: "w1", queues: ["rq"], limit: 5, leaseMs: 60_000 })).map((j) => j.id)).toEqual(["B"]);
  });

  it("a job requeued while its dependency runs again waits for that run; a completed dependency lets it run at once", async () => {
    await enqueueJobs(db, { specs: [{ id: "C", command: "true", queue: "rq2" }, { id: "D", command: "true", queue: "rq2", depends_on: ["C"] }] });
    await runOne("rq2");
    await settleFinishedJobs(db.pool, ["C"]);
    await runOne("rq2");
    // Both completed. D again: C completed, so D runs at once.
    expect(await requeue(db.pool, { ids: ["D"] })).toEqual(["D"]);
    expect(await row("D")).toMatchObject({ state: "pending", deps_pending: 0 });
    await runOne("rq2");
    // C again, then D: D waits for C's new run.
    await requeue(db.pool, { ids: ["C"] });
    await requeue(db.pool, { ids: ["D"] });
    expect(await row("D")).toMatchObject({ state: "pending", deps_pending: 1 });
  });

  it("dlq retry of a job whose dependency is cancelled is refused; with a dead dependency retried alongside, it waits", async () => {
    const prisma = createPrismaClient(db.pool);
    const ctx = { pool: db.pool, prisma };
    await enqueueJobs(db, { specs: [{ id: "E", command: "true", queue: "dq", max_retries: 0 }, { id: "F", command: "true", queue: "dq", max_retries: 0, depends_on: ["E"] }] });
    await runOne("dq");
    await settleFinishedJobs(db.pool, ["E"]);
    await runOne("dq", 3);
    expect(await row("F")).toMatchObject({ state: "dead" });
    // E runs again and dies; F is dead, its dependency dead too.
    await requeue(db.pool, { ids: ["E"] });
    await runOne("dq", 3);
    await expect(retryDead(ctx, { ids: ["F"] })).rejects.toThrow(/job 'F' runs after 'E', which is dead: retry 'E' first/);
    expect((await retryDead(ctx, { ids: ["E", "F"] })).sort()).toEqual(["E", "F"]);
    expect(await row("F")).toMatchObject({ state: "pending", deps_pending: 1 });
    await prisma.$disconnect();
  });
});
