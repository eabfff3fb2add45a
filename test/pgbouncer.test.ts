/**
 * Through PgBouncer in transaction mode (Debian's 1.18: no prepared statements there, LISTEN lands on
 * a server connection other clients get next): the CLI and workers work unchanged. Workers find that
 * notifications do not come back and poll, or LISTEN on DATABASE_LISTEN_URL; the claim's prepared
 * statement falls back to unnamed; every job runs exactly once, with no outage in the logs.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSecurity } from "../src/dashboard/auth.js";
import { createDashboardApp } from "../src/dashboard/server.js";
import { openContext } from "../src/db/context.js";
import { createPool } from "../src/db/pool.js";
import { queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { pgbouncerInstalled, startPgBouncer, type Bouncer } from "./helpers/pgbouncer.js";
import { freePort } from "./helpers/private-server.js";
import { countByState, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase({ migrate: false });
const dir = mkdtempSync(join(tmpdir(), "queuectl-pgbouncer-"));
let bouncer: Bouncer;
let viaBouncer: string;

beforeAll(async () => {
  if (!pgbouncerInstalled()) throw new Error("PgBouncer is not installed: apt-get install pgbouncer (CI installs it)");
  bouncer = await startPgBouncer({ server: db.url, poolSize: 3 });
  viaBouncer = bouncer.via(db.url);
});

afterAll(async () => {
  await bouncer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The CLI through the bouncer. */
const cli = (args: string[], input?: string) => queuectl(args, { env: { DATABASE_URL: viaBouncer }, input });

/** Parses a worker's JSON log lines. */
const logLines = (text: string) =>
  text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { level: number; msg: string });

describe("through PgBouncer in transaction mode", () => {
  it("the CLI migrates, enqueues and reads", async () => {
    const migrate = await cli(["db", "migrate"]);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect((await cli(["db", "status"])).stdout).toContain("the database schema is up to date");
    const id = (await cli(["enqueue", "--id", "through-1", "--command", "echo hi"])).stdout;
    expect(id).toBe("through-1");
    expect((await cli(["enqueue", "--file", "-"], '{"id":"through-2","command":"exit 3","max_retries":0}\n')).code).toBe(0);
    expect(JSON.parse((await cli(["status", "--json"])).stdout).jobs.pending).toBe(2);
    expect((await cli(["list"])).stdout).toMatch(/through-1 .* pending/);
    expect((await cli(["show", "through-1"])).stdout).toContain("echo hi");
    expect((await cli(["config", "set", "max_retries", "2"])).code).toBe(0);
    expect((await cli(["queue", "pause", "default"])).code).toBe(0);
    expect((await cli(["queue", "resume", "default"])).code).toBe(0);
    const doctor = await cli(["doctor", "--json"]);
    expect(doctor.stderr).not.toContain("unexpected error");
    expect(JSON.parse(doctor.stdout).findings.map((f: { check: string }) => f.check)).not.toContain("schema");
  });

  it("the dashboard reads, searches (Prisma Client) and scrapes through it", async () => {
    const ctx = await openContext({ pool: createPool(viaBouncer), prisma: true });
    try {
      const app = createDashboardApp({ ctx, security: createSecurity({ host: "127.0.0.1", token: undefined }) });
      const overview = (await (await app.request("http://127.0.0.1/api/overview")).json()) as { total: number };
      expect(overview.total).toBe(2);
      const found = (await (await app.request("http://127.0.0.1/api/jobs?q=echo")).json()) as { jobs: Array<{ id: string }> };
      expect(found.jobs.map((j) => j.id)).toEqual(["through-1"]);
      expect(await (await app.request("http://127.0.0.1/metrics")).text()).toMatch(/^queuectl_jobs\{queue="default",state="pending"\} 2$/m);
    } finally {
      await ctx.close();
    }
  });

  it("4 workers x 4 slots share 3 server connections: every job runs exactly once, no outage, polling", async () => {
    const out = join(dir, "ran.txt");
    const lines = Array.from({ length: 400 }, (_, i) => JSON.stringify({ id: `bounce-${i}`, command: `echo "$QUEUECTL_JOB_ID" >> ${out}` })).join("\n");
    const workers = Array.from({ length: 4 }, () =>
      startWorkerProcess(["--concurrency", "4", "--poll-interval", "200", "--log-format", "json"], { DATABASE_URL: viaBouncer, QUEUECTL_LOG_LEVEL: "info" }),
    );
    await waitFor(() => workers.every((w) => w.log().includes('"msg":"worker started"')), { timeoutMs: 30_000, what: "4 workers started" });
    // Their probes (2 x 3 s) find that notifications do not come back through the bouncer.
    await waitFor(() => workers.every((w) => w.log().includes("notifications do not arrive")), { timeoutMs: 30_000, what: "each worker's probe to conclude" });
    expect((await cli(["enqueue", "--file", "-"], lines)).code).toBe(0);
    await waitFor(async () => (await countByState(db.pool)).completed >= 401, { timeoutMs: 60_000, what: "every job completed" });
    for (const w of workers) w.child.kill("SIGTERM");
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);

    const ran = readFileSync(out, "utf8").trim().split("\n");
    expect(ran.length).toBe(400);
    expect(new Set(ran).size).toBe(400);
    const attempts = await db.pool.query<{ n: number; jobs: number }>("SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS jobs FROM job_attempts WHERE job_id LIKE 'bounce-%'");
    expect(attempts.rows[0]).toEqual({ n: 400, jobs: 400 });
    for (const w of workers) {
      const log = logLines(w.log());
      // Notifications cannot come back through the bouncer: each worker found out and polls.
      expect(log.filter((l) => l.msg.startsWith("notifications do not arrive through this database address"))).toHaveLength(1);
      // No statement failed for the pooler's sake: nothing logged as an outage or an error.
      expect(log.filter((l) => l.level >= 40 && !/notifications do not arrive|prepared statements are not kept/.test(l.msg))).toEqual([]);
    }
  });

  it("with DATABASE_LISTEN_URL a worker is woken by notification, not its poll", async () => {
    // A 60 s poll: a job done within a few seconds was picked up by its NOTIFY.
    const worker = startWorkerProcess(["--poll-interval", "60000", "--log-format", "json"], { DATABASE_URL: viaBouncer, DATABASE_LISTEN_URL: db.url, QUEUECTL_LOG_LEVEL: "info" });
    try {
      await waitFor(() => worker.log().includes('"msg":"worker started"'), { timeoutMs: 30_000, what: "worker started" });
      // Idle now: its first polls ran at start-up, and its LISTEN connection is proven (or not) in
      // well under the probe's 3 s.
      await new Promise((r) => setTimeout(r, 1000));
      expect((await cli(["enqueue", "--id", "woken-1", "--command", "true"])).code).toBe(0);
      await waitFor(async () => (await db.pool.query("SELECT state FROM jobs WHERE id = 'woken-1'")).rows[0]?.state === "completed", {
        timeoutMs: 30_000,
        what: "woken-1 completed",
      });
      expect(worker.log()).not.toContain("notifications do not arrive");

      // `run` follows the job's output through a LISTEN on the same address.
      const run = await queuectl(["run", "--", "sh", "-c", "echo one; sleep 1; echo two"], { env: { DATABASE_URL: viaBouncer, DATABASE_LISTEN_URL: db.url } });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe("one\ntwo");
    } finally {
      worker.child.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
    }
  });

  it("`logs --follow` and `run` LISTEN on DATABASE_LISTEN_URL: when it does not answer they fail in one line, enqueuing nothing", async () => {
    const closed = await freePort();
    const env = { DATABASE_URL: viaBouncer, DATABASE_LISTEN_URL: `postgresql://postgres@127.0.0.1:${closed}/postgres` };
    expect((await queuectl(["enqueue", "--id", "follow-1", "--command", "true"], { env })).code).toBe(0);
    // Reading the output goes through DATABASE_URL; following it needs the LISTEN address.
    expect((await queuectl(["logs", "follow-1"], { env })).code).toBe(0);
    const follow = await queuectl(["logs", "--follow", "follow-1"], { env });
    expect(follow.code).toBe(1);
    expect(follow.stderr).toMatch(/^queuectl: database unavailable: [^\n]+$/);

    const before = (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs")).rows[0]!.n;
    const run = await queuectl(["run", "--", "true"], { env });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^queuectl: database unavailable: [^\n]+$/);
    expect((await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs")).rows[0]!.n).toBe(before);
  });
});
