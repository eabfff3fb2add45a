/**
 * The randomized checker: worker processes run jobs against real PostgreSQL while a seeded driver
 * applies random operator actions (enqueue single, bulk, with dependencies, unique keys, run_at and
 * retries; cancel, kill, requeue, dlq retry with and without --edit, purge; config, queue and
 * schedule changes; SIGKILL, SIGSTOP/SIGCONT, SIGTERM and `worker stop` of workers, and new ones).
 * Every job's command appends its start and end to a history file; the checker then asserts the
 * queue's promises over that history and the tables (helpers/chaos/checker.ts).
 *
 * It runs twice: workers and the CLI straight to PostgreSQL, then through PgBouncer in transaction
 * mode (a server pool smaller than the workers' connections; workers poll, as they do there without
 * DATABASE_LISTEN_URL). The checker reads the tables directly both times.
 *
 * 40 s each by default (both runs inside CI's budget); QUEUECTL_CHAOS_SECONDS=600 for a long run, QUEUECTL_CHAOS_SEED=n to
 * replay a seed's choices. A failure prints the seed and the history lines of each job concerned.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkAttemptNumbers, checkDependencies, checkNoOverlap, checkQueues, checkRunAt, checkTables, stuckJobs, type Violation } from "../helpers/chaos/checker.js";
import { ChaosDriver } from "../helpers/chaos/driver.js";
import { History } from "../helpers/chaos/history.js";
import { createTestDatabase, dropTestDatabase, type TestDatabase } from "../helpers/db.js";
import { startPgBouncer, type Bouncer } from "../helpers/pgbouncer.js";

const root = mkdtempSync(join(tmpdir(), "queuectl-chaos-"));
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  rmSync(root, { recursive: true, force: true });
});

const SECONDS = Number(process.env.QUEUECTL_CHAOS_SECONDS ?? 40);
const SEED = Number(process.env.QUEUECTL_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** How long the end of a run may take for every job to reach a final state. */
const WIND_DOWN_MS = 90_000;

/** A database of its own for one run, dropped at the end of the file. */
async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  cleanups.push(() => dropTestDatabase(db));
  return db;
}

describe("the randomized checker", () => {
  it(`${SECONDS} s of random operator actions and worker faults keep every promise (seed ${SEED})`, async () => {
    const db = await database();
    await chaosRun({ db, url: db.url, dir: join(root, "direct"), label: "direct" });
  });

  it(`the same through PgBouncer in transaction mode (seed ${SEED})`, async () => {
    const db = await database();
    const bouncer: Bouncer = await startPgBouncer({ server: db.url, poolSize: 6 });
    cleanups.push(() => bouncer.stop());
    await chaosRun({ db, url: bouncer.via(db.url), dir: join(root, "pgbouncer"), label: "through PgBouncer" });
  });
});

/** One run: `url` is what workers and the CLI connect to; the checker reads `db` directly. */
async function chaosRun({ db, url, dir, label }: { db: TestDatabase; url: string; dir: string; label: string }): Promise<void> {
  console.log(`chaos (${label}): seed ${SEED}, ${SECONDS} s (replay with QUEUECTL_CHAOS_SEED=${SEED})`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "history"), "");
  const history = new History(join(dir, "history"));
  const driver = new ChaosDriver({ pool: db.pool, url, dir, seed: SEED });
  const violations: Violation[] = [];
  let observing = true;
  const observer = (async () => {
    while (observing) {
      history.poll();
      history.observe(Date.now());
      driver.tick();
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  let steps = 0;
  try {
    await driver.setUp();
    const end = Date.now() + SECONDS * 1000;
    let nextStuckCheck = Date.now() + 2000;
    while (Date.now() < end) {
      await driver.step();
      steps++;
      if (Date.now() >= nextStuckCheck) {
        // The rescuer runs every half lease in every live worker: a lease two leases gone is stuck.
        violations.push(...(await stuckJobs(db.pool, 2 * driver.maxLeaseMs + 2000)));
        nextStuckCheck = Date.now() + 2000;
      }
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 150));
    }
    await driver.windDown();
    const deadline = Date.now() + WIND_DOWN_MS;
    for (;;) {
      const open = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM jobs WHERE state IN ('processing') OR (state IN ('pending', 'failed') AND run_at <= now() AND deps_pending = 0)`,
      );
      if (open.rows[0]!.n === 0 || Date.now() > deadline) break;
      violations.push(...(await stuckJobs(db.pool, 2 * driver.maxLeaseMs + 2000)));
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await driver.stopAll();
    observing = false;
    await observer;
    history.poll();
    history.observe(Date.now());
  }

  violations.push(
    ...checkNoOverlap(history),
    ...checkAttemptNumbers(history),
    ...checkDependencies(history, driver),
    ...checkRunAt(history, driver),
    ...checkQueues(history, driver),
    ...(await checkTables(db.pool)),
  );
  const jobs = (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs")).rows[0]!.n;
  const attempts = (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM job_attempts")).rows[0]!.n;
  const actions = Object.entries(driver.counts).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`).join(", ");
  console.log(`chaos (${label}): seed ${SEED}: ${steps} actions (${actions}); ${driver.jobs.size} jobs enqueued, ${jobs} in the table at the end, ${history.runs.length} runs recorded, ${attempts} attempts in the table`);

  const unique = new Map<string, Violation>();
  for (const v of violations) unique.set(`${v.rule}|${v.job}|${v.detail}`, v);
  if (unique.size > 0 || driver.unexpected.length > 0) {
    // Per rule: how often, and the first three cases with the history lines of their jobs.
    const byRule = new Map<string, Violation[]>();
    for (const v of unique.values()) byRule.set(v.rule, [...(byRule.get(v.rule) ?? []), v]);
    const report = [...byRule].map(([rule, vs]) =>
      [`- ${rule}: ${vs.length}`, ...vs.slice(0, 3).map((v) => `  ${v.job ?? ""} ${v.detail}\n${v.job ? history.linesOf(v.job).map((l) => `      ${l}`).join("\n") : ""}`)].join("\n"),
    );
    console.log(`chaos (${label}): seed ${SEED}: ${unique.size} violation(s)\n${report.join("\n")}\n${driver.unexpected.slice(0, 5).join("\n")}`);
  }
  expect(driver.unexpected, `seed ${SEED}: unexpected errors`).toEqual([]);
  expect([...unique.values()].map((v) => `${v.rule}: ${v.job} ${v.detail}`), `seed ${SEED}`).toEqual([]);
  // The run did what it is for: jobs ran, and every kind of action happened.
  expect(history.runs.length).toBeGreaterThan(SECONDS);
}
