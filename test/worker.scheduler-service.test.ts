/**
 * SchedulerService: due ticks become jobs by the missed-tick policy, many schedulers racing for one
 * tick enqueue one job, and 3 real worker processes running a `* * * * * *` schedule for 5 s give one
 * job per second, never two for one tick.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { defaultConfig } from "../src/queue/config.js";
import { createLogger } from "../src/worker/logger.js";
import { SchedulerService } from "../src/worker/scheduler-service.js";
import { queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();

function scheduler(): SchedulerService {
  return new SchedulerService({ pool: db.pool, log: createLogger({}, "silent"), config: () => defaultConfig() });
}

/** A schedule whose next tick was `agoMs` ago, as if no worker ran since. */
async function addDueSchedule(p: { name: string; cron: string; agoMs: number; missed?: string; limit?: number; paused?: boolean }): Promise<void> {
  await db.pool.query(
    `INSERT INTO schedules (name, cron, job, missed, catch_up_limit, paused, next_run_at)
     VALUES ($1, $2, $3, $4, $5, $6, date_trunc('second', now() - make_interval(secs => $7::float8 / 1000)))`,
    [p.name, p.cron, JSON.stringify({ command: "true", queue: `q-${p.name}` }), p.missed ?? "skip", p.limit ?? 10, p.paused ?? false, p.agoMs],
  );
}

async function jobIdsOf(name: string): Promise<string[]> {
  const res = await db.pool.query<{ id: string }>("SELECT id FROM jobs WHERE id LIKE $1 ORDER BY id", [`${name}@%`]);
  return res.rows.map((r) => r.id);
}

const tickOf = (id: string) => new Date(id.slice(id.indexOf("@") + 1)).getTime();

describe("SchedulerService.runOnce", () => {
  // Each test looks at its own schedule only: the earlier ones (every second, still due) are paused.
  beforeEach(async () => {
    await db.pool.query("UPDATE schedules SET paused = true");
  });

  it("skip (the default): ticks missed while no worker ran collapse into the latest one", async () => {
    await addDueSchedule({ name: "skipper", cron: "* * * * * *", agoMs: 10_000 });
    const ids = await scheduler().runOnce();
    expect(ids).toHaveLength(1);
    expect(await jobIdsOf("skipper")).toEqual(ids);
    // The latest due tick, not the oldest missed one.
    expect(Date.now() - tickOf(ids[0]!)).toBeLessThan(3000);
    const next = (await db.pool.query("SELECT next_run_at, last_job_id FROM schedules WHERE name = 'skipper'")).rows[0];
    expect(next.next_run_at.getTime()).toBeGreaterThan(tickOf(ids[0]!));
    expect(next.last_job_id).toBe(ids[0]);
  });

  it("skip: a tick more than a minute late does not run at all", async () => {
    // Yearly, due since last new year: long missed.
    await db.pool.query(
      `INSERT INTO schedules (name, cron, job, next_run_at) VALUES ('yearly', '0 0 1 1 *', '{"command":"true"}', date_trunc('year', now()))`,
    );
    expect(await scheduler().runOnce()).toEqual([]);
    expect(await jobIdsOf("yearly")).toEqual([]);
    const next = (await db.pool.query("SELECT next_run_at FROM schedules WHERE name = 'yearly'")).rows[0].next_run_at as Date;
    expect(next.getTime()).toBeGreaterThan(Date.now());
  });

  it("catch-up runs every missed tick, the most recent catch_up_limit of them", async () => {
    await addDueSchedule({ name: "catcher", cron: "* * * * * *", agoMs: 10_000, missed: "catch-up", limit: 4 });
    const ids = await scheduler().runOnce();
    expect(ids).toHaveLength(4);
    const ticks = ids.map(tickOf);
    // One job per second, consecutive, oldest first.
    expect(ticks.slice(1).map((t, i) => t - ticks[i]!)).toEqual([1000, 1000, 1000]);
    expect(await jobIdsOf("catcher")).toEqual(ids);
  });

  it("a paused schedule enqueues nothing", async () => {
    await addDueSchedule({ name: "sleeper", cron: "* * * * * *", agoMs: 2000, paused: true });
    expect(await scheduler().runOnce()).toEqual([]);
    expect(await jobIdsOf("sleeper")).toEqual([]);
  });

  it("8 schedulers racing for the same due ticks enqueue each tick once", async () => {
    await addDueSchedule({ name: "raced", cron: "* * * * * *", agoMs: 5000, missed: "catch-up", limit: 5 });
    const results = await Promise.all(Array.from({ length: 8 }, () => scheduler().runOnce()));
    const all = results.flat().filter((id) => id.startsWith("raced@"));
    // The 5 missed ticks (catch-up limit 5), plus one more if the race ran past a second boundary on a
    // loaded machine: whichever scheduler won a tick, none was enqueued twice.
    expect(all.length).toBeGreaterThanOrEqual(5);
    expect(all.length).toBeLessThanOrEqual(6);
    expect(new Set(all).size).toBe(all.length);
    expect(await jobIdsOf("raced")).toEqual([...all].sort());
  });
});

describe("scheduling with worker processes", () => {
  it("3 workers and a * * * * * * schedule for 5 s give 5±1 jobs, one per tick, each run once", async () => {
    const workers = Array.from({ length: 3 }, () => startWorkerProcess(["--concurrency", "2"]));
    await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM workers WHERE state = 'running'")).rows[0].n === 3, { what: "3 workers" });
    const added = await queuectl(["schedule", "add", "every-second", "* * * * * *", '{"command":"echo tick","queue":"ticks"}']);
    expect(added.code).toBe(0);
    // The 5 s are counted from when the schedule was stored, on the database clock: the CLI's own
    // exit can take a second on a loaded machine, and ticks fire meanwhile.
    const { rows: [since] } = await db.pool.query<{ wait_ms: number }>(
      "SELECT extract(epoch FROM created_at + interval '5 seconds' - clock_timestamp()) * 1000 AS wait_ms FROM schedules WHERE name = 'every-second'",
    );
    const start = Date.now();
    await new Promise((r) => setTimeout(r, Math.max(0, Number(since!.wait_ms))));
    await db.pool.query("UPDATE schedules SET paused = true WHERE name = 'every-second'");
    const stop = Date.now();
    await waitFor(async () => (await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE queue = 'ticks' AND state <> 'completed'")).rows[0].n === 0, { what: "tick jobs to finish" });
    for (const w of workers) w.child.kill("SIGTERM");
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0]);

    const rows = (await db.pool.query<{ id: string; created_at: Date; attempts: number }>(
      "SELECT id, created_at, attempts FROM jobs WHERE queue = 'ticks' ORDER BY id",
    )).rows;
    const ticks = rows.map((r) => tickOf(r.id));
    const lateMs = rows.map((r) => r.created_at.getTime() - tickOf(r.id));
    console.log(`every-second schedule, 3 workers, ${stop - start} ms: ${rows.length} jobs; enqueued ${Math.min(...lateMs)}..${Math.max(...lateMs)} ms after their tick`);
    expect(rows.length).toBeGreaterThanOrEqual(4);
    expect(rows.length).toBeLessThanOrEqual(6);
    // Never two for one tick, and no tick in between left out.
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(ticks.slice(1).map((t, i) => t - ticks[i]!)).toEqual(ticks.slice(1).map(() => 1000));
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
    // The schedulers woke at the tick rather than at their next poll.
    expect(Math.max(...lateMs)).toBeLessThan(900);
  });
});
