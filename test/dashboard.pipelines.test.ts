/**
 * The dashboard's view of schedules and pipelines: /api/schedules lists schedules with their next
 * runs, /api/jobs/:id carries the dependency chain both ways, secrets in a job's env are masked, and
 * the Schedules page is in the navigation.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hono } from "hono";
import { createPrismaClient, type PrismaClient } from "../src/db/prisma.js";
import { createSecurity, type DashboardEnv } from "../src/dashboard/auth.js";
import { createDashboardApp } from "../src/dashboard/server.js";
import type { QueueContext } from "../src/queue/context.js";
import { enqueueJobs } from "../src/queue/enqueue.js";
import { addSchedule } from "../src/queue/schedules.js";
import { useTestDatabase } from "./helpers/db.js";

const db = useTestDatabase();
let prisma: PrismaClient;
let ctx: QueueContext;
let app: Hono<DashboardEnv>;
const BASE = "http://127.0.0.1:3000";

beforeAll(async () => {
  prisma = createPrismaClient(db.pool);
  ctx = { pool: db.pool, prisma };
  await enqueueJobs(ctx, {
    specs: [
      { id: "fetch", command: "fetch-data" },
      { id: "build", command: "make", depends_on: ["fetch"], cwd: "/srv/app", env: { MODE: "release", DEPLOY_TOKEN: "hunter2" } },
      { id: "ship", command: "make ship", depends_on: ["build"] },
    ],
  });
  await addSchedule(ctx, { name: "nightly", cron: "0 3 * * *", timezone: "Europe/Berlin", job: { command: "backup", env: { DB_PASSWORD: "pw" } }, missed: "skip", catchUpLimit: 10 });
  await addSchedule(ctx, { name: "paused-one", cron: "*/5 * * * * *", timezone: "UTC", job: { command: "true" }, missed: "catch-up", catchUpLimit: 3 });
  await db.pool.query("UPDATE schedules SET paused = true WHERE name = 'paused-one'");
  app = createDashboardApp({ ctx, security: createSecurity({ host: "127.0.0.1", token: undefined }) });
});
afterAll(async () => {
  await prisma.$disconnect();
});

async function getJson(path: string): Promise<{ status: number; body: any }> {
  const res = await app.request(`${BASE}${path}`);
  return { status: res.status, body: await res.json() };
}

describe("dashboard: pipelines and schedules", () => {
  it("a job's page data carries its chain both ways, its cwd, and its env with secrets masked", async () => {
    const { status, body } = await getJson("/api/jobs/build");
    expect(status).toBe(200);
    expect(body.job).toMatchObject({ id: "build", state: "pending", deps_pending: 1, cwd: "/srv/app", env: { DEPLOY_TOKEN: "***", MODE: "release" } });
    expect(body.upstream).toEqual([{ id: "fetch", state: "pending", depth: 1, command: "fetch-data" }]);
    expect(body.downstream).toEqual([{ id: "ship", state: "pending", depth: 1, command: "make ship" }]);
    expect(JSON.stringify(body)).not.toContain("hunter2");
    const ship = await getJson("/api/jobs/ship");
    expect(ship.body.upstream.map((l: { id: string; depth: number }) => [l.id, l.depth])).toEqual([["build", 1], ["fetch", 2]]);
    const list = await getJson("/api/jobs");
    expect(JSON.stringify(list.body)).not.toContain("hunter2");
  });

  it("GET /api/schedules lists schedules with their next three runs; paused ones have none", async () => {
    const { status, body } = await getJson("/api/schedules");
    expect(status).toBe(200);
    expect(body.schedules.map((s: { name: string }) => s.name)).toEqual(["nightly", "paused-one"]);
    const [nightly, paused] = body.schedules;
    expect(nightly).toMatchObject({ cron: "0 3 * * *", timezone: "Europe/Berlin", paused: false, missed: "skip", last_job_id: null, job: { command: "backup", env: { DB_PASSWORD: "***" } } });
    expect(nightly.next_runs).toHaveLength(3);
    for (const t of nightly.next_runs) expect(t).toMatch(/T0[12]:00:00.000Z$/);
    expect(paused).toMatchObject({ paused: true, missed: "catch-up", catch_up_limit: 3, next_runs: [] });
  });

  it("the Schedules page is served and linked from the navigation", async () => {
    const res = await app.request(`${BASE}/schedules`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('data-page="schedules"');
    expect(html).toMatch(/<a href="\/schedules" class="active" aria-current="page">Schedules<\/a>/);
  });
});
