#!/usr/bin/env node
/**
 * The database side of a job, without commands: 4 loops (like 4 worker slots) each claim one job and
 * complete it, until 2000 jobs are done, through dist/queue/sql.js. Prints per job: wall time, this
 * process's CPU, the CPU of the PostgreSQL backends serving it (when the server runs on this host; WAL
 * writer and checkpointer not included) and transactions committed.
 *
 * Variants (what the numbers are for: deciding SQL changes, see the notes in the final report):
 *   as-is           sql.ts as it is: claimJobs + completeJob, unnamed statements (parsed and planned
 *                   on every call)
 *   prepared        the same text as named prepared statements (pg's `name`): parsed and planned
 *                   once per connection
 *   async-commit    as-is with synchronous_commit=off for these sessions: how much of the wall time
 *                   is waiting for the WAL flush
 *   complete+claim  PROPOSAL, not in sql.ts: one statement completes the finished job (same fence as
 *                   completeJob) and claims the slot's next job (same claim as claimJobs): one round
 *                   trip and one commit per job instead of two
 *   c+c prepared    the proposal as a named prepared statement
 *
 *   node bench/db-cost.mjs [jobs=2000]
 * Uses a scratch database on DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/postgres),
 * dropped at the end.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2000);
const SLOTS = 4;

const sql = await import(join(DIST, "queue", "sql.js"));
const { applyMigrations } = await import(join(DIST, "db", "migrate.js"));
const { toNewJob } = await import(join(DIST, "queue", "job-spec.js"));

const serverUrl = process.env.DATABASE_URL?.trim() || "postgresql://postgres@127.0.0.1:5432/postgres";
const dbName = `queuectl_bench_${randomBytes(4).toString("hex")}`;
const u = new URL(serverUrl);
u.pathname = `/${dbName}`;
const benchUrl = u.toString();

const CLK_TCK = 100;
function procCpu(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return { self: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK };
  } catch {
    return null;
  }
}
let local = false;
/** CPU ms of the backends connected to the scratch database now (the pool's, opened beforehand). */
async function serverCpuMs() {
  if (!local) return NaN;
  const { rows } = await admin.query("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [dbName]);
  return rows.reduce((t, r) => t + (procCpu(r.pid)?.self ?? NaN), 0);
}

const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
local = ["127.0.0.1", "localhost", "::1", "[::1]", ""].includes(new URL(serverUrl).hostname);

/** A pool whose query(text, values) runs the text as a named prepared statement. */
function preparedView(pool) {
  const name = (text) => `q_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
  return {
    query: (text, values) => (typeof text === "string" ? pool.query({ name: name(text), text, values }) : pool.query(text, values)),
  };
}

/**
 * PROPOSAL: completeJob's fenced completion and claimJobs' claim in one statement (see header), the
 * two texts as sql.ts has them (keep in step when they change). The caller still settles dependents.
 */
const COMPLETE_AND_CLAIM = `
  WITH done AS (
    UPDATE jobs SET state = 'completed', exit_code = $4, last_error = NULL, duration_ms = $6,
           finished_at = now(), updated_at = now(), lease_expires_at = NULL, signal_requested = NULL
    WHERE id = $1 AND worker_id = $2 AND attempts = $3 AND state = 'processing'
    RETURNING id, dependents
  ), done_history AS (
    UPDATE job_attempts SET finished_at = now(), exit_code = $4, output = $5
    WHERE job_id = $1 AND attempt = $3 AND worker_id = $2 AND finished_at IS NULL
      AND EXISTS (SELECT 1 FROM done)
  ), next AS (
    SELECT id FROM jobs
    WHERE state IN ('pending', 'failed') AND run_at <= now() AND deps_pending = 0
      AND (cardinality($7::text[]) = 0 OR queue = ANY($7::text[]))
      AND queue <> ALL (ARRAY(SELECT name FROM queues WHERE paused OR concurrency_limit IS NOT NULL))
    ORDER BY priority DESC, run_at, seq
    LIMIT $8
    FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE jobs j
    SET state = 'processing', attempts = j.attempts + 1, worker_id = $2,
        lease_expires_at = now() + make_interval(secs => $9::float8 / 1000),
        started_at = now(), finished_at = NULL, updated_at = now()
    FROM next WHERE j.id = next.id
    RETURNING j.id, j.command, j.queue, j.attempts, j.max_retries, j.timeout_ms, j.priority, j.run_at, j.seq, j.cwd, j.env
  ), claimed_history AS (
    INSERT INTO job_attempts (job_id, attempt, worker_id, started_at)
    SELECT id, attempts, $2, now() FROM claimed
  )
  SELECT (SELECT count(*) FROM done) AS completed, (SELECT dependents FROM done) AS dependents,
         c.id, c.command, c.queue, c.attempts, c.max_retries, c.timeout_ms, c.priority, c.cwd, c.env
  FROM (SELECT 1) one LEFT JOIN claimed c ON true
  ORDER BY c.priority DESC, c.run_at, c.seq`;

async function combinedVariant(name, { prepared = false } = {}) {
  const pool = new pg.Pool({ connectionString: benchUrl, max: SLOTS + 1 });
  await pool.query("TRUNCATE jobs, job_attempts CASCADE");
  await sql.insertJobs(pool, Array.from({ length: N }, () => toNewJob({ command: "true" }, { maxRetries: 0 })));
  await pool.query("ANALYZE jobs");
  await Promise.all(Array.from({ length: SLOTS }, () => pool.query("SELECT 1")));
  const db = prepared ? preparedView(pool) : pool;
  const workerId = `bench-${name}`;
  const x0 = await xacts();
  const s0 = await serverCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: SLOTS }, async () => {
      let [job] = await sql.claimJobs(db, { workerId, queues: [], limit: 1, leaseMs: 30000 });
      while (job) {
        const { rows } = await db.query(COMPLETE_AND_CLAIM, [job.id, workerId, job.attempts, 0, "", 1, [], 1, 30000]);
        if (Number(rows[0].completed) !== 1) throw new Error("fence rejected a completion");
        done++;
        job = rows[0].id ? rows[0] : undefined;
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const s1 = await serverCpuMs();
  await pool.end();
  await new Promise((r) => setTimeout(r, 300));
  const x1 = await xacts();
  if (done !== N) throw new Error(`${done} of ${N} done`);
  report(name, ms, cpu, s1 - s0, x1 - x0);
}

function report(name, ms, cpu, serverMs, xactCount) {
  console.log(
    `${name.padEnd(15)} ${((N * 1000) / ms).toFixed(0).padStart(6)} jobs/s  ${(ms / N).toFixed(3)} ms/job wall (4 loops)  client CPU ${((cpu.user + cpu.system) / 1000 / N).toFixed(3)} ms/job  server CPU ${(serverMs / N).toFixed(3)} ms/job  ${(xactCount / N).toFixed(2)} xact/job`,
  );
}

async function xacts() {
  await admin.query("SELECT pg_stat_clear_snapshot()");
  return Number((await admin.query("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", [dbName])).rows[0].xact_commit);
}

async function variant(name, { prepared = false, options } = {}) {
  const pool = new pg.Pool({ connectionString: benchUrl, max: SLOTS + 1, options });
  await pool.query("TRUNCATE jobs, job_attempts CASCADE");
  await sql.insertJobs(pool, Array.from({ length: N }, () => toNewJob({ command: "true" }, { maxRetries: 0 })));
  await pool.query("ANALYZE jobs");
  // Open the connections first so connecting is not timed.
  await Promise.all(Array.from({ length: SLOTS }, () => pool.query("SELECT 1")));
  const db = prepared ? preparedView(pool) : pool;
  const workerId = `bench-${name}`;
  const x0 = await xacts();
  const s0 = await serverCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let done = 0;
  await Promise.all(
    Array.from({ length: SLOTS }, async () => {
      for (;;) {
        const [job] = await sql.claimJobs(db, { workerId, queues: [], limit: 1, leaseMs: 30000 });
        if (!job) return;
        const ok = await sql.completeJob(db, { jobId: job.id, workerId, attempt: job.attempts, exitCode: 0, output: "", durationMs: 1 });
        // false (before) or null (after completeJob began returning {dependents}) = refused.
        if (ok === false || ok === null) throw new Error("fence rejected a completion");
        done++;
      }
    }),
  );
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  const s1 = await serverCpuMs();
  await pool.end();
  await new Promise((r) => setTimeout(r, 300));
  const x1 = await xacts();
  if (done !== N) throw new Error(`${done} of ${N} done`);
  report(name, ms, cpu, s1 - s0, x1 - x0);
}

try {
  const setup = new pg.Pool({ connectionString: benchUrl, max: 2 });
  await applyMigrations(setup);
  await setup.end();
  console.log(`${N} jobs, ${SLOTS} loops of claim(1) + complete; load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  for (let round = 0; round < 2; round++) {
    await variant("as-is");
    await variant("prepared", { prepared: true });
    await variant("async-commit", { options: "-c synchronous_commit=off" });
    await combinedVariant("complete+claim");
    await combinedVariant("c+c prepared", { prepared: true });
  }
} finally {
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
}
