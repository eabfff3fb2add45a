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
