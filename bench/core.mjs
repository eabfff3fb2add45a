#!/usr/bin/env node
/**
 * The core benchmark: throughput, pickup latency and bulk enqueue, measured in one
 * run against one scratch database, through the BUILT code (dist/) and the real CLI.
 *
 *   npm run build && npm run bench
 *   node bench/core.mjs [--only a,b,c] [--keep-db] [--no-save] [--verbose] [--note "..."] [--dist DIR]
 *                       [--db-set synchronous_commit=off]   (a setting on the scratch database)
 *                       [--worker-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"]   (the worker of (a))
 *
 * Database: a scratch database `queuectl_bench_<rand>` is created on the server DATABASE_URL points to
 * (default postgresql://postgres@127.0.0.1:5432/postgres), migrated, used by every measurement, and
 * dropped at the end (--keep-db keeps it). The database named in DATABASE_URL itself is not touched.
 *
 * What is timed (all times are wall-clock on this host unless they say "DB clock"):
 *
 * (a) Throughput. 2000 `true` jobs are inserted in one transaction (and ANALYZEd, as autovacuum
 *     would have done on a live table); then ONE
 *     `queuectl worker start --foreground --concurrency 4 --exit-when-idle` process is spawned.
 *     - worker jobs/s = 2000 / (last attempt finished_at - first attempt started_at), DB clock: from the
 *       start of the first claim statement to the commit time of the last completion. Process start-up
 *       (node, imports, connect, schema check, register, LISTEN) and shut-down are NOT in it; they are
 *       reported separately as the worker process's wall time (spawn -> exit).
 *     - ceiling jobs/s = 2000 / wall time of a plain Node loop in a fresh Node process of its own
 *       (bench/spawn-ceiling.mjs, which says why) that keeps 4 child_process.spawn('/bin/sh', ['-c',
 *       'true']) running (stdio ignored) until 2000 have exited. It runs before and after the worker;
 *       the faster of the two is the ceiling (the stricter ratio).
 *     - ratio = worker jobs/s / ceiling jobs/s (goal >= 0.7).
 *     - the physical limit: `seq 2000 | xargs -P4 -I{} sh -c true` before and after the worker (the
 *       faster counts), with its CPU per job; ratio_xargs = worker jobs/s / xargs jobs/s (goal >= 0.8)
 *       and cpu_cost_ratio_xargs = xargs CPU per job / (worker + shells + backends) per job.
 *     - also: CPU per job of the worker process, of its shells and of the postgres backends serving
 *       the scratch database (from /proc, when the server is on this host), transactions per job
 *       (pg_stat_database), and the CPU-cost ratio: ceiling CPU per job / (worker + shells +
 *       backends) per job, which is what the ratio tends to on a machine where CPU is the limit.
 * (b) Pickup latency of an idle worker (one `worker start --foreground --concurrency 4` process that
 *     has started and is LISTENing). 200 jobs are enqueued 20 ms apart, each in its own transaction
 *     through the library's insertJobs + notifyJobsAvailable (what `enqueue` does), from this process.
 *     - latency = attempt started_at (DB clock: start of the worker's claim statement)
 *                 - clock_timestamp() read in the enqueue transaction just before COMMIT (DB clock).
 *       Same clock on both ends; includes the COMMIT round trip, NOTIFY delivery, the worker's wake-up
 *       and the claim's round trip start. Resolution: started_at is timestamptz(3), so +-0.5 ms.
 *       Goal p95 < 10 ms.
 *     - also shown: from created_at (DB clock, start of the enqueue transaction, so it adds the
 *       insert and notify round trips), and until the command itself runs (each job is
 *       `date +%s%N`; its output minus the client's clock when COMMIT returned; same host clock).
 * (c) Bulk enqueue of 20000 jobs from a JSON-lines file:
 *     - CLI end to end: `queuectl enqueue --file jobs.jsonl` from spawn to exit (node start-up, module
 *       load, connect, schema check, read, validate, insert, commit, print 20000 ids, exit).
 *     - in-process: the same library calls the CLI makes (readEnqueueInput, enqueueJobs) timed in this
 *       process: read+parse+validate, and insert+commit separately (warm: second of two runs).
 *     - the CLI's fixed cost for comparison: `queuectl --version` and `queuectl config list --json`.
 *     Goal >= 30000 jobs/s.
 *
 * Load: the machine's CPU use by others (from /proc/stat minus ours) and the load average are
 * recorded per phase: other people's tests on the same box skew the numbers; re-run when quiet.
 * Results are printed as a table and appended to bench/results/core-<YYYY-MM-DD>.json.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, hostname, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { BackendCpu, postmasterPidOf } from "./lib/backend-cpu.mjs";
import { cpuDelta, cpuSample, ProcessTreeCpu } from "./lib/proc-cpu.mjs";
import { run } from "./lib/run.mjs";
import { connectAdmin, createDatabase, databaseUrl, dropDatabase, redact, scratchDbName, serverUrlFromEnv, xactCommits } from "./lib/scratch-db.mjs";
import { round, stats } from "./lib/stats.mjs";
import { nowMs, sleep, wallMs } from "./lib/time.mjs";
import { countLogLevels, startIdleWorker } from "./lib/worker-process.mjs";
import { printCoreReport } from "./lib/core-report.mjs";
import { measureSpawnCeiling } from "./spawn-ceiling.mjs";
import { xargsRate } from "./lib/xargs-rate.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

const A_JOBS = 2000;
const A_SLOTS = 4;
const B_JOBS = 200;
const B_GAP_MS = 20;
const C_JOBS = 20000;
const GOALS = { ratio: 0.7, ratioXargs: 0.8, p95Ms: 10, enqueuePerS: 30000 };

// ---------------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------------

const args = process.argv.slice(2);
const argValue = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = new Set((argValue("--only") ?? "a,b,c").split(",").map((s) => s.trim()));
const keepDb = args.includes("--keep-db");
/** Extra node flags for the worker process of (a), e.g. --worker-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof". */
const workerNodeArgs = (argValue("--worker-node-args") ?? "").split(" ").filter(Boolean);
const note = argValue("--note") ?? "";
/** Another build to measure (A/B experiments): a directory laid out like dist/, with node_modules reachable. */
const DIST = argValue("--dist") ?? join(ROOT, "dist");
const CLI = join(DIST, "cli", "main.js");
const save = !args.includes("--no-save");


if (!existsSync(CLI)) {
  console.error("bench: dist/ is missing; run `npm run build` first");
  process.exit(1);
}

const sql = await import(join(DIST, "queue", "sql", "enqueue.js"));
const { applyMigrations } = await import(join(DIST, "db", "migrate.js"));
const { toNewJob } = await import(join(DIST, "queue", "job-spec.js"));
const { createPool } = await import(join(DIST, "db", "pool.js"));
// (c) in-process needs them; a build without them (an older one given with --dist) skips it.
const jobsLib = await import(join(DIST, "queue", "enqueue.js")).catch(() => null);
const inputLib = await import(join(DIST, "queue", "enqueue-input.js")).catch(() => null);

// ---------------------------------------------------------------------------------------------
// Scratch database
// ---------------------------------------------------------------------------------------------

const serverUrl = serverUrlFromEnv();
const dbName = scratchDbName("queuectl_bench_");
const benchUrl = databaseUrl(serverUrl, dbName);

const admin = await connectAdmin(serverUrl, { application_name: "queuectl-bench-admin" });
const serverVersion = (await admin.query("SHOW server_version")).rows[0].server_version;
await createDatabase(admin, dbName);
// --db-set key=value: a setting for every session on the scratch database (what-if experiments,
// e.g. synchronous_commit=off to see how much of a job's time is WAL flushes). Recorded in results.
const dbSet = argValue("--db-set");
if (dbSet) {
  const [key, value] = dbSet.split("=");
  if (!/^[a-z_.]+$/.test(key ?? "") || value === undefined) throw new Error("--db-set wants key=value");
  await admin.query(`ALTER DATABASE ${dbName} SET ${key} = ${pg.escapeLiteral ? pg.escapeLiteral(value) : `'${value.replace(/'/g, "''")}'`}`);
}
const postmasterPid = await postmasterPidOf(admin, serverUrl);

const tmp = mkdtempSync(join(tmpdir(), "queuectl-bench-"));
const childEnv = {
  ...process.env,
  DATABASE_URL: benchUrl,
  QUEUECTL_HOME: join(tmp, "home"),
  NODE_OPTIONS: "",
};
const children = new Set();
let pool;

async function cleanup() {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {}
  }
  await pool?.end().catch(() => {});
  if (!keepDb) await dropDatabase(admin, dbName).catch((e) => console.error(`bench: could not drop ${dbName}: ${e.message}`));
  else console.error(`bench: kept database ${redact(benchUrl)}`);
  await admin.end().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
}
let interrupted = false;
process.on("SIGINT", () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  console.error("bench: interrupted; cleaning up");
  void cleanup().finally(() => process.exit(130));
});

const results = {
  date: new Date().toISOString(),
  host: hostname(),
  cpus: cpus().length,
  cpu_model: cpus()[0]?.model,
  node: process.version,
  postgres: serverVersion,
  git: await run("git", ["-C", ROOT, "log", "-1", "--format=%h %s"]).then((r) => r.stdout.trim()).catch(() => null),
  git_dirty: await run("git", ["-C", ROOT, "status", "--porcelain", "--", "src"]).then((r) => r.stdout.trim() !== "").catch(() => null),
  note,
  db_set: dbSet ?? null,
  dist: DIST === join(ROOT, "dist") ? "dist" : DIST,
  goals: GOALS,
};

// ---------------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------------

async function resetTables() {
  await pool.query("TRUNCATE jobs, job_attempts, dead_letters, workers CASCADE");
}

function newJobs(n, command) {
  return Array.from({ length: n }, () => toNewJob({ command }, { maxRetries: 0 }));
}

/**
 * The ceiling: a plain Node loop keeping `slots` `sh -c true` running until `n` have exited
 * (bench/spawn-ceiling.mjs). Its time is the loop's alone; its CPU (the process and its shells, read
 * as this process's children) includes the fresh Node's start-up: 0.08–0.13 s here, 0.05 ms a job of 2000.
 */
async function spawnCeiling(n, slots) {
  const before = cpuSample();
  const t0 = nowMs();
  const { ms } = await measureSpawnCeiling(n, slots);
  return { ms: round(ms), jobs_per_s: round((n * 1000) / ms), load: cpuDelta(before, cpuSample(), nowMs() - t0) };
}

/**
 * The physical limit: `seq n | xargs -P<slots> -I{} sh -c true` (bench/lib/xargs-rate.mjs), one run,
 * with its CPU (xargs and its shells, reaped as this process's grandchildren through `sh`).
 */
async function xargsLimit(n, slots) {
  const before = cpuSample();
  const t0 = nowMs();
  const jobsPerS = await xargsRate(n, slots, 1);
  const load = cpuDelta(before, cpuSample(), nowMs() - t0);
  return { jobs_per_s: round(jobsPerS), cpu_ms_per_job: round(load.children_cpu_ms / n, 3), load };
}

async function phaseA() {
  await resetTables();
  const xargsBefore = await xargsLimit(A_JOBS, A_SLOTS);
  const ceilingBefore = await spawnCeiling(A_JOBS, A_SLOTS);

  await sql.insertJobs(pool, newJobs(A_JOBS, "true"));
  await pool.query("ANALYZE jobs");
  const logFile = join(tmp, "worker-a.log");
  const xact0 = await xactCommits(admin, dbName);
  const backends = new BackendCpu({ postmasterPid, dbName });
  backends.start();
  const before = cpuSample();
  // The worker's own CPU and its command hosts' (its perl children, which start the shells) from
  // /proc, sampled every 100 ms: the last sample is up to 100 ms before exit. The shells' CPU is the
  // rest of what the worker's process tree used (exact: this process reaps the worker).
  let tree;
  let sampler;
  const w = await run(process.execPath, [...workerNodeArgs, CLI, "worker", "start", "--foreground", "--concurrency", String(A_SLOTS), "--exit-when-idle"], {
    env: childEnv,
    stdoutFile: logFile,
    onSpawn: (child) => {
      tree = new ProcessTreeCpu(child.pid);
      sampler = setInterval(() => {
        tree.sample();
        backends.sample();
      }, 100);
    },
  });
  clearInterval(sampler);
  const load = cpuDelta(before, cpuSample(), w.ms);
  const serverMs = backends.totalMs();
  // Backends flush their statistics when they exit, shortly after the worker closed its connections.
  let xact1 = await xactCommits(admin, dbName);
  for (let i = 0; i < 20; i++) {
    await sleep(100);
    const x = await xactCommits(admin, dbName);
    if (x === xact1 && i >= 2) break;
    xact1 = x;
  }
  if (w.code !== 0) throw new Error(`(a) worker exited ${w.code ?? w.signal}: ${w.stderr.trim()}`);

  const r = (
    await pool.query(`
      SELECT count(*) FILTER (WHERE j.state = 'completed') AS completed, count(*) AS total,
             extract(epoch FROM max(a.finished_at) - min(a.started_at)) * 1000 AS span_ms,
             avg(extract(epoch FROM a.finished_at - a.started_at) * 1000) AS avg_attempt_ms,
             avg(j.duration_ms) AS avg_command_ms
      FROM jobs j JOIN job_attempts a ON a.job_id = j.id`)
  ).rows[0];
  if (Number(r.completed) !== A_JOBS) throw new Error(`(a) only ${r.completed} of ${A_JOBS} jobs completed`);
  const logLevels = countLogLevels(logFile);

  const ceilingAfter = await spawnCeiling(A_JOBS, A_SLOTS);
  const xargsAfter = await xargsLimit(A_JOBS, A_SLOTS);
  const ceiling = ceilingBefore.jobs_per_s >= ceilingAfter.jobs_per_s ? ceilingBefore : ceilingAfter;
  // The faster xargs run is the limit (the stricter ratio); its CPU per job is the cheaper of the two.
  const xargs = xargsBefore.jobs_per_s >= xargsAfter.jobs_per_s ? xargsBefore : xargsAfter;
  const xargsCpu = Math.min(xargsBefore.cpu_ms_per_job, xargsAfter.cpu_ms_per_job);
  const spanMs = Number(r.span_ms);
  const workerRate = (A_JOBS * 1000) / spanMs;
  const hosts = [...tree.children.values()];
  const hostsSelf = hosts.reduce((t, h) => t + h.self, 0);
  const nodeCpu = tree.last && {
    self: tree.last.self + hostsSelf,
    user: tree.last.user + hosts.reduce((t, h) => t + h.user, 0),
    sys: tree.last.sys + hosts.reduce((t, h) => t + h.sys, 0),
  };
  return {
    jobs: A_JOBS,
    slots: A_SLOTS,
    worker: {
      span_ms: round(spanMs),
      jobs_per_s: round(workerRate),
      process_wall_ms: round(w.ms),
      process_jobs_per_s: round((A_JOBS * 1000) / w.ms),
      startup_and_shutdown_ms: round(w.ms - spanMs),
      avg_claim_to_complete_ms: round(Number(r.avg_attempt_ms), 2),
      avg_command_ms: round(Number(r.avg_command_ms), 2),
      cpu_ms_per_job_incl_sh: round(load.children_cpu_ms / A_JOBS, 3),
      cpu_ms_per_job_node_only: nodeCpu ? round(nodeCpu.self / A_JOBS, 3) : null,
      cpu_ms_per_job_node_user_sys: nodeCpu ? [round(nodeCpu.user / A_JOBS, 3), round(nodeCpu.sys / A_JOBS, 3)] : null,
      cpu_ms_per_job_command_hosts: round(hostsSelf / A_JOBS, 3),
      cpu_ms_per_job_sh_only: nodeCpu ? round((load.children_cpu_ms - nodeCpu.self) / A_JOBS, 3) : null,
      postgres_cpu_ms_per_job: serverMs !== null ? round(serverMs / A_JOBS, 3) : null,
      postgres_backends_seen: backends.ours.size,
      transactions_per_job: round((xact1 - xact0) / A_JOBS, 2),
      log_lines: logLevels,
      load,
    },
    ceiling_before: ceilingBefore,
    ceiling_after: ceilingAfter,
    ceiling_jobs_per_s: ceiling.jobs_per_s,
    ceiling_cpu_ms_per_job: round((ceiling.load.self_cpu_ms + ceiling.load.children_cpu_ms) / A_JOBS, 3),
    ratio: round(workerRate / ceiling.jobs_per_s, 3),
    xargs_before: xargsBefore,
    xargs_after: xargsAfter,
    xargs_jobs_per_s: xargs.jobs_per_s,
    xargs_cpu_ms_per_job: xargsCpu,
    ratio_xargs: round(workerRate / xargs.jobs_per_s, 3),
    // The same CPU-cost ratio against xargs: what the ratio to xargs tends to when CPU is the limit.
    cpu_cost_ratio_xargs: serverMs !== null ? round(xargsCpu / (load.children_cpu_ms / A_JOBS + serverMs / A_JOBS), 3) : null,
    ratio_process_wall: round((A_JOBS * 1000) / w.ms / ceiling.jobs_per_s, 3),
    // What the ratio would be if both were limited only by CPU (they are, on a small machine): the
    // ceiling's CPU per job over the worker's (node + shells + postgres backends). Less sensitive to
    // other people's load than the wall-clock ratio.
    cpu_cost_ratio:
      serverMs !== null ? round(((ceiling.load.self_cpu_ms + ceiling.load.children_cpu_ms) / A_JOBS) / (load.children_cpu_ms / A_JOBS + serverMs / A_JOBS), 3) : null,
  };
}

async function phaseB() {
  await resetTables();
  const logFile = join(tmp, "worker-b.log");
  const worker = await startIdleWorker({ cli: CLI, env: childEnv, slots: A_SLOTS, logFile, children, label: "(b)" });
  await sleep(500); // let the post-start claim/poll settle: the worker is idle now
  const before = cpuSample();
  const client = await pool.connect();
  const sent = [];
  const t0 = nowMs();
  try {
    for (let i = 0; i < B_JOBS; i++) {
      const due = t0 + i * B_GAP_MS;
      const wait = due - nowMs();
      if (wait > 0) await sleep(wait);
      const [job] = newJobs(1, "date +%s%N");
      await client.query("BEGIN");
      await sql.insertJobs(client, [job]);
      await sql.notifyJobsAvailable(client, [job.queue]);
      const pre = await client.query("SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS ms");
      await client.query("COMMIT");
      sent.push({ id: job.id, preCommitDbMs: pre.rows[0].ms, commitAckWallMs: wallMs() });
    }
  } finally {
    client.release();
  }
  // Wait until all ran (they are `date`, a few ms each).
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { rows } = await pool.query("SELECT count(*) AS n FROM jobs WHERE state = 'completed'");
    if (Number(rows[0].n) === B_JOBS) break;
    if (Date.now() > deadline) throw new Error(`(b) only ${rows[0].n} of ${B_JOBS} jobs completed in 30 s`);
    await sleep(50);
  }
  const spanMs = nowMs() - t0;
  const load = cpuDelta(before, cpuSample(), spanMs);
  await worker.stop();

  const { rows } = await pool.query(
    `SELECT j.id, extract(epoch FROM a.started_at)::float8 * 1000 AS started_ms,
            extract(epoch FROM a.started_at - j.created_at)::float8 * 1000 AS from_created_ms, a.output
     FROM jobs j JOIN job_attempts a ON a.job_id = j.id AND a.attempt = 1`,
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  const fromCommit = [];
  const fromCreated = [];
  const untilCommandRuns = [];
  for (const s of sent) {
    const r = byId.get(s.id);
    fromCommit.push(r.started_ms - s.preCommitDbMs);
    fromCreated.push(r.from_created_ms);
    const ns = /^(\d{19})\s*$/.exec(r.output ?? "")?.[1];
    if (ns) untilCommandRuns.push(Number(BigInt(ns) / 1000n) / 1000 - s.commitAckWallMs);
  }
  return {
    jobs: B_JOBS,
    gap_ms: B_GAP_MS,
    latency_from_commit_ms: stats(fromCommit),
    latency_from_created_at_ms: stats(fromCreated),
    commit_ack_to_command_running_ms: untilCommandRuns.length ? stats(untilCommandRuns) : null,
    over_100ms: fromCommit.filter((x) => x > 100).length,
    // Median per tenth of the run, in send order: a rising series means the worker fell behind
    // (a backlog, e.g. a starved CPU), a flat one with a high median means slow wake-ups.
    p50_by_tenth_ms: Array.from({ length: 10 }, (_, i) => stats(fromCommit.slice((i * B_JOBS) / 10, ((i + 1) * B_JOBS) / 10)).p50),
    log_lines: countLogLevels(logFile),
    load,
  };
}

async function phaseC() {
  await resetTables();
  const file = join(tmp, "jobs.jsonl");
  writeFileSync(file, Array.from({ length: C_JOBS }, (_, i) => JSON.stringify({ command: `true #${i}` })).join("\n") + "\n");
  const out = { jobs: C_JOBS };

  // CLI fixed costs: process start + module load, and one DB round trip command.
  const version = [];
  const configList = [];
  for (let i = 0; i < 3; i++) {
    version.push((await run(process.execPath, [CLI, "--version"], { env: childEnv })).ms);
    const r = await run(process.execPath, [CLI, "config", "list", "--json"], { env: childEnv });
    if (r.code !== 0) throw new Error(`config list failed: ${r.stderr.trim()}`);
    configList.push(r.ms);
  }
  out.cli_version_ms = stats(version).p50;
  out.cli_config_list_ms = stats(configList).p50;

  // CLI end to end.
  const before = cpuSample();
  const r = await run(process.execPath, [CLI, "enqueue", "--file", file], { env: childEnv });
  const load = cpuDelta(before, cpuSample(), r.ms);
  const printed = r.stdout.split("\n").filter(Boolean).length;
  const { rows } = await pool.query("SELECT count(*) AS n FROM jobs");
  if (r.code !== 0 || printed !== C_JOBS || Number(rows[0].n) !== C_JOBS) {
    out.cli = { error: `exit ${r.code}; printed ${printed} ids; ${rows[0].n} rows; ${r.stderr.trim().split("\n")[0] ?? ""}` };
  } else {
    out.cli = { ms: round(r.ms), jobs_per_s: round((C_JOBS * 1000) / r.ms), load };
  }

  // In process: the library calls the CLI makes, twice (cold, then warm).
  if (jobsLib?.enqueueJobs && inputLib?.readEnqueueInput) {
    const runs = [];
    for (let i = 0; i < 2; i++) {
      await resetTables();
      const t0 = nowMs();
      const input = await inputLib.readEnqueueInput({ file, flags: {}, stdin: process.stdin });
      const t1 = nowMs();
      const ids = await jobsLib.enqueueJobs({ pool }, { specs: input.specs });
      const t2 = nowMs();
      if (ids.length !== C_JOBS) throw new Error(`in-process enqueue returned ${ids.length} ids`);
      runs.push({
        read_validate_ms: round(t1 - t0),
        insert_commit_ms: round(t2 - t1),
        total_ms: round(t2 - t0),
        insert_jobs_per_s: round((C_JOBS * 1000) / (t2 - t1)),
        total_jobs_per_s: round((C_JOBS * 1000) / (t2 - t0)),
      });
    }
    out.in_process_cold = runs[0];
    out.in_process = runs[1];
  } else {
    out.in_process = { error: "dist/queue/enqueue.js or enqueue-input.js not built" };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

let failed = false;
try {
  pool = createPool(benchUrl, { max: 4, applicationName: "queuectl-bench" });
  await applyMigrations(pool);
  console.error(`bench: scratch database ${redact(benchUrl)} (PostgreSQL ${serverVersion}), ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  if (only.has("a")) {
    console.error("bench: (a) throughput ...");
    results.a = await phaseA();
  }
  if (only.has("b")) {
    console.error("bench: (b) pickup latency ...");
    results.b = await phaseB();
  }
  if (only.has("c")) {
    console.error("bench: (c) bulk enqueue ...");
    results.c = await phaseC();
  }
} catch (err) {
  failed = true;
  results.error = err.message;
  console.error(`bench: ${err.stack ?? err.message}`);
} finally {
  await cleanup();
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

printCoreReport(results, GOALS, note);

const dir = join(ROOT, "bench", "results");
if (args.includes("--verbose")) console.error(JSON.stringify(results, null, 2));
if (!save) process.exit(failed ? 1 : 0);
mkdirSync(dir, { recursive: true });
const outFile = join(dir, `core-${results.date.slice(0, 10)}.json`);
let doc = { runs: [] };
try {
  doc = JSON.parse(readFileSync(outFile, "utf8"));
  if (!Array.isArray(doc.runs)) doc = { runs: [] };
} catch {}
doc.runs.push(results);
writeFileSync(outFile, `${JSON.stringify(doc, null, 2)}\n`);
console.log(`results appended to ${outFile.slice(ROOT.length + 1)}`);
process.exitCode = failed ? 1 : 0;
