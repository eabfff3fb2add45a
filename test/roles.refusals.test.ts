/**
 * `db grant --as enqueuer|worker|viewer|admin`, what each kind may not do: tried through the real CLI
 * logged in as the role against every command it must not run (exit 4, one line naming the role and
 * the command, nothing changed), then as plain SQL, since the database, not the CLI, enforces it.
 * (What each kind must be able to do: roles.allowed.test.ts.)
 */
import { describe, expect, it } from "vitest";
import pg from "pg";
import { queuectl } from "./helpers/cli.js";
import { CLI_HEAVY_TIMEOUT_MS, OPERATOR_COMMANDS, useRoleFixture } from "./helpers/role-fixture.js";
import { urlAs } from "./helpers/roles.js";

const { db, kinds, as, snapshot } = useRoleFixture("r");

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

