#!/usr/bin/env node
/**
 * queuectl against its peers in one run: graphile-worker 0.18 and pg-boss 12.38,
 * each with its fastest documented settings and the same handler (run `sh -c true` and wait), on one
 * scratch database, plus the spawn ceiling. Three measurements, as in bench/core.mjs:
 *
 * (a) shell jobs with 4 slots: N jobs enqueued in one batch to an idle, started worker; jobs/s from
 *     the enqueue call until the Nth job is done (queuectl: its completion committed, read from the
 *     table; peers: their handler returned). Ceiling: a plain Node loop keeping 4
 *     `spawn('/bin/sh', ['-c', 'true'])` running (stdio ignored), N of them, in a fresh Node process
 *     (bench/spawn-ceiling.mjs), run just before and just after each system's N jobs (the system
 *     started and idle); the system's ratio is to the mean of the two. The peers' handlers spawn from
 *     this process, which has loaded all three systems: that costs them a little on every fork, as
 *     the worker's own size costs queuectl, and is part of what is measured. The physical limit is
 *     measured around it too: `seq N | xargs -P4 -I{} sh -c true` (bench/lib/xargs-rate.mjs) just
 *     before and after, and each system's jobs/s is also given as a share of their mean.
 *       queuectl        `queuectl worker start --foreground --concurrency 4` (a separate process)
 *       graphile-worker run({ concurrency: 4 }) in this process; LISTEN/NOTIFY is built in
 *       pg-boss         work(queue, { localConcurrency: 4, batchSize: 10, burstWhenBatchFull }), each batch
 *                       run one job after another per worker (4 jobs at a time in all)
 * (b) idle pickup: P jobs enqueued one at a time 30 ms apart to an idle worker; each runs
 *     `sh -c 'date +%s%N'`; latency = the command's clock - this process's clock just before the
 *     enqueue call (same host clock; includes the enqueue round trips, the wake-up, the claim and the
 *     spawn, the same for all three). pg-boss with useListenNotify and a notify queue; pg-boss
 *     polling (its minimum, 0.5 s) for reference.
 * (c) batch enqueue of B jobs through each one's batch API, timed in this process:
 *       queuectl        validation (parseJobSpec) + enqueueJobs (one transaction, COPY batches)
 *       graphile-worker workerUtils.addJobs(specs)
 *       pg-boss         boss.insert(queue, jobs)
 *     and queuectl's CLI end to end (`queuectl enqueue --file jobs.jsonl`, spawn to exit).
 *
 *   npm run build && npm run bench:peers [-- --jobs 1000 --pickups 100 --bulk 20000 --rounds 3] [-- --only c]
 *
 * Rounds: the whole sequence (queuectl, graphile-worker, pg-boss) runs --rounds times, each on a
 * fresh scratch database, and the table gives each figure's median over the rounds (a ratio to the
 * ceiling is taken around its own run, then the median of those). This machine's speed moves by a
 * third within minutes, and slows under sustained load: one sequence against one ceiling measured
 * whoever ran during a slow spell as slow.
 *
 * `--only c` runs (c) alone (and no ceiling): each system first enqueues N jobs in one batch to
 * another queue, unmeasured, as the full run's (a) does before its (c), so all three are as warm as
 * there (JIT, prepared plans, pool connections).
 *
 * Database: a scratch database `queuectl_peers_<rand>` per round on DATABASE_URL's server (default
 * postgresql://postgres@127.0.0.1:5432/postgres), dropped at the end of the round. The machine is
 * shared: each round's line shows the ceilings before and after each system, and the load average is
 * printed with the table; ceilings far apart within a round mean the load changed under it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";
import { connectAdmin, createDatabase, databaseUrl, DEFAULT_SERVER_URL, dropDatabase, scratchDbName } from "./lib/scratch-db.mjs";
import { median, pctl } from "./lib/stats.mjs";
import { sleep } from "./lib/time.mjs";
import { measureSpawnCeiling } from "./spawn-ceiling.mjs";
import { xargsRate } from "./lib/xargs-rate.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const { applyMigrations } = await import(join(ROOT, "dist", "db", "migrate.js"));
const { enqueueJobs } = await import(join(ROOT, "dist", "queue", "enqueue.js"));
const { parseJobSpec } = await import(join(ROOT, "dist", "queue", "job-spec-schema.js"));
const { run: runGraphile, makeWorkerUtils, Logger } = await import("graphile-worker");
const quiet = new Logger(() => () => {});
const { PgBoss } = await import("pg-boss");

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "1000" },
    pickups: { type: "string", default: "100" },
    bulk: { type: "string", default: "20000" },
    only: { type: "string", default: "a,b,c" },
    rounds: { type: "string", default: "3" },
  },
});
const only = new Set(values.only.split(",").map((s) => s.trim()));
const ONLY_C = !only.has("a") && !only.has("b");
if (!only.has("c") || [...only].some((s) => !["a", "b", "c"].includes(s))) {
  console.error("--only: c alone, or a,b,c (a and b share one worker run)");
  process.exit(2);
}
const N = Number(values.jobs);
const P = Number(values.pickups);
const B = Number(values.bulk);
const ROUNDS = Number(values.rounds);
const SLOTS = 4;

const adminUrl = process.env.DATABASE_URL ?? DEFAULT_SERVER_URL;
const admin = await connectAdmin(adminUrl);
/** The round's scratch database. */
let dbName, url, pool;
async function openRoundDatabase() {
  dbName = scratchDbName("queuectl_peers_");
  await createDatabase(admin, dbName);
  url = databaseUrl(adminUrl, dbName);
  pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {});
}
async function closeRoundDatabase() {
  await pool?.end();
  pool = undefined;
  if (dbName) await dropDatabase(admin, dbName).catch(() => {});
  dbName = undefined;
}
const dir = mkdtempSync(join(tmpdir(), "queuectl-peers-"));

const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

/** The handler every system runs: `sh -c <cmd>`, resolving with its stdout. */
function sh(cmd = "true") {
  return new Promise((resolve, reject) => {
    const c = spawn("sh", ["-c", cmd], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.on("error", reject);
    c.on("close", () => resolve(out));
  });
}

/** The spawn ceiling, in a fresh Node process (bench/spawn-ceiling.mjs says why). */
async function ceiling(n) {
  return (await measureSpawnCeiling(n, SLOTS)).jobs_per_s;
}

/**
 * Jobs/s of `runN` (which runs the N shell jobs and returns when they are done), with the spawn
 * ceiling measured just before and just after it, with the system idle and ready: its ceiling is the
 * mean of the two, so each system is held against the machine's speed while it ran.
 */
async function bracketed(runN) {
  const xargsBefore = await xargsRate(N, SLOTS, 1);
  const before = await ceiling(N);
  const t0 = performance.now();
  await runN();
  const throughput = (N * 1000) / (performance.now() - t0);
  const after = await ceiling(N);
  const xargsAfter = await xargsRate(N, SLOTS, 1);
  return { throughput, ceil: (before + after) / 2, ceilBefore: before, ceilAfter: after, xargs: (xargsBefore + xargsAfter) / 2 };
}

function latencyStats(ms) {
  return { p50: pctl(ms, 0.5), p95: pctl(ms, 0.95), max: Math.max(...ms) };
}

/** Runs `count` pickups through `enqueueOne(i)`, reading the command's clock from `commandNs(i)`. */
async function pickups(enqueueOne, commandNs) {
  const sent = [];
  for (let i = 0; i < P; i++) {
    sent.push(nowNs());
    await enqueueOne(i);
    await sleep(30);
  }
  const ms = [];
  for (let i = 0; i < P; i++) ms.push(Number((await commandNs(i)) - sent[i]) / 1e6);
  return latencyStats(ms);
}

// ------------------------------------------------------------------------------------------------
// queuectl
// ------------------------------------------------------------------------------------------------
async function benchQueuectl() {
  await applyMigrations(pool);
  const ctx = { pool };
  if (ONLY_C) {
    await enqueueJobs(ctx, { specs: Array.from({ length: N }, () => ({ command: "true", queue: "tp", max_retries: 0 })) });
    return { ...(await bulkQueuectl(ctx)), throughput: NaN, pickup: null };
  }
  const worker = spawn(process.execPath, [CLI, "worker", "start", "--foreground", "--concurrency", String(SLOTS), "--queue", "tp", "--queue", "pick"], {
    env: { ...process.env, DATABASE_URL: url, QUEUECTL_LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const exited = new Promise((r) => worker.once("exit", r));
  for (;;) {
    const r = await pool.query("SELECT count(*)::int AS n FROM workers WHERE state = 'running'");
    if (r.rows[0].n === 1) break;
    await sleep(50);
  }
  await sleep(300);
  const completed = async (queue) => (await pool.query("SELECT count(*)::int AS n FROM jobs WHERE queue = $1 AND state = 'completed'", [queue])).rows[0].n;

  const tp = await bracketed(async () => {
    await enqueueJobs(ctx, { specs: Array.from({ length: N }, () => ({ command: "true", queue: "tp", max_retries: 0 })) });
    while ((await completed("tp")) < N) await sleep(10);
  });

  const pickup = await pickups(
    (i) => enqueueJobs(ctx, { specs: [{ id: `pick-${i}`, command: "date +%s%N", queue: "pick", max_retries: 0 }] }),
    async (i) => {
      for (;;) {
        const r = await pool.query("SELECT output FROM job_attempts WHERE job_id = $1 AND finished_at IS NOT NULL", [`pick-${i}`]);
        if (r.rows[0]) return BigInt(r.rows[0].output.trim());
        await sleep(20);
      }
    },
  );
  worker.kill("SIGTERM");
  await exited;
  return { ...tp, pickup, ...(await bulkQueuectl(ctx)) };
}

async function bulkQueuectl(ctx) {
  const specs = Array.from({ length: B }, (_, i) => ({ command: `echo ${i}`, queue: "bulk" }));
  const raw = specs.map((s) => JSON.stringify(s));
  const tb = performance.now();
  await enqueueJobs(ctx, { specs: raw.map((line) => parseJobSpec(JSON.parse(line))) });
  const bulk = (B * 1000) / (performance.now() - tb);

  const file = join(dir, "jobs.jsonl");
  writeFileSync(file, raw.map((l) => l.replace('"queue":"bulk"', '"queue":"bulk-cli"')).join("\n"));
  const tc = performance.now();
  await new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, "enqueue", "--file", file], { env: { ...process.env, DATABASE_URL: url }, stdio: ["ignore", "ignore", "inherit"] });
    c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`enqueue exited ${code}`))));
  });
  const bulkCli = (B * 1000) / (performance.now() - tc);
  return { bulk, bulkCli };
}

// ------------------------------------------------------------------------------------------------
// graphile-worker
// ------------------------------------------------------------------------------------------------
async function benchGraphile() {
  if (ONLY_C) {
    const utils = await makeWorkerUtils({ connectionString: url, logger: quiet });
    await utils.migrate();
    await utils.addJobs(Array.from({ length: N }, () => ({ identifier: "sh", payload: {}, maxAttempts: 1 })));
    const bulk = await bulkGraphile(utils);
    await utils.release();
    return { throughput: NaN, pickup: null, bulk };
  }
  let done = 0;
  const picked = new Map();
  const runner = await runGraphile({
    connectionString: url,
    concurrency: SLOTS,
    noHandleSignals: true,
    pollInterval: 2000,
    logger: quiet,
    taskList: {
      sh: async () => {
        await sh("true");
        done++;
      },
      pick: async (payload) => {
        picked.set(payload.i, BigInt((await sh("date +%s%N")).trim()));
      },
    },
  });
  const utils = await makeWorkerUtils({ connectionString: url, logger: quiet });
  await sleep(300);

  const tp = await bracketed(async () => {
    await utils.addJobs(Array.from({ length: N }, () => ({ identifier: "sh", payload: {}, maxAttempts: 1 })));
    while (done < N) await sleep(5);
  });

  const pickup = await pickups(
    (i) => utils.addJob("pick", { i }, { maxAttempts: 1 }),
    async (i) => {
      while (!picked.has(i)) await sleep(10);
      return picked.get(i);
    },
  );
  await runner.stop();
  const bulk = await bulkGraphile(utils);
  await utils.release();
  return { ...tp, pickup, bulk };
}

async function bulkGraphile(utils) {
  const tb = performance.now();
  await utils.addJobs(Array.from({ length: B }, (_, i) => ({ identifier: "bulk", payload: { i } })));
  return (B * 1000) / (performance.now() - tb);
}

// ------------------------------------------------------------------------------------------------
// pg-boss
// ------------------------------------------------------------------------------------------------
async function benchPgBoss() {
  const boss = new PgBoss({ connectionString: url, useListenNotify: true, max: 10 });
  boss.on("error", () => {});
  await boss.start();
  for (const [name, notify] of [["tp", true], ["pick", true], ["poll", false], ["bulk", false]]) await boss.createQueue(name, { notify, retryLimit: 0 });
  if (ONLY_C) {
    await boss.insert("tp", Array.from({ length: N }, () => ({ data: {} })));
    const bulk = await bulkPgBoss(boss);
    await boss.stop({ graceful: false, wait: true }).catch(() => {});
    return { throughput: NaN, pickup: null, polling: null, bulk, pollP: P };
  }
  let done = 0;
  const picked = new Map();
  await boss.work("tp", { localConcurrency: SLOTS, batchSize: 10, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }, async (jobs) => {
    for (const _ of jobs) {
      await sh("true");
      done++;
    }
  });
  const pickHandler = async (jobs) => {
    for (const j of jobs) picked.set(j.data.i, BigInt((await sh("date +%s%N")).trim()));
  };
  await boss.work("pick", { localConcurrency: SLOTS, batchSize: 1, pollingIntervalSeconds: 0.5 }, pickHandler);
  await boss.work("poll", { localConcurrency: SLOTS, batchSize: 1, pollingIntervalSeconds: 0.5 }, pickHandler);
  await sleep(1000);

  const tp = await bracketed(async () => {
    await boss.insert("tp", Array.from({ length: N }, () => ({ data: {} })));
    while (done < N) await sleep(5);
  });

  const pickup = await pickups((i) => boss.send("pick", { i }), async (i) => {
    while (!picked.has(i)) await sleep(10);
    return picked.get(i);
  });
  picked.clear();
  const pollP = P;
  const polling = await pickups((i) => boss.send("poll", { i }), async (i) => {
    while (!picked.has(i)) await sleep(10);
    return picked.get(i);
  });

  const bulk = await bulkPgBoss(boss);
  await boss.stop({ graceful: false, wait: true }).catch(() => {});
  return { ...tp, pickup, polling, bulk, pollP };
}

async function bulkPgBoss(boss) {
  const tb = performance.now();
  await boss.insert("bulk", Array.from({ length: B }, (_, i) => ({ data: { i } })));
  return (B * 1000) / (performance.now() - tb);
}

function printTable(rows, title) {
  const head = ["", "queuectl", "graphile-worker", "pg-boss", "queuectl vs best peer"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(title);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

try {
  const loadBefore = loadavg();
  const rounds = [];
  for (let r = 1; r <= ROUNDS; r++) {
    await openRoundDatabase();
    try {
      const q = await benchQueuectl();
      const g = await benchGraphile();
      const b = await benchPgBoss();
      rounds.push({ q, g, b });
      const f = (x) => x.toFixed(0);
      const vsCeiling = (x) => `${f(x.throughput)} of ${f(x.ceilBefore)}/${f(x.ceilAfter)} = ${(x.throughput / x.ceil).toFixed(2)}`;
      console.log(
        ONLY_C
          ? `round ${r}: batch enqueue ${f(q.bulk)} / ${f(g.bulk)} / ${f(b.bulk)} jobs/s (queuectl / graphile-worker / pg-boss), CLI ${f(q.bulkCli)}`
          : `round ${r}: shell jobs/s of the ceiling before/after ${vsCeiling(q)} / ${vsCeiling(g)} / ${vsCeiling(b)}; ` +
              `pickup p95 ${q.pickup.p95.toFixed(1)} / ${g.pickup.p95.toFixed(1)} / ${b.pickup.p95.toFixed(1)} ms; batch ${f(q.bulk)} / ${f(g.bulk)} / ${f(b.bulk)} jobs/s (queuectl / graphile-worker / pg-boss)`,
      );
    } finally {
      await closeRoundDatabase();
    }
  }
  const loadAfter = loadavg();
  // Each figure: its median over the rounds.
  const med = (pick) => median(rounds.map(pick));
  const system = (k) => ({
    throughput: med((r) => r[k].throughput),
    ceil: med((r) => r[k].ceil),
    ratio: med((r) => r[k].throughput / r[k].ceil),
    xargs: med((r) => r[k].xargs),
    xargsRatio: med((r) => r[k].throughput / r[k].xargs),
    pickup: rounds[0][k].pickup && { p95: med((r) => r[k].pickup.p95), p50: med((r) => r[k].pickup.p50) },
    polling: rounds[0][k].polling && { p95: med((r) => r[k].polling.p95) },
    bulk: med((r) => r[k].bulk),
    bulkCli: med((r) => r[k].bulkCli),
  });
  const q = system("q");
  const g = system("g");
  const b = system("b");

  const f0 = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const rows = [];
  const bestBulk = Math.max(g.bulk, b.bulk);
  const bulkRows = [
    [`batch enqueue jobs/s (${B})`, f0(q.bulk), f0(g.bulk), f0(b.bulk), `${(q.bulk / bestBulk).toFixed(2)}x best peer (goal >= 1.5)`],
    ["  queuectl CLI enqueue --file", f0(q.bulkCli), "", "", `${(q.bulkCli / bestBulk).toFixed(2)}x best peer`],
  ];
  if (ONLY_C) {
    rows.push(...bulkRows);
    printTable(rows, `peers: (c) only, ${B} batch after an unmeasured ${N}-job batch each; medians of ${ROUNDS} rounds; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after`);
  } else {
    const bestTp = Math.max(g.throughput, b.throughput);
    const bestPick = Math.min(g.pickup.p95, b.pickup.p95);
    rows.push(["shell jobs/s, 4 slots", f0(q.throughput), f0(g.throughput), f0(b.throughput), `${(q.throughput / bestTp).toFixed(2)}x best peer`]);
    rows.push(["  spawn ceiling around it, jobs/s", f0(q.ceil), f0(g.ceil), f0(b.ceil), ""]);
    rows.push(["  / its spawn ceiling", q.ratio.toFixed(2), g.ratio.toFixed(2), b.ratio.toFixed(2), "goal >= 0.85"]);
    rows.push(["  xargs -P4 around it, jobs/s", f0(q.xargs), f0(g.xargs), f0(b.xargs), "the physical limit"]);
    rows.push(["  / xargs -P4", q.xargsRatio.toFixed(2), g.xargsRatio.toFixed(2), b.xargsRatio.toFixed(2), "goal >= 0.8"]);
    rows.push(["idle pickup p95 ms", q.pickup.p95.toFixed(1), g.pickup.p95.toFixed(1), b.pickup.p95.toFixed(1), `${(q.pickup.p95 / bestPick).toFixed(2)}x best peer (goal <= 1)`]);
    rows.push(["idle pickup p50 ms", q.pickup.p50.toFixed(1), g.pickup.p50.toFixed(1), b.pickup.p50.toFixed(1), ""]);
    rows.push(["  pg-boss polling p95 ms", "", "", b.polling.p95.toFixed(1), "(no notify, 0.5 s poll)"]);
    rows.push(...bulkRows);
    printTable(rows, `peers: ${N} shell jobs, ${P} pickups, ${B} batch; medians of ${ROUNDS} rounds; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after`);
  }
} finally {
  await closeRoundDatabase();
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(process.exitCode ?? 0);
