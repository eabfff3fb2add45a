/**
 * `queuectl doctor` on a server of the test's own (autovacuum on, as servers ship; the shared test
 * server runs with it off, and other tests' sessions would be findings there): a healthy database
 * reports nothing and exits 0; each finding, produced on purpose, is reported with its remedy and
 * exit 1, and gone once its cause is; the dashboard's overview and /metrics carry the same findings.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSecurity } from "../src/dashboard/auth.js";
import { createDashboardApp } from "../src/dashboard/server.js";
import { openContext, type AppContext } from "../src/db/context.js";
import { createPool } from "../src/db/pool.js";
import type { HealthReport } from "../src/queue/doctor.js";
import { queuectl, type CliResult } from "./helpers/cli.js";
import { startPrivateServer, type PrivateServer } from "./helpers/private-server.js";
import { claimJobs } from "./helpers/queue.js";

let server: PrivateServer;
let admin: pg.Pool;
let env: Record<string, string>;

const doctor = (args: string[] = []): Promise<CliResult> => queuectl(["doctor", ...args], { env });

async function report(args: string[] = []): Promise<HealthReport> {
  const res = await doctor([...args, "--json"]);
  return JSON.parse(res.stdout) as HealthReport;
}

/**
 * Runs doctor until a finding of `check` appears (statistics reach the views within ~1 s of a
 * commit; a reloaded setting reaches new sessions once the postmaster read it); its text output then.
 */
async function untilFinding(check: string, args: string[] = []): Promise<CliResult> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await doctor(args);
    if (res.stdout.split("\n").some((l) => l.startsWith(`problem ${check}:`))) return res;
    if (Date.now() > deadline) throw new Error(`no ${check} finding:\n${res.stdout}${res.stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs doctor until it reports the database healthy again. */
async function untilHealthy(args: string[] = []): Promise<CliResult> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await doctor(args);
    if (res.code === 0) return res;
    if (Date.now() > deadline) throw new Error(`still unhealthy:\n${res.stdout}${res.stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function enqueue(n: number, prefix: string): Promise<void> {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `${prefix}-${i}`, command: "true" })).join("\n");
  const res = await queuectl(["enqueue", "--file", "-"], { env, input: lines });
  expect(res.code, res.stderr).toBe(0);
}

beforeAll(async () => {
  server = await startPrivateServer({ settings: { max_connections: "40", max_prepared_transactions: "2" } });
  env = { DATABASE_URL: server.url() };
  admin = new pg.Pool({ connectionString: server.url(), max: 4 });
  // The server's shutdown at the end reaches connections the pool is still closing.
  admin.on("error", () => {});
});

afterAll(async () => {
  await admin?.end();
  await server?.destroy();
});

describe("queuectl doctor", () => {
  it("reports a healthy database as healthy, exit 0", async () => {
    await enqueue(20, "healthy");
    const res = await doctor(["--verbose"]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("healthy: no problems found");
    expect(res.stdout).toMatch(/^jobs\s+20\s+0\s/m);
    expect(res.stdout).toMatch(/^connections: \d+ in use of 37 \(max_connections 40, 3 reserved\)/m);
    const r = await report();
    expect(r.healthy).toBe(true);
    expect(r.findings).toEqual([]);
    expect(r.tables.map((t) => t.table)).toContain("jobs");
  });

  it("finds a transaction held open by a running statement, with its pid and the remedy", async () => {
    const client = new pg.Client({ connectionString: server.url(), application_name: "nightly-report" });
    await client.connect();
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
    const running = client.query("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM jobs; SELECT pg_sleep(120)").catch(() => null);
    try {
      const res = await untilFinding("long-transaction", ["--transaction-age", "1"]);
      expect(res.code).toBe(1);
      expect(res.stderr).toBe("queuectl: 1 problem found");
      const line = res.stdout.split("\n").find((l) => l.startsWith("problem long-transaction:"))!;
      expect(line).toContain(`pid ${pid} (nightly-report) of postgres has held a transaction open for`);
      expect(line).toContain(`Fix: end it if it is not a backup or report you expect: SELECT pg_terminate_backend(${pid})`);
      // Younger than the default age: not a finding.
      expect((await doctor()).code).toBe(0);
      expect((await report(["--transaction-age", "1"])).oldest_transaction_age_s).toBeGreaterThan(1);
    } finally {
      await admin.query("SELECT pg_cancel_backend($1)", [pid]);
      await running;
      await client.end();
    }
    await untilHealthy(["--transaction-age", "1"]);
  });

  it("finds a session idle in a transaction that holds a snapshot", async () => {
    const client = new pg.Client({ connectionString: server.url() });
    await client.connect();
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      await client.query("SELECT count(*) FROM jobs");
      const res = await untilFinding("idle-in-transaction", ["--transaction-age", "1"]);
      expect(res.stdout).toMatch(/problem idle-in-transaction: pid \d+ of postgres has sat idle in a transaction for \d+s \(open \d+s\), keeping vacuum from removing dead rows\. Fix: .*idle_in_transaction_session_timeout/);
      await client.query("ROLLBACK");
    } finally {
      await client.end();
    }
    await untilHealthy(["--transaction-age", "1"]);
  });

  it("finds an unused replication slot", async () => {
    await admin.query("SELECT pg_create_physical_replication_slot('lost_standby', true)");
    try {
      const res = await untilFinding("replication-slot");
      expect(res.stdout).toMatch(/problem replication-slot: replication slot lost_standby \(physical\) is not in use and keeps [\d.]+ [kMG]B of WAL from being removed\. Fix: drop it if its consumer is gone: SELECT pg_drop_replication_slot\('lost_standby'\)/);
    } finally {
      await admin.query("SELECT pg_drop_replication_slot('lost_standby')");
    }
    await untilHealthy();
  });

  it("finds a prepared transaction nobody finished", async () => {
    const client = new pg.Client({ connectionString: server.url() });
    await client.connect();
    try {
      await client.query("BEGIN");
      await client.query("UPDATE jobs SET priority = priority WHERE id = 'healthy-0'");
      await client.query("PREPARE TRANSACTION 'doctor-test'");
    } finally {
      await client.end();
    }
    try {
      const res = await untilFinding("prepared-transaction", ["--transaction-age", "1"]);
      expect(res.stdout).toContain("problem prepared-transaction: prepared transaction 'doctor-test' of postgres has waited");
      expect(res.stdout).toContain("Fix: finish it: ROLLBACK PREPARED 'doctor-test'");
    } finally {
      await admin.query("ROLLBACK PREPARED 'doctor-test'");
    }
    await untilHealthy(["--transaction-age", "1"]);
  });

  it("finds autovacuum switched off for a table, and on the server", async () => {
    await admin.query("ALTER TABLE job_output SET (autovacuum_enabled = off)");
    let res = await untilFinding("autovacuum-off");
    expect(res.stdout).toContain("problem autovacuum-off: autovacuum is switched off for table job_output. Fix: ALTER TABLE job_output RESET (autovacuum_enabled)");
    await admin.query("ALTER TABLE job_output RESET (autovacuum_enabled)");
    await untilHealthy();

    await admin.query("ALTER SYSTEM SET autovacuum = off");
    await admin.query("SELECT pg_reload_conf()");
    try {
      res = await untilFinding("autovacuum-off");
      expect(res.stdout).toContain("problem autovacuum-off: autovacuum is switched off on the server (autovacuum = off): only the workers' vacuum duty removes");
    } finally {
      await admin.query("ALTER SYSTEM RESET autovacuum");
      await admin.query("SELECT pg_reload_conf()");
    }
    await untilHealthy();
  });

  it("finds a table with many dead rows, and says when it was last vacuumed", async () => {
    await enqueue(1500, "bloat");
    // Autovacuum off for the table, so the dead rows stay until the test removes them; a change to
    // an indexed column, so the updates are not HOT (page pruning would remove some on its own).
    await admin.query("ALTER TABLE jobs SET (autovacuum_enabled = off)");
    // From a session of its own that then ends: a session reports its statistics when it ends (an
    // idle one only every ~10 s).
    const client = new pg.Client({ connectionString: server.url() });
    await client.connect();
    await client.query("UPDATE jobs SET priority = priority + 1 WHERE id LIKE 'bloat-%'");
    await client.end();
    const res = await untilFinding("dead-rows");
    expect(res.stdout).toMatch(/problem dead-rows: table jobs has \d+ dead rows against \d+ live \(\d+%, [\d.]+ [kMG]B\); last vacuumed (never|.* ago)\. Fix: run VACUUM \(ANALYZE\) jobs/);
    await admin.query("VACUUM jobs");
    await admin.query("ALTER TABLE jobs RESET (autovacuum_enabled)");
    await untilHealthy();
  });

  it("finds jobs processing long past their lease, and jobs waiting on dependencies that cannot finish", async () => {
    await enqueue(2, "stranded");
    const [claimed] = await claimJobs(admin, { workerId: "gone-worker", queues: ["default"], limit: 1, leaseMs: 60_000 });
    expect(claimed).toBeDefined();
    // As if its worker died an hour ago and no rescuer has run since (lease_ms is 30 s).
    await admin.query("UPDATE jobs SET lease_expires_at = now() - interval '1 hour' WHERE id = $1", [claimed!.id]);
    const waiting = await admin.query<{ id: string }>("SELECT id FROM jobs WHERE state = 'pending' ORDER BY seq LIMIT 1");
    // Its dependency edge is gone but its count says one is pending: nothing will release it.
    await admin.query("UPDATE jobs SET deps_pending = 1 WHERE id = $1", [waiting.rows[0]!.id]);
    const res = await untilFinding("stuck-processing");
    expect(res.stdout).toContain(`problem stuck-processing: 1 job is processing with a lease that expired more than two leases ago (oldest: ${claimed!.id})`);
    expect(res.stdout).toContain(`problem orphaned-waiting: 1 job waits on dependencies none of which can still finish (first: ${waiting.rows[0]!.id})`);
    expect(res.stderr).toBe("queuectl: 2 problems found");
    await admin.query("UPDATE jobs SET deps_pending = 0 WHERE id = $1", [waiting.rows[0]!.id]);
    await admin.query("UPDATE jobs SET state = 'pending', lease_expires_at = NULL, worker_id = NULL WHERE id = $1", [claimed!.id]);
    await untilHealthy();
  });

  it("finds a worker without heartbeat, and shows it on the dashboard and in /metrics", async () => {
    await admin.query(
      `INSERT INTO workers (id, host, pid, queues, concurrency, state, heartbeat_at) VALUES ('w-silent', 'web-9', 4711, '{}', 4, 'running', now() - interval '10 minutes')`,
    );
    const res = await untilFinding("silent-worker");
    expect(res.stdout).toMatch(/problem silent-worker: worker w-silent \(pid 4711 on web-9\) has sent no heartbeat for 10m \d\ds/);

    let ctx: AppContext | undefined;
    try {
      ctx = await openContext({ pool: createPool(server.url()) });
      const app = createDashboardApp({ ctx, security: createSecurity({ host: "127.0.0.1", token: undefined }) });
      const overview = (await (await app.request("http://127.0.0.1/api/overview")).json()) as { health: { healthy: boolean; findings: Array<{ check: string; message: string }> } };
      expect(overview.health.healthy).toBe(false);
      expect(overview.health.findings.map((f) => f.check)).toEqual(["silent-worker"]);
      const metrics = await (await app.request("http://127.0.0.1/metrics")).text();
      expect(metrics).toContain('queuectl_health_problems{check="silent-worker"} 1');
      expect(metrics).toContain('queuectl_health_problems{check="dead-rows"} 0');
      expect(metrics).toMatch(/^queuectl_table_live_rows\{table="jobs"\} \d+/m);
      expect(metrics).toMatch(/^queuectl_connections_usable 37$/m);
    } finally {
      await ctx?.close();
    }
    await admin.query("UPDATE workers SET state = 'stopped' WHERE id = 'w-silent'");
    await untilHealthy();
  });

  it("finds the schema changed by hand", async () => {
    await admin.query("DROP INDEX jobs_lease_idx");
    try {
      const res = await untilFinding("schema");
      expect(res.stdout).toContain("problem schema: the schema differs from its migrations: index jobs_lease_idx is missing");
    } finally {
      await admin.query(`CREATE INDEX "jobs_lease_idx" ON "jobs"("lease_expires_at") WHERE "state" = 'processing'`);
    }
    await untilHealthy();
  });

  it("finds the server nearly out of connections", async () => {
    const clients = Array.from({ length: 30 }, () => new pg.Client({ connectionString: server.url() }));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const res = await untilFinding("connections");
      expect(res.stdout).toMatch(/problem connections: \d+ of the 37 connections clients may open are in use \(max_connections 40, 3 reserved for superusers\)\. Fix: run fewer or smaller workers, put PgBouncer in front, or raise max_connections/);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    await untilHealthy();
  });
});
