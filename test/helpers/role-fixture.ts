/**
 * The role tests' fixture (test/roles.*.test.ts): one login role of each kind made with `db grant`,
 * jobs in every state an operator command acts on, a worker row and a schedule; the CLI as a role; a
 * snapshot of everything an action could change.
 */
import { beforeAll, expect } from "vitest";
import { queuectl } from "./cli.js";
import { useTestDatabase, type TestDatabase } from "./db.js";
import { useLoginRoles, urlAs } from "./roles.js";

/**
 * Tests that run a dozen or more CLI processes one after the other: ~0.7 s each on a quiet 2-core
 * machine (under a loaded suite, three times that), so well above the default minute.
 */
export const CLI_HEAVY_TIMEOUT_MS = 240_000;

/** Every operator command, against jobs in the states it acts on (seeded by useRoleFixture). */
export const OPERATOR_COMMANDS: string[][] = [
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

export const READ_COMMANDS: string[][] = [["status"], ["list"], ["show", "pend-1"], ["dlq", "list"], ["config", "get"], ["queue", "list"], ["worker", "list"], ["schedule", "list"], ["audit"], ["logs", "done-1"]];

export interface RoleFixture {
  db: TestDatabase;
  roles: { create(suffix: string): Promise<string> };
  /** Each kind's role name (filled in beforeAll). */
  kinds: { enqueuer: string; worker: string; viewer: string; admin: string };
  /** The CLI logged in as `role`. */
  as(role: string, args: string[]): ReturnType<typeof queuectl>;
  /** Everything an action could change, as one comparable value. */
  snapshot(): Promise<unknown>;
}

/** `tag` keeps the role names of test files apart (they share the server). */
export function useRoleFixture(tag: string): RoleFixture {
  const db = useTestDatabase();
  const roles = useLoginRoles(db);
  const kinds = { enqueuer: "", worker: "", viewer: "", admin: "" };
  beforeAll(async () => {
    for (const kind of Object.keys(kinds) as Array<keyof typeof kinds>) {
      kinds[kind] = await roles.create(`${tag}_${kind}`);
      const res = await queuectl(["db", "grant", kinds[kind], "--as", kind]);
      expect(res, res.stderr).toMatchObject({ code: 0 });
    }
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
  return {
    db,
    roles,
    kinds,
    as: (role, args) => queuectl(args, { env: { DATABASE_URL: urlAs(db, role) } }),
    async snapshot() {
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
    },
  };
}
