#!/usr/bin/env node
/**
 * The database side of a job, without commands: 4 loops (like 4 worker slots) each claim one job and
 * complete it, until 2000 jobs are done, through dist/queue/sql/claim.js. Prints per job: wall time, this
 * process's CPU, the CPU of the PostgreSQL backends serving it (when the server runs on this host; WAL
 * writer and checkpointer not included) and transactions committed.
 *
 * Variants (the claim statement are named prepared statements: parsed and planned once per connection):
 *   claim, complete  a claim, then a completion: two round trips and two commits per job
 *   async-commit     the same with synchronous_commit=off for these sessions: how much of the wall time
 *                    is waiting for the WAL flush
 *   complete+claim   completeAndClaimJobs, what the worker sends: the finished job's completion and the
 *                    slot's next claim in one statement, one round trip and one commit per job (a busy
 *                    worker batches several completions into one, which this loop does not)
 *
 *   node bench/db-cost.mjs [jobs=2000]
 * Uses a scratch database on DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/postgres),
 * dropped at the end.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { isLocalServer } from "./lib/backend-cpu.mjs";
import { procCpu } from "./lib/proc-cpu.mjs";
import { connectAdmin, createDatabase, databaseUrl, dropDatabase, scratchDbName, serverUrlFromEnv, xactCommits } from "./lib/scratch-db.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2000);
const SLOTS = 4;

const { completeAndClaimJobs } = await import(join(DIST, "queue", "sql", "claim.js"));
const { insertJobs } = await import(join(DIST, "queue", "sql", "enqueue.js"));
const claimOne = async (db, workerId) => (await completeAndClaimJobs(db, { workerId, queues: [], limit: 1, leaseMs: 30000, completions: [] })).claimed[0];
const { applyMigrations } = await import(join(DIST, "db", "migrate.js"));
const { toNewJob } = await import(join(DIST, "queue", "job-spec.js"));

const serverUrl = serverUrlFromEnv();
const dbName = scratchDbName("queuectl_bench_");
const benchUrl = databaseUrl(serverUrl, dbName);

let local = false;
/** CPU ms of the backends connected to the scratch database now (the pool's, opened beforehand). */
async function serverCpuMs() {
  if (!local) return NaN;
  const { rows } = await admin.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [dbName]);
  return rows.reduce((t, r) => t + (procCpu(r.pid)?.self ?? NaN), 0);
}

const admin = await connectAdmin(serverUrl);
await createDatabase(admin, dbName);
local = isLocalServer(serverUrl);

function report(name, ms, cpu, serverMs, xactCount) {
  console.log(
    `${name.padEnd(15)} ${((N * 1000) / ms).toFixed(0).padStart(6)} jobs/s  ${(ms / N).toFixed(3)} ms/job wall (4 loops)  client CPU ${((cpu.user + cpu.system) / 1000 / N).toFixed(3)} ms/job  server CPU ${(serverMs / N).toFixed(3)} ms/job  ${(xactCount / N).toFixed(2)} xact/job`,
  );
}

/** One slot's loop: runs jobs until none is left, returns how many it finished. */
const slotLoops = {
  /** A claim, then a completion: two statements per job. */
  separate: async (db, workerId) => {
    let done = 0;
    for (;;) {
      const job = await claimOne(db, workerId);
      if (!job) return done;
      const completions = [{ jobId: job.id, attempt: job.attempt, exitCode: 0, output: "", durationMs: 1 }];
      const { completed } = await completeAndClaimJobs(db, { workerId, queues: [], limit: 0, leaseMs: 30000, completions });
      if (!completed.has(job.id)) throw new Error("fence rejected a completion");
      done++;
    }
  },
  /** completeAndClaimJobs: the finished job's completion and the next claim in one statement. */
  combined: async (db, workerId) => {
    let done = 0;
    let job = await claimOne(db, workerId);
    while (job) {
      const completions = [{ jobId: job.id, attempt: job.attempt, exitCode: 0, output: "", durationMs: 1 }];
      const { completed, claimed } = await completeAndClaimJobs(db, { workerId, queues: [], limit: 1, leaseMs: 30000, completions });
      if (!completed.has(job.id)) throw new Error("fence rejected a completion");
      done++;
      job = claimed[0];
    }
    return done;
  },
};

async function variant(name, slotLoop, { options } = {}) {
  const pool = new pg.Pool({ connectionString: benchUrl, max: SLOTS + 1, options });
  await pool.query("TRUNCATE jobs, job_attempts CASCADE");
  await insertJobs(pool, Array.from({ length: N }, () => toNewJob({ command: "true" }, { maxRetries: 0 })));
  await pool.query("ANALYZE jobs");
  // Open the connections first so connecting is not timed.
  await Promise.all(Array.from({ length: SLOTS }, () => pool.query("SELECT 1")));
  const workerId = `bench-${name}`;
  const x0 = await xactCommits(admin, dbName);
  const s0 = await serverCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const done = (await Promise.all(Array.from({ length: SLOTS }, () => slotLoop(pool, workerId)))).reduce((a, b) => a + b, 0);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const s1 = await serverCpuMs();
  await pool.end();
  await new Promise((r) => setTimeout(r, 300));
  const x1 = await xactCommits(admin, dbName);
  if (done !== N) throw new Error(`${done} of ${N} done`);
  report(name, ms, cpu, s1 - s0, x1 - x0);
}

try {
  const setup = new pg.Pool({ connectionString: benchUrl, max: 2 });
  await applyMigrations(setup);
  await setup.end();
  console.log(`${N} jobs, ${SLOTS} loops of claim(1) + complete; load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  for (let round = 0; round < 2; round++) {
    await variant("claim, complete", slotLoops.separate);
    await variant("async-commit", slotLoops.separate, { options: "-c synchronous_commit=off" });
    await variant("complete+claim", slotLoops.combined);
  }
} finally {
  await dropDatabase(admin, dbName);
  await admin.end();
}
