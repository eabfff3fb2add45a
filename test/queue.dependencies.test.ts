/**
 * Dependencies through the queue's own statements: a waiting job is never claimed, completing its
 * dependencies releases it exactly once even when they complete at the same instant, a dead
 * dependency cancels the chain below it, and enqueue refuses dependencies that cannot work.
 */
import { describe, expect, it } from "vitest";
import { InvalidInputError, InvalidStateError, NotFoundError } from "../src/errors.js";
import { settleFinishedJobs } from "../src/queue/dependencies.js";
import { enqueueJobs } from "../src/queue/enqueue.js";

import { failJob } from "../src/queue/sql/outcomes.js";
import { findUnsettledDependencies } from "../src/queue/sql/dependencies.js";
import { rescueExpiredJobs } from "../src/queue/sql/leases.js";
import { useTestDatabase } from "./helpers/db.js";
import { claimJobs, completeJob } from "./helpers/queue.js";
import { claimLimitedJobs } from "../src/queue/sql/claim.js";
import { setQueueSettings } from "../src/queue/sql/queues.js";

const db = useTestDatabase();

async function claimOne(queue: string, workerId = "w1") {
  const [job] = await claimJobs(db.pool, { workerId, queues: [queue], limit: 1, leaseMs: 60_000 });
  return job;
}

async function complete(id: string, attempt: number, workerId = "w1") {
  return completeJob(db.pool, { jobId: id, workerId, attempt, exitCode: 0, output: "", durationMs: 1 });
}

async function row(id: string) {
  return (await db.pool.query("SELECT state::text, deps_pending, last_error FROM jobs WHERE id = $1", [id])).rows[0];
}

describe("dependencies", () => {
  it("a job waits until every dependency completed; the claim never returns it before", async () => {
    await enqueueJobs(db, { specs: [{ id: "a1", command: "true", queue: "d1" }, { id: "a2", command: "true", queue: "d1" }] });
    await enqueueJobs(db, { specs: [{ id: "b", command: "true", queue: "d1", depends_on: ["a1", "a2"] }] });
    expect(await row("b")).toMatchObject({ state: "pending", deps_pending: 2 });
    const first = await claimJobs(db.pool, { workerId: "w1", queues: ["d1"], limit: 10, leaseMs: 60_000 });
    expect(first.map((j) => j.id).sort()).toEqual(["a1", "a2"]);

    expect(await complete("a1", 1)).toEqual({ dependents: 1 });
    expect(await settleFinishedJobs(db.pool, ["a1"])).toEqual({ released: [], cancelled: [] });
    expect(await row("b")).toMatchObject({ state: "pending", deps_pending: 1 });
    expect(await claimOne("d1")).toBeUndefined();

    await complete("a2", 1);
    expect(await settleFinishedJobs(db.pool, ["a2"])).toEqual({ released: ["b"], cancelled: [] });
    // Settling again changes nothing: each edge is settled once.
    expect(await settleFinishedJobs(db.pool, ["a1", "a2"])).toEqual({ released: [], cancelled: [] });
    expect(await row("b")).toMatchObject({ state: "pending", deps_pending: 0 });
    expect((await claimOne("d1"))?.id).toBe("b");
  });

  it("two dependencies completing at the same instant release the dependent exactly once (x20)", async () => {
    for (let round = 0; round < 20; round++) {
      const q = `same-${round}`;
      await enqueueJobs(db, { specs: [{ id: `${q}-x`, command: "true", queue: q }, { id: `${q}-y`, command: "true", queue: q }, { id: `${q}-z`, command: "true", queue: q, depends_on: [`${q}-x`, `${q}-y`] }] });
      await claimJobs(db.pool, { workerId: "w1", queues: [q], limit: 2, leaseMs: 60_000 });
      await Promise.all([complete(`${q}-x`, 1), complete(`${q}-y`, 1)]);
      const settled = await Promise.all([settleFinishedJobs(db.pool, [`${q}-x`]), settleFinishedJobs(db.pool, [`${q}-y`]), settleFinishedJobs(db.pool, [`${q}-x`, `${q}-y`])]);
      expect(settled.flatMap((s) => s.released)).toEqual([`${q}-z`]);
      expect(await row(`${q}-z`)).toMatchObject({ state: "pending", deps_pending: 0 });
    }
  });

  it("a dependent enqueued while its dependency completes is never left waiting (x30)", async () => {
    for (let round = 0; round < 30; round++) {
      const q = `race-${round}`;
      await enqueueJobs(db, { specs: [{ id: `${q}-dep`, command: "true", queue: q }] });
      const dep = await claimOne(q);
      // What the worker does (complete, then settle when the row says it has dependents) racing an enqueue.
      const worker = (async () => {
        const done = await complete(dep!.id, dep!.attempt);
        if (done && done.dependents > 0) await settleFinishedJobs(db.pool, [dep!.id]);
      })();
      const enqueuer = enqueueJobs(db, { specs: [{ id: `${q}-after`, command: "true", queue: q, depends_on: [`${q}-dep`] }] });
      await Promise.all([worker, enqueuer]);
      expect(await row(`${q}-after`)).toMatchObject({ state: "pending", deps_pending: 0 });
    }
  });

  it("200 dependents of one job are all released by its completion, while other settles run", async () => {
    await enqueueJobs(db, { specs: [{ id: "root", command: "true", queue: "fan" }] });
    await enqueueJobs(db, { specs: Array.from({ length: 200 }, (_, i) => ({ id: `leaf-${i}`, command: "true", queue: "fan", depends_on: ["root"] })) });
    const root = await claimOne("fan");
    expect(await complete("root", root!.attempts)).toEqual({ dependents: 200 });
    const settled = await Promise.all(Array.from({ length: 6 }, () => settleFinishedJobs(db.pool, ["root"])));
    expect(settled.flatMap((s) => s.released).sort()).toEqual(Array.from({ length: 200 }, (_, i) => `leaf-${i}`).sort());
    const claimed = await claimJobs(db.pool, { workerId: "w2", queues: ["fan"], limit: 500, leaseMs: 60_000 });
    expect(claimed).toHaveLength(200);
  });

  it("a dead dependency cancels the chain below it, naming the dependency", async () => {
    await enqueueJobs(db, {
      specs: [
        { id: "A", command: "false", queue: "chain", max_retries: 0 },
        { id: "B", command: "true", queue: "chain", depends_on: ["A"] },
        { id: "C", command: "true", queue: "chain", depends_on: ["B"] },
        { id: "other", command: "true", queue: "chain" },
        { id: "D", command: "true", queue: "chain", depends_on: ["other", "C"] },
      ],
    });
    const a = await claimOne("chain");
    expect(a?.id).toBe("A");
    const failed = await failJob(db.pool, { jobId: "A", workerId: "w1", attempt: 1, exitCode: 1, output: "", durationMs: 1, error: "exit code 1", backoffBase: 2, backoffMaxS: 60 });
    expect(failed).toMatchObject({ state: "dead", dependents: 1 });
    expect(await settleFinishedJobs(db.pool, ["A"])).toEqual({ released: [], cancelled: ["B", "C", "D"] });
    expect(await row("B")).toEqual({ state: "cancelled", deps_pending: 0, last_error: "cancelled: dependency A ended dead" });
    expect(await row("C")).toMatchObject({ state: "cancelled", last_error: "cancelled: dependency B ended cancelled" });
    expect(await row("D")).toMatchObject({ state: "cancelled", last_error: "cancelled: dependency C ended cancelled" });
    // "other" is unaffected and runs.
    expect((await claimOne("chain"))?.id).toBe("other");
  });

  it("a job whose lease ran out on its last attempt (rescuer: dead) is found by the sweep and cancels its dependents", async () => {
    await enqueueJobs(db, { specs: [{ id: "lost", command: "sleep 100", queue: "lost", max_retries: 0 }, { id: "after-lost", command: "true", queue: "lost", depends_on: ["lost"] }] });
    await claimJobs(db.pool, { workerId: "gone", queues: ["lost"], limit: 1, leaseMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const rescued = await rescueExpiredJobs(db.pool, { backoffBase: 2, backoffMaxS: 60, limit: 10 });
    expect(rescued.find((j) => j.id === "lost")).toMatchObject({ state: "dead", dependents: 1 });
    expect(await findUnsettledDependencies(db.pool, 100)).toContain("lost");
    await settleFinishedJobs(db.pool, await findUnsettledDependencies(db.pool, 100));
    expect(await row("after-lost")).toMatchObject({ state: "cancelled", last_error: "cancelled: dependency lost ended dead" });
    expect(await findUnsettledDependencies(db.pool, 100)).not.toContain("lost");
  });

  it("depending on a completed job counts as met; on a missing, dead or cancelled one is refused and inserts nothing", async () => {
    await enqueueJobs(db, { specs: [{ id: "after-done", command: "true", queue: "done", depends_on: ["a1"] }] });
    expect(await row("after-done")).toMatchObject({ state: "pending", deps_pending: 0 });

    const count = async () => (await db.pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n;
    const before = await count();
    await expect(enqueueJobs(db, { specs: [{ id: "n1", command: "true", depends_on: ["nope"] }] })).rejects.toThrow(new NotFoundError("no job 'nope' to depend on"));
    await expect(enqueueJobs(db, { specs: [{ id: "n2", command: "true", depends_on: ["A"] }] })).rejects.toThrow(new InvalidStateError("job 'A' is dead: a job after it would never run"));
    await expect(enqueueJobs(db, { specs: [{ id: "n3", command: "true", depends_on: ["B"] }] })).rejects.toThrow(/job 'B' is cancelled/);
    await expect(enqueueJobs(db, { specs: [{ id: "n4", command: "true", depends_on: ["n5"] }, { id: "n5", command: "true" }] })).rejects.toThrow(InvalidInputError);
    await expect(enqueueJobs(db, { specs: [{ id: "n6", command: "true", depends_on: ["n6"] }] })).rejects.toThrow(/depends on 'n6', which is itself/);
    expect(await count()).toBe(before);
    // The refused enqueues left no dependents counted on the jobs they named.
    expect((await db.pool.query("SELECT dependents FROM jobs WHERE id = 'A'")).rows[0].dependents).toBe(1);
  });

  it("a job may depend on one earlier in the same input", async () => {
    await enqueueJobs(db, { specs: [{ id: "s1", command: "true", queue: "same" }, { id: "s2", command: "true", queue: "same", depends_on: ["s1"] }] });
    expect(await row("s2")).toMatchObject({ deps_pending: 1 });
    expect((await db.pool.query("SELECT dependents FROM jobs WHERE id = 's1'")).rows[0].dependents).toBe(1);
    expect((await claimJobs(db.pool, { workerId: "w", queues: ["same"], limit: 5, leaseMs: 60_000 })).map((j) => j.id)).toEqual(["s1"]);
  });

  it("a job depending on one of the same input that a held unique key kept out is refused, and nothing is enqueued", async () => {
    await enqueueJobs(db, { specs: [{ id: "holder", command: "true", queue: "uk", unique_key: "nightly" }] });
    const before = (await db.pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n;
    await expect(
      enqueueJobs(db, { specs: [{ id: "again", command: "true", queue: "uk", unique_key: "nightly" }, { id: "after-again", command: "true", queue: "uk", depends_on: ["again"] }] }),
    ).rejects.toThrow(new InvalidStateError("job 'after-again' depends on 'again', which was not added: an active job holds its unique key 'nightly'; nothing was enqueued"));
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n).toBe(before);
  });

  it("a dependent claimed by a claim that began before its release shows started_at after its dependency finished", async () => {
    // A claim whose transaction began before the dependency completed (here: waiting for a limited
    // queue's lock) still claims the released job; what it records must not say it started first.
    await setQueueSettings(db.pool, { name: "order", concurrencyLimit: 1 });
    await enqueueJobs(db, { specs: [{ id: "first", command: "true", queue: "order" }, { id: "then", command: "true", queue: "order", depends_on: ["first"] }] });
    const [first] = await claimLimitedJobs(db.pool, { workerId: "w1", queues: ["order"], limit: 1, leaseMs: 60_000 });
    expect(first?.id).toBe("first");

    const holder = await db.pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT name FROM queues WHERE name = 'order' FOR UPDATE");
      const claim = claimLimitedJobs(db.pool, { workerId: "w2", queues: ["order"], limit: 1, leaseMs: 60_000 });
      // Wait until the claim's transaction is queued on the queue row's lock.
      for (let i = 0; ; i++) {
        const waiting = await db.pool.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        if (waiting.rowCount) break;
        if (i > 500) throw new Error("the claim never waited for the queue lock");
        await new Promise((r) => setTimeout(r, 10));
      }
      await complete("first", first!.attempt);
      expect(await settleFinishedJobs(db.pool, ["first"])).toEqual({ released: ["then"], cancelled: [] });
      await holder.query("COMMIT");
      expect((await claim).map((j) => j.id)).toEqual(["then"]);
    } finally {
      holder.release();
    }
    const times = await db.pool.query<{ id: string; started_at: Date; finished_at: Date | null; attempt_started: Date }>(
      "SELECT j.id, j.started_at, j.finished_at, a.started_at AS attempt_started FROM jobs j JOIN job_attempts a ON a.job_id = j.id WHERE j.id IN ('first', 'then')",
    );
    const by = Object.fromEntries(times.rows.map((r) => [r.id, r]));
    expect(by.then!.started_at.getTime()).toBeGreaterThanOrEqual(by.first!.finished_at!.getTime());
    expect(by.then!.attempt_started.getTime()).toBe(by.then!.started_at.getTime());
  });
});
