#!/usr/bin/env node
/**
 * queuectl against its peers in one run (issue 5, item 4): graphile-worker 0.18 and pg-boss 12.38,
 * each with its fastest documented settings and the same handler (run `sh -c true` and wait), on one
 * scratch database, plus the spawn ceiling. Three measurements, as in bench/core.mjs:
 *
 * (a) shell jobs with 4 slots: N jobs enqueued in one batch to an idle, started worker; jobs/s from
 *     the enqueue call until the Nth job is done (queuectl: its completion committed, read from the
 *     table; peers: their handler returned). Ceiling: a plain Node loop keeping 4
 *     `spawn('sh', ['-c', 'true'])` running (stdio ignored), best of a run before and after.
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
 *   npm run build && npm run bench:peers [-- --jobs 1000 --pickups 100 --bulk 20000] [-- --only c]
 *
 * `--only c` runs (c) alone (and no ceiling): each system first enqueues N jobs in one batch to
 * another queue, unmeasured, as the full run's (a) does before its (c), so all three are as warm as
 * there (JIT, prepared plans, pool connections).
 *
 * Database: a scratch database `queuectl_peers_<rand>` on DATABASE_URL's server (default
 * postgresql://postgres@127.0.0.1:5432/postgres), dropped at the end. The machine is shared: the
 * load average and the ceiling before and after are printed with the numbers; the systems run one
 * after another (queuectl, graphile-worker, pg-boss), so a ceiling that moved between the two means
 * the load changed under them: run again.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import pg from "pg";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const { applyMigrations } = await import(join(ROOT, "dist", "db", "migrate.js"));
const { enqueueJobs } = await import(join(ROOT, "dist", "queue", "jobs.js"));
const { parseJobSpec } = await import(join(ROOT, "dist", "queue", "job-spec.js"));
const { run: runGraphile, makeWorkerUtils, Logger } = await import("graphile-worker");
const quiet = new Logger(() => () => {});
const { PgBoss } = await import("pg-boss");

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "1000" },
    pickups: { type: "string", default: "100" },
    bulk: { type: "string", default: "20000" },
    only: { type: "string", default: "a,b,c" },
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
const SLOTS = 4;

const adminUrl = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const dbName = `queuectl_peers_${randomBytes(4).toString("hex")}`;
const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const url = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
})();
const pool = new pg.Pool({ connectionString: url, max: 4 });
pool.on("error", () => {});
const dir = mkdtempSync(join(tmpdir(), "queuectl-peers-"));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
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

async function ceiling(n) {
  const t0 = performance.now();
  let started = 0;
  const lane = async () => {
    while (started < n) {
      started++;
      await new Promise((r) => spawn("sh", ["-c", "true"], { stdio: "ignore" }).on("exit", r));
    }
  };
  await Promise.all(Array.from({ length: SLOTS }, lane));
  return (n * 1000) / (performance.now() - t0);
}

function pctl(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
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

  const t0 = performance.now();
  await enqueueJobs(ctx, { specs: Array.from({ length: N }, () => ({ command: "true", queue: "tp", max_retries: 0 })) });
  while ((await completed("tp")) < N) await sleep(10);
  const throughput = (N * 1000) / (performance.now() - t0);

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
  return { throughput, pickup, ...(await bulkQueuectl(ctx)) };
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

  const t0 = performance.now();
  await utils.addJobs(Array.from({ length: N }, () => ({ identifier: "sh", payload: {}, maxAttempts: 1 })));
  while (done < N) await sleep(5);
  const throughput = (N * 1000) / (performance.now() - t0);

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
  return { throughput, pickup, bulk };
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

  const t0 = performance.now();
  await boss.insert("tp", Array.from({ length: N }, () => ({ data: {} })));
  while (done < N) await sleep(5);
  const throughput = (N * 1000) / (performance.now() - t0);

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
  return { throughput, pickup, polling, bulk, pollP };
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
  const ceil1 = ONLY_C ? NaN : await ceiling(N);
  const q = await benchQueuectl();
  const g = await benchGraphile();
  const b = await benchPgBoss();
  const ceil2 = ONLY_C ? NaN : await ceiling(N);
  const ceil = Math.max(ceil1, ceil2);
  const loadAfter = loadavg();

  const f0 = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const rows = [];
  const bestBulk = Math.max(g.bulk, b.bulk);
  const bulkRows = [
    [`batch enqueue jobs/s (${B})`, f0(q.bulk), f0(g.bulk), f0(b.bulk), `${(q.bulk / bestBulk).toFixed(2)}x best peer (goal >= 1.5)`],
    ["  queuectl CLI enqueue --file", f0(q.bulkCli), "", "", `${(q.bulkCli / bestBulk).toFixed(2)}x best peer`],
  ];
  if (ONLY_C) {
    rows.push(...bulkRows);
    printTable(rows, `peers: (c) only, ${B} batch after an unmeasured ${N}-job batch each; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after`);
  } else {
    const bestTp = Math.max(g.throughput, b.throughput);
    const bestPick = Math.min(g.pickup.p95, b.pickup.p95);
    rows.push(["shell jobs/s, 4 slots", f0(q.throughput), f0(g.throughput), f0(b.throughput), `${(q.throughput / bestTp).toFixed(2)}x best peer`]);
    rows.push(["  / spawn ceiling " + f0(ceil) + "/s", (q.throughput / ceil).toFixed(2), (g.throughput / ceil).toFixed(2), (b.throughput / ceil).toFixed(2), "goal >= 0.85"]);
    rows.push(["idle pickup p95 ms", q.pickup.p95.toFixed(1), g.pickup.p95.toFixed(1), b.pickup.p95.toFixed(1), `${(q.pickup.p95 / bestPick).toFixed(2)}x best peer (goal <= 1)`]);
    rows.push(["idle pickup p50 ms", q.pickup.p50.toFixed(1), g.pickup.p50.toFixed(1), b.pickup.p50.toFixed(1), ""]);
    rows.push(["  pg-boss polling p95 ms", "", "", b.polling.p95.toFixed(1), "(no notify, 0.5 s poll)"]);
    rows.push(...bulkRows);
    printTable(rows, `peers: ${N} shell jobs, ${P} pickups, ${B} batch; ceiling ${f0(ceil1)}/s before, ${f0(ceil2)}/s after; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} before, ${loadAfter.map((l) => l.toFixed(2)).join(" ")} after`);
  }
} finally {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => {});
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(process.exitCode ?? 0);
