/**
 * `db grant --as enqueuer|worker|viewer|admin`: each kind tried, through the real CLI logged in as the
 * role, against every command it must not run (exit 4, one line naming the role and the command,
 * nothing changed) and the commands it must run; then the same refusals as plain SQL, since the
 * database, not the CLI, enforces them.
 */
import { beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { regrantRoles } from "../src/queue/roles.js";
import { queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { useLoginRoles, urlAs } from "./helpers/roles.js";
import { startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
/**
 * Tests that run a dozen or more CLI processes one after the other: ~0.7 s each on a quiet 2-core
 * machine (under a loaded suite, three times that), so well above the default minute.
 */
const CLI_HEAVY_TIMEOUT_MS = 240_000;
const roles = useLoginRoles(db);
const kinds = { enqueuer: "", worker: "", viewer: "", admin: "" };

/** Everything an action could change, as one comparable value. */
async function snapshot(): Promise<unknown> {
  const q = async (sql: string) => (await db.pool.query(sql)).rows;
  return {
    jobs: await q("SELECT id, state, attempts, command, signal_requested, cancel_requested_at FROM jobs ORDER BY id"),
    config: await q("SELECT key, value FROM config ORDER BY key"),
    queues: await q("SELECT name, paused, concurrency_limit FROM queues ORDER BY name"),
    schedules: await q("SELECT name, paused FROM schedules ORDER BY name"),
    workers: await q("SELECT id, stop_requested FROM workers ORDER BY id"),
    audit: await q("SELECT count(*)::int AS n FROM audit_log"),
    grants: await q("SELECT role, kind FROM role_grants ORDER BY role"),
  };
}

/** The CLI as `role`. */
function as(role: string, args: string[]) {
  return queuectl(args, { env: { DATABASE_URL: urlAs(db, role) } });
}

/** Every operator command, against jobs in the states it acts on (seeded below). */
const OPERATOR_COMMANDS: string[][] = [
  ["cancel", "pend-1"],
  ["kill", "run-1", "--signal", "TERM"],
  ["requeue", "done-1"],
  ["purge", "--state", "completed", "--older-than", "0"],
  ["dlq", "retry", "dead-1"],
  ["dlq", "retry", "dead-1", "--edit", '{"command":"true"}'],
  ["config", "set", "max_retries", "7"],
  ["queue", "pause", "default"],
  ["queue", "resume", "default"],
  ["queue", "set-concurrency", "default", "3"],
  ["schedule", "add", "nightly", "0 3 * * *", '{"command":"true"}'],
  ["schedule", "pause", "hourly"],
  ["schedule", "remove", "hourly"],
  ["worker", "stop"],
];

const READ_COMMANDS: string[][] = [["status"], ["list"], ["show", "pend-1"], ["dlq", "list"], ["config", "get"], ["queue", "list"], ["worker", "list"], ["schedule", "list"], ["audit"], ["logs", "done-1"]];

beforeAll(async () => {
  for (const kind of Object.keys(kinds) as Array<keyof typeof kinds>) {
    kinds[kind] = await roles.create(kind);
    const res = await queuectl(["db", "grant", kinds[kind], "--as", kind]);
    expect(res, res.stderr).toMatchObject({ code: 0 });
  }
  // Jobs in each state an operator command acts on, written as the owner.
  await db.pool.query(
    `INSERT INTO jobs (id, queue, command, state, max_retries, finished_at, worker_id, lease_expires_at, started_at, last_attempt, attempts)
     VALUES ('pend-1', 'default', 'echo p', 'pending', 0, NULL, NULL, NULL, NULL, 0, 0),
            ('run-1', 'default', 'sleep 60', 'processing', 0, NULL, 'w-1', now() + interval '1 hour', now(), 1, 1),
            ('done-1', 'default', 'echo d', 'completed', 0, now() - interval '1 hour', NULL, NULL, NULL, 1, 1),
            ('dead-1', 'default', 'exit 3', 'dead', 0, now() - interval '1 hour', NULL, NULL, NULL, 1, 1)`,
  );
  await db.pool.query(`INSERT INTO workers (id, host, pid, queues, concurrency) VALUES ('w-1', 'elsewhere', 1, '{}', 1)`);
  expect((await queuectl(["schedule", "add", "hourly", "0 * * * *", '{"command":"true"}'])).code).toBe(0);
});

describe("queuectl db grant", () => {
  it("refuses a superuser, the owner itself, an unknown role and an unknown kind, and a role that does not own the tables", async () => {
    const superuser = (await db.pool.query<{ r: string }>("SELECT rolname AS r FROM pg_roles WHERE rolsuper LIMIT 1")).rows[0]!.r;
    const before = await snapshot();
    const refusals = [
      [["db", "grant", superuser, "--as", "admin"], 2, /is a superuser/],
      [["db", "grant", "no_such_role_here", "--as", "viewer"], 3, /no PostgreSQL role 'no_such_role_here'/],
      [["db", "grant", kinds.viewer, "--as", "root"], 2, /--as must be one of enqueuer, worker, viewer, admin/],
    ] as const;
    for (const [args, code, message] of refusals) {
      const res = await queuectl([...args]);
      expect(res.code, args.join(" ")).toBe(code);
      expect(res.stderr).toMatch(message);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
    }
    const byAdmin = await as(kinds.admin, ["db", "grant", kinds.viewer, "--as", "admin"]);
    expect(byAdmin.code).toBe(4);
    expect(byAdmin.stderr).toMatch(/only the owner of the queue's tables/);
    expect(await snapshot()).toEqual(before);
  });

  it("db roles lists each granted role with its kind", async () => {
    const res = await queuectl(["db", "roles", "--json"]);
    const listed = JSON.parse(res.stdout) as Array<{ role: string; kind: string; exists: boolean }>;
    for (const [kind, role] of Object.entries(kinds)) expect(listed).toContainEqual(expect.objectContaining({ role, kind, exists: true }));
  });
});

describe("what each kind may not do: refused by the database, one line, exit 4, nothing changed", () => {
  const forbidden: Record<string, string[][]> = {
    viewer: [["enqueue", "--command", "true"], ...OPERATOR_COMMANDS],
    enqueuer: [...OPERATOR_COMMANDS],
    // A worker updates jobs (claims, outcomes) but cannot write the audit trail every operator action writes.
    worker: [...OPERATOR_COMMANDS],
  };
  for (const [kind, commands] of Object.entries(forbidden)) {
    it(`${kind}: ${commands.length} commands`, async () => {
      const role = kinds[kind as keyof typeof kinds];
      // `worker stop` acts on live workers only: keep the seeded one live however long the run takes.
      await db.pool.query("UPDATE workers SET heartbeat_at = now() WHERE id = 'w-1'");
      const before = await snapshot();
      // All at once: each is refused by itself, and the snapshot after shows that none changed anything.
      const results = await Promise.all(commands.map(async (args) => ({ args, res: await as(role, args) })));
      for (const { args, res } of results) {
        expect(res.code, `${kind}: ${args.join(" ")}: ${res.stderr}`).toBe(4);
        const lines = res.stderr.trim().split("\n");
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^queuectl: role '${role}' \\(${kind}\\) may not run '${args[0]}`));
      }
      expect(await snapshot()).toEqual(before);
    }, CLI_HEAVY_TIMEOUT_MS);
  }
});

describe("what each kind must be able to do", () => {
  it("every kind reads: status, list, show, dlq list, config get, queue list, worker list, schedule list, audit, logs", async () => {
    // Forty CLI runs: each role's ten at once (they only read).
    for (const role of Object.values(kinds)) {
      const results = await Promise.all(READ_COMMANDS.map(async (args) => ({ args, res: await as(role, args) })));
      for (const { args, res } of results) expect(res.code, `${role}: ${args.join(" ")}: ${res.stderr}`).toBe(0);
    }
  }, CLI_HEAVY_TIMEOUT_MS);

  it("an enqueuer enqueues, with a dependency on an existing job; its jobs start pending", async () => {
    expect((await as(kinds.enqueuer, ["enqueue", '{"id":"enq-a","command":"true"}'])).code).toBe(0);
    const res = await as(kinds.enqueuer, ["enqueue", '{"id":"enq-b","command":"true","depends_on":["enq-a","done-1"]}']);
    expect(res, res.stderr).toMatchObject({ code: 0 });
    const rows = (await db.pool.query("SELECT id, state, deps_pending FROM jobs WHERE id LIKE 'enq-%' ORDER BY id")).rows;
    expect(rows).toEqual([
      { id: "enq-a", state: "pending", deps_pending: 0 },
      { id: "enq-b", state: "pending", deps_pending: 1 },
    ]);
  });

  it("a worker runs jobs (a dependency chain, a retry into the DLQ, a schedule's tick) and retention", async () => {
    await db.pool.query("UPDATE jobs SET state = 'cancelled', finished_at = now() WHERE id IN ('pend-1', 'enq-a', 'enq-b')");
    await db.pool.query("UPDATE jobs SET state = 'dead', worker_id = NULL, lease_expires_at = NULL WHERE id = 'run-1'");
    expect((await queuectl(["enqueue", '{"id":"w-a","command":"echo a","queue":"wq"}'])).code).toBe(0);
    expect((await queuectl(["enqueue", '{"id":"w-b","command":"echo b","queue":"wq","depends_on":["w-a"]}'])).code).toBe(0);
    expect((await queuectl(["enqueue", '{"id":"w-fail","command":"exit 1","queue":"wq","max_retries":1}'])).code).toBe(0);
    expect((await queuectl(["schedule", "add", "every-2s", "*/2 * * * * *", '{"command":"echo tick","queue":"wq"}'])).code).toBe(0);
    expect((await queuectl(["queue", "set-concurrency", "wq", "2"])).code).toBe(0);
    expect((await queuectl(["config", "set", "backoff_base", "1"])).code).toBe(0);
    const worker = startWorkerProcess(["--queue", "wq", "--concurrency", "2"], { DATABASE_URL: urlAs(db, kinds.worker), QUEUECTL_LOG_LEVEL: "warn" });
    try {
      await waitFor(
        async () => {
          const r = await db.pool.query<{ id: string; state: string }>("SELECT id, state FROM jobs WHERE queue = 'wq'");
          const s = new Map(r.rows.map((x) => [x.id, x.state]));
          return s.get("w-b") === "completed" && s.get("w-fail") === "dead" && r.rows.some((x) => x.id.startsWith("every-2s@") && x.state === "completed");
        },
        { timeoutMs: 30_000, what: `jobs to finish under the worker role; log: ${worker.log()}` },
      );
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
    expect(worker.log()).not.toMatch(/permission denied/i);
    // Retention through the owner's function: deletes what config says, nothing else.
    await queuectl(["config", "set", "retention_completed", "1"]);
    await new Promise((r) => setTimeout(r, 1100));
    const client = new pg.Client({ connectionString: urlAs(db, kinds.worker) });
    await client.connect();
    try {
      const res = await client.query<{ jobs_deleted: number }>("SELECT jobs_deleted FROM queuectl_apply_retention(1000)");
      expect(res.rows[0]!.jobs_deleted).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
    await queuectl(["config", "set", "retention_completed", "0"]);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE queue = 'wq' AND state = 'completed'")).rows[0].n).toBe(0);
    expect((await queuectl(["schedule", "remove", "every-2s"])).code).toBe(0);
  });

  it("an admin runs every operator command, each recorded in the audit trail as its role", async () => {
    await db.pool.query("UPDATE jobs SET state = 'pending', finished_at = NULL WHERE id = 'pend-1'");
    await db.pool.query("UPDATE jobs SET state = 'dead', finished_at = now() WHERE id = 'dead-1'");
    await db.pool.query(
      `INSERT INTO jobs (id, queue, command, state, max_retries, finished_at, last_attempt, attempts) VALUES ('done-2', 'default', 'echo', 'completed', 0, now(), 1, 1)
       ON CONFLICT (id) DO NOTHING`,
    );
    const before = (await db.pool.query("SELECT max(id) AS id FROM audit_log")).rows[0].id ?? 0;
    const commands = [
      ["cancel", "pend-1"],
      ["requeue", "done-2"],
      ["dlq", "retry", "dead-1", "--edit", '{"command":"true"}'],
      ["purge", "--state", "cancelled", "--older-than", "0"],
      ["config", "set", "max_retries", "7"],
      ["queue", "pause", "default"],
      ["queue", "resume", "default"],
      ["queue", "set-concurrency", "default", "3"],
      ["schedule", "add", "nightly", "0 3 * * *", '{"command":"true"}'],
      ["schedule", "pause", "nightly"],
      ["schedule", "resume", "nightly"],
      ["schedule", "remove", "nightly"],
    ];
    for (const args of commands) {
      const res = await as(kinds.admin, args);
      expect(res.code, `${args.join(" ")}: ${res.stderr}`).toBe(0);
    }
    const rows = (await db.pool.query<{ action: string; db_role: string }>("SELECT action, db_role FROM audit_log WHERE id > $1 ORDER BY id", [before])).rows;
    expect(new Set(rows.map((r) => r.db_role))).toEqual(new Set([kinds.admin]));
    expect(rows.map((r) => r.action)).toEqual(
      expect.arrayContaining(["cancel", "requeue", "dlq retry --edit", "purge", "config set", "queue pause", "queue resume", "queue set-concurrency", "schedule add", "schedule pause", "schedule resume", "schedule remove"]),
    );
  }, CLI_HEAVY_TIMEOUT_MS);
});

describe("the same limits hold for SQL a role writes itself", () => {
  async function sqlAs(role: string, sql: string): Promise<string> {
    const client = new pg.Client({ connectionString: urlAs(db, role) });
    await client.connect();
    try {
      await client.query(sql);
      return "ok";
    } catch (err) {
      return (err as { code?: string }).code ?? "?";
    } finally {
      await client.end();
    }
  }

  it("refuses each with SQLSTATE 42501 and changes nothing", async () => {
    const before = await snapshot();
    const attempts: Array<[string, string]> = [
      [kinds.enqueuer, "UPDATE jobs SET state = 'cancelled' WHERE id = 'pend-1'"],
      [kinds.enqueuer, "INSERT INTO jobs (id, queue, command, state) VALUES ('sneaky', 'default', 'x', 'completed')"],
      [kinds.enqueuer, "DELETE FROM jobs"],
      [kinds.enqueuer, "SELECT * FROM queuectl_apply_retention(10)"],
      [kinds.worker, "DELETE FROM jobs"],
      [kinds.worker, "INSERT INTO config (key, value) VALUES ('max_retries', '0')"],
      [kinds.worker, "UPDATE queues SET paused = true"],
      [kinds.viewer, "INSERT INTO dashboard_sessions (id, token_digest, expires_at, db_role) VALUES ('x', 'y', now(), 'someone')"],
      [kinds.viewer, "UPDATE jobs SET priority = 1"],
      [kinds.admin, "DELETE FROM audit_log"],
      [kinds.admin, "UPDATE audit_log SET db_role = 'someone'"],
      [kinds.admin, "INSERT INTO audit_log (db_role, source, action, target) VALUES ('someone', 'cli', 'cancel', 'x')"],
      [kinds.admin, "INSERT INTO role_grants (role, kind) VALUES ('x', 'admin')"],
    ];
    for (const [role, sql] of attempts) expect(await sqlAs(role, sql), `${role}: ${sql}`).toBe("42501");
    // The schema stays with its owner.
    expect(await sqlAs(kinds.admin, "ALTER TABLE jobs ADD COLUMN x int")).toBe("42501");
    expect(await snapshot()).toEqual(before);
  });
});

describe("revoke, and grants again after a migration", () => {
  it("db revoke takes everything back; regrantRoles gives each recorded role its kind again", async () => {
    const role = await roles.create("revoked");
    expect((await queuectl(["db", "grant", role, "--as", "viewer"])).code).toBe(0);
    expect((await as(role, ["status"])).code).toBe(0);
    const revoked = await queuectl(["db", "revoke", role]);
    expect(revoked.stdout).toMatch(/no longer a viewer/);
    const refused = await as(role, ["list"]);
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(new RegExp(`role '${role}' may not run 'list'`));
    expect((await queuectl(["db", "revoke", role])).code).toBe(3);

    // A privilege lost (as a table a later migration adds would be missing) comes back with regrantRoles.
    await db.pool.query(`REVOKE SELECT ON jobs FROM ${pg.escapeIdentifier(kinds.viewer)}`);
    expect((await as(kinds.viewer, ["list"])).code).toBe(4);
    await regrantRoles(db.pool);
    expect((await as(kinds.viewer, ["list"])).code).toBe(0);
  });
});
