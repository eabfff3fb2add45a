/**
 * The migration applier keeps Prisma's bookkeeping (so `prisma migrate deploy` agrees with it), is
 * safe to run concurrently, and the tables it creates match prisma/schema.prisma: every model makes a
 * round trip through Prisma Client.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createPrismaClient } from "../src/db/prisma.js";
import { applyMigrations, assertSchemaCurrent, migrationStatus, migrationsDir } from "../src/db/migrate.js";
import { useTestDatabase } from "./helpers/db.js";

const db = useTestDatabase({ migrate: false });
const MIGRATIONS = [
  "20261123000000_init",
  "20261123100000_operator_tools",
  "20261123200000_schedules_pipelines",
  "20261207000000_attempt_numbers_cancel_requests",
  "20261207100000_roles_audit",
  "20261207200000_dead_letters_open_idx",
  "20261207300000_job_progress",
  "20261207400000_queue_autovacuum",
];

describe("db migrate", () => {
  it("refuses to run against an unmigrated database, then applies every migration once even when raced", async () => {
    await expect(assertSchemaCurrent(db.pool)).rejects.toThrow(/queuectl db migrate/);
    const results = await Promise.all([applyMigrations(db.pool), applyMigrations(db.pool), applyMigrations(db.pool)]);
    // Racing runs share the work, one migration at a time: each is applied by exactly one of them.
    expect(results.flat().sort()).toEqual(MIGRATIONS);
    await expect(assertSchemaCurrent(db.pool)).resolves.toBeUndefined();
    expect(await applyMigrations(db.pool)).toEqual([]);
  });

  it("records migrations the way Prisma's engine does", async () => {
    const names = MIGRATIONS;
    const rows = await db.pool.query("SELECT migration_name, checksum, finished_at, applied_steps_count, rolled_back_at FROM _prisma_migrations ORDER BY migration_name");
    expect(rows.rows).toHaveLength(names.length);
    names.forEach((name, i) => {
      const sql = readFileSync(join(migrationsDir(), name, "migration.sql"), "utf8");
      expect(rows.rows[i]).toMatchObject({
        migration_name: name,
        checksum: createHash("sha256").update(sql, "utf8").digest("hex"),
        applied_steps_count: 1,
        rolled_back_at: null,
      });
      expect(rows.rows[i].finished_at).toBeInstanceOf(Date);
    });
    expect((await migrationStatus(db.pool)).map((m) => [m.name, m.applied, m.checksumMismatch])).toEqual(names.map((n) => [n, true, false]));
  });

  it("creates tables that match the Prisma schema (a Prisma Client round trip of every model)", async () => {
    const prisma = createPrismaClient(db.pool);
    const job = await prisma.job.create({
      data: { id: "rt", command: "echo hi", maxRetries: 2, timeoutMs: 500, uniqueKey: "k1", retryOn: [1, 75], noRetryOn: [2], signalRequested: "SIGUSR1" },
    });
    expect(job).toMatchObject({ queue: "default", state: "pending", priority: 0, attempts: 0, uniqueKey: "k1", retryOn: [1, 75], noRetryOn: [2], signalRequested: "SIGUSR1" });
    // The partial unique index: a second active job with the key is refused, a finished one is not.
    await expect(prisma.job.create({ data: { id: "rt2", command: "x", maxRetries: 0, uniqueKey: "k1" } })).rejects.toThrow();
    await prisma.job.create({ data: { id: "rt3", command: "x", maxRetries: 0, uniqueKey: "k1", state: "completed" } });
    const q = await prisma.queue.create({ data: { name: "emails", concurrencyLimit: 2 } });
    expect(q).toMatchObject({ name: "emails", concurrencyLimit: 2, paused: false });
    expect((await prisma.queue.update({ where: { name: "emails" }, data: { paused: true, concurrencyLimit: null } })).paused).toBe(true);
    expect(typeof job.seq).toBe("bigint");
    const attempt = await prisma.jobAttempt.create({ data: { jobId: "rt", attempt: 1, workerId: "w", output: "hi\n", exitCode: 0 } });
    const dead = await prisma.deadLetter.create({ data: { jobId: "rt", queue: "default", command: "echo hi", reason: "r", attempts: 3 } });
    await prisma.worker.create({ data: { id: "w", host: "h", pid: 1, queues: ["a"], concurrency: 2 } });
    await prisma.config.create({ data: { key: "lease_ms", value: "1000" } });
    const loaded = await prisma.job.findUniqueOrThrow({ where: { id: "rt" }, include: { history: true, deadLetters: true } });
    expect(loaded.history.map((h) => h.id)).toEqual([attempt.id]);
    expect(loaded.deadLetters.map((d) => d.id)).toEqual([dead.id]);
    expect((await prisma.worker.findUniqueOrThrow({ where: { id: "w" } })).stopRequested).toBe(false);
    expect((await prisma.config.findUniqueOrThrow({ where: { key: "lease_ms" } })).value).toBe("1000");
    // Dependencies, run environment and schedules.
    await prisma.job.create({ data: { id: "rt2", command: "make", maxRetries: 0, depsPending: 1, cwd: "/srv", env: { A: "1" } } });
    await prisma.jobDependency.create({ data: { jobId: "rt2", dependsOn: "rt" } });
    const waiting = await prisma.job.findUniqueOrThrow({ where: { id: "rt2" }, include: { dependsOn: true } });
    expect(waiting).toMatchObject({ depsPending: 1, dependents: 0, cwd: "/srv", env: { A: "1" } });
    expect(waiting.dependsOn).toEqual([{ jobId: "rt2", dependsOn: "rt", settledAt: null }]);
    expect((await prisma.job.findUniqueOrThrow({ where: { id: "rt" }, include: { requiredBy: true } })).requiredBy.map((d) => d.jobId)).toEqual(["rt2"]);
    const next = new Date("2030-01-01T03:00:00.000Z");
    await prisma.schedule.create({ data: { name: "nightly", cron: "0 3 * * *", job: { command: "true" }, nextRunAt: next } });
    expect(await prisma.schedule.findUniqueOrThrow({ where: { name: "nightly" } })).toMatchObject({
      timezone: "UTC", paused: false, missed: "skip", catchUpLimit: 10, nextRunAt: next, lastRunAt: null, job: { command: "true" },
    });
    // Deleting a job takes its history, DLQ entries and dependency edges with it.
    await prisma.job.delete({ where: { id: "rt" } });
    expect(await prisma.jobAttempt.count()).toBe(0);
    expect(await prisma.deadLetter.count()).toBe(0);
    expect(await prisma.jobDependency.count()).toBe(0);
  });
});
