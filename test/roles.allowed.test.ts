/**
 * `db grant --as enqueuer|worker|viewer|admin`, what each kind must be able to do, through the real
 * CLI logged in as the role; `db revoke`, and grants given again after a migration. (What each kind
 * may not do: roles.refusals.test.ts.)
 */
import { describe, expect, it } from "vitest";
import pg from "pg";
import { regrantRoles } from "../src/queue/roles.js";
import { queuectl } from "./helpers/cli.js";
import { CLI_HEAVY_TIMEOUT_MS, READ_COMMANDS, useRoleFixture } from "./helpers/role-fixture.js";
import { urlAs } from "./helpers/roles.js";
import { startWorkerProcess, waitFor } from "./helpers/workers.js";

const { db, roles, kinds, as } = useRoleFixture("a");

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
