/**
 * The queue's job operations called directly, as the dashboard does (src/queue/enqueue.ts,
 * job-reads.ts, status.ts, dlq.ts): enqueue atomicity across batches, the NOTIFY on commit, typed
 * errors, and paging.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../src/db/prisma.js";
import { InvalidInputError, InvalidStateError, NotFoundError } from "../src/errors.js";
import { generateJobIds } from "../src/queue/job-spec.js";
import type { QueueContext } from "../src/queue/context.js";
import { listDeadLetters, retryDead } from "../src/queue/dlq.js";
import { enqueueJobs } from "../src/queue/enqueue.js";
import { getJob, listJobs } from "../src/queue/job-reads.js";
import { queueStatus } from "../src/queue/status.js";
import { JOBS_CHANNEL } from "../src/queue/sql/channels.js";
import { useTestDatabase } from "./helpers/db.js";

const db = useTestDatabase();
let prisma: PrismaClient;
let ctx: QueueContext;

beforeAll(() => {
  prisma = createPrismaClient(db.pool);
  ctx = { pool: db.pool, prisma };
});
afterAll(async () => {
  await prisma.$disconnect();
});

async function jobCount(): Promise<number> {
  return (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs")).rows[0]!.n;
}

describe("enqueueJobs", () => {
  it("inserts in batches and returns ids in input order, with the config's max_retries as default", async () => {
    await db.pool.query("INSERT INTO config (key, value) VALUES ('max_retries', '6')");
    const specs = Array.from({ length: 25 }, (_, i) => ({ command: `echo ${i}`, ...(i === 3 ? { id: "given", max_retries: 1 } : {}) }));
    const ids = await enqueueJobs(ctx, { specs, batchSize: 10 });
    expect(ids).toHaveLength(25);
    expect(ids[3]).toBe("given");
    const rows = await db.pool.query("SELECT id, command, max_retries FROM jobs ORDER BY seq");
    expect(rows.rows.map((r) => r.id)).toEqual(ids);
    expect(rows.rows[0]).toMatchObject({ command: "echo 0", max_retries: 6 });
    expect(rows.rows[3]).toMatchObject({ id: "given", max_retries: 1 });
    await db.pool.query("DELETE FROM config");
  });

  it("inserts nothing when a later batch hits an existing id", async () => {
    const before = await jobCount();
    const specs = Array.from({ length: 30 }, (_, i) => ({ id: i === 29 ? "given" : `batch-${i}`, command: "true" }));
    const err = await enqueueJobs(ctx, { specs, batchSize: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toBe("job id 'given' already exists");
    expect(await jobCount()).toBe(before);
    // The connection went back to the pool usable (the transaction was rolled back).
    expect(await enqueueJobs(ctx, { specs: [{ id: "after", command: "true" }] })).toEqual(["after"]);
  });

  it("20 000 jobs with one id that exists already, in the middle: nothing is inserted", async () => {
    await enqueueJobs(ctx, { specs: [{ id: "taken", command: "true" }] });
    const before = await jobCount();
    const specs = Array.from({ length: 20_000 }, (_, i) => ({ command: `echo ${i}`, ...(i === 12_345 ? { id: "taken" } : {}) }));
    const err = await enqueueJobs(ctx, { specs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toBe("job id 'taken' already exists");
    expect(await jobCount()).toBe(before);
    expect(await enqueueJobs(ctx, { specs: [{ id: "after-20k", command: "true" }] })).toEqual(["after-20k"]);
  });

  it("stores every field exactly: tabs, newlines, backslashes, \\N, \\., quotes and unicode; run_at given or now()", async () => {
    const odd = ["a\tb", "line1\nline2\r\n", "back\\slash \\N \\. \\\\", "\\.", "\\N", "'\"; DROP TABLE jobs; --", "ünïcødé ✓ 𝄞 日本", " lead and trail "];
    const specs = [
      ...odd.map((command, i) => ({ id: `odd-${i}`, command, queue: "odd", cwd: `/tmp/${command.replace(/\s/g, "")}`, env: { V: command, W_X: "x\ty" } })),
      { id: "odd-plain", command: "true", queue: "odd", retry_on: [1, 75], no_retry_on: [], timeout: 1500, run_at: "2030-01-02T03:04:05.678Z", priority: -7, max_retries: 9 },
    ];
    await enqueueJobs(ctx, { specs });
    const rows = (
      await db.pool.query(
        "SELECT id, command, cwd, env, retry_on, no_retry_on, timeout_ms, run_at, run_at = created_at AS run_now, priority, max_retries, deps_pending FROM jobs WHERE queue = 'odd' ORDER BY seq",
      )
    ).rows;
    expect(rows.map((r) => r.id)).toEqual(specs.map((s) => s.id));
    for (const [i, command] of odd.entries()) {
      expect(rows[i]).toMatchObject({ command, cwd: `/tmp/${command.replace(/\s/g, "")}`, env: { V: command, W_X: "x\ty" }, retry_on: null, timeout_ms: null, run_now: true });
    }
    expect(rows.at(-1)).toMatchObject({ retry_on: [1, 75], no_retry_on: [], timeout_ms: 1500, priority: -7, max_retries: 9, cwd: null, env: null, deps_pending: 0 });
    expect((rows.at(-1).run_at as Date).toISOString()).toBe("2030-01-02T03:04:05.678Z");
  });

  it("wakes listeners once per queue, on commit", async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const payloads: string[] = [];
    listener.on("notification", (n) => payloads.push(n.payload ?? ""));
    await listener.query(`LISTEN ${JOBS_CHANNEL}`);
    // A few plain jobs go in with one statement; keyed ones through the transaction: both notify.
    await enqueueJobs(ctx, { specs: [{ command: "a", queue: "q1" }, { command: "b", queue: "q2" }, { command: "c", queue: "q1" }] });
    await enqueueJobs(ctx, { specs: [{ command: "d", queue: "q3", unique_key: "wake-q3" }] });
    for (let i = 0; i < 50 && payloads.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
    await listener.end();
    expect(payloads.sort()).toEqual(["q1", "q2", "q3"]);
  });

  it("generates distinct 12-character ids", () => {
    const ids = generateJobIds(10_000);
    expect(new Set(ids).size).toBe(10_000);
    for (const id of ids.slice(0, 100)) expect(id).toMatch(/^[0-9a-hjkmnp-tv-z]{12}$/);
  });
});

describe("reads", () => {
  it("getJob throws NotFoundError for an unknown id", async () => {
    await expect(getJob(ctx, { id: "missing" })).rejects.toThrow(NotFoundError);
    expect((await getJob(ctx, { id: "given" })).job).toMatchObject({ id: "given", max_retries: 1, state: "pending" });
  });

  it("listJobs pages and says when there is more", async () => {
    const first = await listJobs(ctx, { limit: 20 });
    expect(first.jobs).toHaveLength(20);
    expect(first.more).toBe(true);
    const total = await jobCount();
    const last = await listJobs(ctx, { limit: 20, offset: total - 5 });
    expect(last).toMatchObject({ more: false });
    expect(last.jobs).toHaveLength(5);
    expect((await listJobs(ctx, { queue: "q2" })).jobs.map((j) => j.command)).toEqual(["b"]);
  });

  it("queueStatus counts every state", async () => {
    const s = await queueStatus(ctx, { leaseMs: 30_000 });
    expect(s.jobs).toEqual({ pending: await jobCount(), processing: 0, completed: 0, failed: 0, dead: 0, cancelled: 0 });
    expect(s).toMatchObject({ workers: 0, dlq: 0, avgDurationMs: null });
    expect(s.oldestRunnableAgeMs).toBeGreaterThanOrEqual(0);
  });
});

describe("retryDead", () => {
  it("checks every id before retrying any", async () => {
    await enqueueJobs(ctx, { specs: [{ id: "dead-0", command: "true" }, { id: "dead-1", command: "true" }] });
    await db.pool.query(`
      UPDATE jobs SET state = 'dead', attempts = 2 WHERE id IN ('dead-0', 'dead-1');
      INSERT INTO dead_letters (job_id, queue, command, reason, attempts) VALUES ('dead-0', 'default', 'true', 'r', 2), ('dead-1', 'default', 'true', 'r', 2);
    `);
    await expect(retryDead(ctx, { ids: ["dead-0", "nope"] })).rejects.toThrow(NotFoundError);
    await expect(retryDead(ctx, { ids: ["dead-0", "after"] })).rejects.toThrow(InvalidStateError);
    expect((await listDeadLetters(ctx, {})).total).toBe(2);

    expect(await retryDead(ctx, { ids: ["dead-0", "dead-0"] })).toEqual(["dead-0"]);
    const page = await listDeadLetters(ctx, {});
    expect(page).toMatchObject({ total: 1, entries: [{ job_id: "dead-1", attempts: 2, reason: "r" }] });
    expect(await retryDead(ctx, { all: true })).toEqual(["dead-1"]);
    expect((await getJob(ctx, { id: "dead-1" })).job).toMatchObject({ state: "pending", attempts: 0 });
  });
});
