/**
 * `queuectl db migrate/status/stop`, and what every command says when the schema is missing or the
 * database cannot be reached (exit 1, one line, within seconds).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { createTestDatabase, dropTestDatabase, useTestDatabase, type TestDatabase } from "./helpers/db.js";

useTestDatabase();

const INIT = "20261123000000_init";

interface MigrationJson {
  name: string;
  applied: boolean;
  applied_at: string | null;
  checksum_mismatch: boolean;
}

describe("db on a migrated database", () => {
  it("db status shows the init migration applied", async () => {
    const status = await queuectlJson<MigrationJson[]>(["db", "status"]);
    expect(status.find((m) => m.name === INIT)).toMatchObject({ applied: true, checksum_mismatch: false, applied_at: expect.any(String) });
    expect(status.every((m) => m.applied)).toBe(true);
    const human = await queuectl(["db", "status"]);
    expect(human.stdout).toMatch(new RegExp(`^${INIT}\\s+applied 20`, "m"));
    expect(human.stdout).toMatch(/the database schema is up to date$/);
  });

  it("db migrate has nothing to do", async () => {
    expect(await queuectl(["db", "migrate"])).toMatchObject({ code: 0, stdout: "the database schema is up to date" });
    expect(await queuectlJson(["db", "migrate"])).toEqual({ applied: [] });
  });

  it("db stop says there is no local server when DATABASE_URL is set", async () => {
    const res = await queuectl(["db", "stop"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/DATABASE_URL is set.*nothing to stop/);
  });
});

describe("db on a database without the schema", () => {
  let bare: TestDatabase;
  beforeAll(async () => {
    bare = await createTestDatabase({ migrate: false });
  });
  afterAll(async () => {
    await dropTestDatabase(bare);
  });

  it("every other command exits 1 and says to run queuectl db migrate", async () => {
    const env = { DATABASE_URL: bare.url };
    const results = await Promise.all([
      queuectl(["status"], { env }),
      queuectl(["list", "--json"], { env }),
      queuectl(["enqueue", '{"command":"true"}'], { env }),
    ]);
    for (const res of results) {
      expect(res.code).toBe(1);
      expect(res.stdout).toBe("");
      expect(res.stderr).toMatch(/^queuectl: the database schema is not up to date \(\d+ pending migrations?\); run `queuectl db migrate`$/);
    }
    const tables = await bare.pool.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'");
    expect(tables.rows[0].n).toBe(0);
  });

  it("db status shows the migration pending; db migrate applies it; then commands work", async () => {
    const env = { DATABASE_URL: bare.url };
    const pending = await queuectl(["db", "status", "--json"], { env });
    const migrations = JSON.parse(pending.stdout) as MigrationJson[];
    expect(migrations[0]).toEqual({ name: INIT, applied: false, applied_at: null, checksum_mismatch: false });
    expect(migrations.every((m) => !m.applied)).toBe(true);
    expect((await queuectl(["db", "status"], { env })).stdout).toMatch(new RegExp(`${migrations.length} pending: run queuectl db migrate$`));

    const migrate = await queuectl(["db", "migrate"], { env });
    expect(migrate.code).toBe(0);
    expect(migrate.stdout.split("\n")).toEqual(migrations.map((m) => `applied ${m.name}`));
    expect(await queuectl(["status", "--json"], { env })).toMatchObject({ code: 0 });
  });
});

describe("db on a damaged schema", () => {
  const damaged = async (damage: string) => {
    const d = await createTestDatabase();
    await d.pool.query(damage);
    return d;
  };

  it("a dropped index: db status lists it and exits 1; db migrate says so too", async () => {
    const d = await damaged("DROP INDEX jobs_claim_idx");
    try {
      const env = { DATABASE_URL: d.url };
      const status = await queuectl(["db", "status"], { env });
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(/the schema differs from what its migrations build:\n {2}index jobs_claim_idx is missing/);
      expect(status.stderr).toBe("queuectl: the schema differs from its migrations: index jobs_claim_idx is missing; restore it from the migration files or a backup");
      const migrate = await queuectl(["db", "migrate"], { env });
      expect(migrate).toMatchObject({ code: 1, stdout: "" });
      expect(migrate.stderr).toMatch(/^queuectl: the schema differs from its migrations: index jobs_claim_idx is missing/);
    } finally {
      await dropTestDatabase(d);
    }
  });

  it("a migration this queuectl does not know: db status and db migrate exit 1 naming it", async () => {
    const d = await damaged(`INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
                             VALUES ('00000000-0000-0000-0000-000000000001', 'x', '29991231000000_from_the_future', now(), now(), 1)`);
    try {
      for (const args of [["db", "status"], ["db", "migrate"]]) {
        const res = await queuectl(args, { env: { DATABASE_URL: d.url } });
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(/^queuectl: the schema differs from its migrations: migration 29991231000000_from_the_future is applied but this queuectl does not know it/);
      }
    } finally {
      await dropTestDatabase(d);
    }
  });

  it("a dropped column: db status names it, commands fail with one line, a worker stops instead of retrying for ever", async () => {
    const d = await damaged("ALTER TABLE jobs DROP COLUMN deps_pending CASCADE");
    try {
      const env = { DATABASE_URL: d.url };
      const status = await queuectl(["db", "status"], { env });
      expect(status.code).toBe(1);
      expect(status.stdout).toMatch(/column jobs\.deps_pending is missing/);
      for (const args of [["list"], ["show", "x"], ["status"]]) {
        const res = await queuectl(args, { env });
        expect(res.code, args.join(" ")).toBe(1);
        expect(res.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
        expect(res.stderr, args.join(" ")).toMatch(/^queuectl: (the database schema does not match this queuectl \(.*deps_pending.*\); run `queuectl db status`|.*deps_pending)/);
      }
      const worker = await queuectl(["worker", "start", "--foreground"], { env, timeoutMs: 20_000 });
      expect(worker.code).toBe(1);
      expect(worker.stderr).toMatch(/^queuectl: the database schema does not match this queuectl \(.*deps_pending.*\); run `queuectl db status`$/m);
    } finally {
      await dropTestDatabase(d);
    }
  });
});

describe("an unreachable database", () => {
  it("exits 1 within 6 s with one line on stderr", async () => {
    const env = { DATABASE_URL: "postgresql://postgres@127.0.0.1:1/queuectl" };
    for (const args of [["status"], ["enqueue", '{"command":"true"}'], ["db", "migrate"]]) {
      const started = Date.now();
      const res = await queuectl(args, { env });
      expect(Date.now() - started).toBeLessThan(6000);
      expect(res.code).toBe(1);
      expect(res.stdout).toBe("");
      expect(res.stderr.split("\n")).toHaveLength(1);
      expect(res.stderr).toMatch(/^queuectl: database unavailable: .*ECONNREFUSED/);
    }
  });

  it("still rejects invalid input first, with exit 2", async () => {
    const res = await queuectl(["enqueue", '{"command":""}'], { env: { DATABASE_URL: "postgresql://postgres@127.0.0.1:1/queuectl" } });
    expect(res).toEqual({ code: 2, stdout: "", stderr: "queuectl: 'command' must not be empty" });
  });
});
