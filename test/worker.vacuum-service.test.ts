/**
 * The worker's vacuum duty: a queue table past `vacuum_dead_rows` dead rows is vacuumed (and then
 * has none to speak of); below it, or with 0, it is left alone; while a long transaction holds the
 * horizon, once and not at every check; two workers at once both finish (one
 * skips the table the other holds); a role that does not own the tables leaves them to autovacuum.
 * On the shared test server autovacuum is off, so nothing else removes the dead rows meanwhile.
 */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { createPool } from "../src/db/pool.js";
import { loadConfig, setConfigValue } from "../src/queue/config.js";
import { VacuumService } from "../src/worker/vacuum-service.js";
import { queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { urlAs, useLoginRoles } from "./helpers/roles.js";
import { memoryLogger, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const roles = useLoginRoles(db);

/** Dead rows of `table` as the statistics say, once the change that made them is reported. */
async function deadRows(table: string): Promise<number> {
  const r = await db.pool.query<{ n: number }>("SELECT pg_stat_get_dead_tuples(to_regclass($1))::int AS n", [table]);
  return r.rows[0]!.n;
}

/** Makes `n` dead row versions in jobs from a session that then ends (it reports its statistics when it ends). */
async function makeDeadRows(n: number, prefix: string): Promise<void> {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `${prefix}-${i}`, command: "true" })).join("\n");
  expect((await queuectl(["enqueue", "--file", "-"], { input: lines })).code).toBe(0);
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  // priority is indexed: not HOT, so page pruning cannot remove them on its own.
  await client.query("UPDATE jobs SET priority = priority + 1 WHERE id LIKE $1", [`${prefix}-%`]);
  await client.end();
  await waitFor(async () => (await deadRows("jobs")) >= n, { what: `${n} dead rows reported` });
}

async function service(pool: pg.Pool = db.pool) {
  const { log, lines } = await memoryLogger();
  const config = await loadConfig(db.pool);
  return { svc: new VacuumService({ pool, log, config: () => config }), lines };
}

describe("the vacuum service", () => {
  it("leaves a table under the threshold alone, and vacuums it once past", async () => {
    await makeDeadRows(200, "few");
    const { svc } = await service();
    expect(await svc.runOnce()).toEqual([]);
    expect(await deadRows("jobs")).toBeGreaterThanOrEqual(200);

    await makeDeadRows(1200, "many");
    const vacuumed = await svc.runOnce();
    expect(vacuumed.map((t) => t.table)).toContain("jobs");
    expect(vacuumed.find((t) => t.table === "jobs")!.dead_rows).toBeGreaterThanOrEqual(1400);
    expect(await deadRows("jobs")).toBeLessThan(100);
  });

  it("while a transaction holds vacuum back, vacuums a table once, not at every check; again once it ends", async () => {
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await blocker.query("SELECT count(*) FROM jobs");
      await makeDeadRows(1200, "held");
      const { svc } = await service();
      expect((await svc.runOnce()).map((t) => t.table)).toContain("jobs");
      // The blocker's snapshot may still see them: nothing was removed, and no VACUUM could do better.
      expect(await deadRows("jobs")).toBeGreaterThanOrEqual(1200);
      expect((await svc.runOnce()).map((t) => t.table)).not.toContain("jobs");
      await blocker.query("COMMIT");
      expect((await svc.runOnce()).map((t) => t.table)).toContain("jobs");
      expect(await deadRows("jobs")).toBeLessThan(100);
    } finally {
      await blocker.end();
    }
  });

  it("does nothing with vacuum_dead_rows 0", async () => {
    await setConfigValue(db.pool, "vacuum_dead_rows", "0");
    try {
      await makeDeadRows(1500, "off");
      const { svc } = await service();
      expect(await svc.runOnce()).toEqual([]);
      expect(await deadRows("jobs")).toBeGreaterThanOrEqual(1500);
    } finally {
      await setConfigValue(db.pool, "vacuum_dead_rows", "300");
    }
  });

  it("two workers at once: both finish, the dead rows are gone", async () => {
    await makeDeadRows(1500, "pair");
    const [a, b] = [await service(), await service()];
    const results = await Promise.all([a.svc.runOnce(), b.svc.runOnce()]);
    expect(results.flat().some((t) => t.table === "jobs")).toBe(true);
    expect(await deadRows("jobs")).toBeLessThan(100);
  });

  it("a worker role that does not own the tables says so once and leaves them to autovacuum", async () => {
    const role = await roles.create("vac");
    expect((await queuectl(["db", "grant", role, "--as", "worker"])).code).toBe(0);
    await makeDeadRows(1500, "notmine");
    const pool = createPool(urlAs(db, role));
    try {
      const { svc, lines } = await service(pool);
      expect(await svc.runOnce()).toEqual([]);
      expect(await svc.runOnce()).toEqual([]);
      expect(lines().filter((l) => l.msg.includes("does not own the queue's tables"))).toHaveLength(1);
      expect(await deadRows("jobs")).toBeGreaterThanOrEqual(1500);
    } finally {
      await pool.end();
    }
  });
});
