#!/usr/bin/env -S npx tsx
/**
 * queuectl behind PgBouncer in transaction mode (Debian's 1.18), on a private PostgreSQL server with
 * max_connections = 100:
 *
 * (a) pickup: P jobs enqueued one at a time, 300 ms apart, to one idle worker; latency = the attempt's
 *     started_at - the enqueue's clock (both the server's clock: now() in the enqueue's transaction is
 *     created_at). Three ways a worker learns of a job: a NOTIFY on DATABASE_LISTEN_URL (a direct
 *     session), and polling every 1000 ms (the default) and every 200 ms.
 * (b) scale: W worker processes × 4 slots through a server pool of 20 run N jobs (`true`): every job
 *     must run exactly once (one attempt each, all completed). Reports the wall time, jobs/s, and the
 *     most server connections seen (sampled every 250 ms from pg_stat_activity).
 *
 *   npm run build && npm run bench:pooler [-- --workers 200 --jobs 20000 --pickups 20]
 *
 * Results: bench/results/pooler-<date>.json; figures and method in docs/benchmarks.md.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { CLI } from "../test/helpers/cli.js";
import { startPgBouncer } from "../test/helpers/pgbouncer.js";
import { startPrivateServer } from "../test/helpers/private-server.js";

const { values } = parseArgs({
  options: {
    workers: { type: "string", default: "200" },
    jobs: { type: "string", default: "20000" },
    pickups: { type: "string", default: "20" },
    pool: { type: "string", default: "20" },
  },
});
const W = Number(values.workers);
const N = Number(values.jobs);
const P = Number(values.pickups);
const POOL = Number(values.pool);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pctl = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

const server = await startPrivateServer({ settings: { max_connections: "100" } });
const bouncer = await startPgBouncer({ server: server.url(), poolSize: POOL, maxClients: 5000 });
const direct = new pg.Pool({ connectionString: server.url(), max: 3 });
const via = bouncer.via(server.url());
const children = new Set<ChildProcess>();
const cleanup = async () => {
  for (const c of children) c.kill("SIGKILL");
  await direct.end().catch(() => {});
  await bouncer.stop();
  await server.destroy();
};
process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));

function startWorker(args: string[], env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, "worker", "start", "--foreground", "--log-format", "json", ...args], {
    env: { ...process.env, DATABASE_URL: via, QUEUECTL_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      if (out.length < 100_000) out += d.toString();
      if (out.includes('"msg":"worker started"')) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`worker exited ${code} before it started:\n${out}`)));
  });
}

async function stopWorkers(list: ChildProcess[]): Promise<void> {
  await Promise.all(
    list.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGTERM");
        }),
    ),
  );
  for (const c of list) children.delete(c);
}

async function pickups(label: string, args: string[], env: Record<string, string>): Promise<{ label: string; p50_ms: number; p95_ms: number }> {
  const worker = await startWorker(["--concurrency", "1", "--queue", label, ...args], env);
  await sleep(1500);
  const ms: number[] = [];
  for (let i = 0; i < P; i++) {
    const id = `${label}-${i}`;
    await direct.query("SELECT 1");
    const enq = spawn(process.execPath, [CLI, "enqueue", "--id", id, "--queue", label, "--command", "true"], { env: { ...process.env, DATABASE_URL: via }, stdio: "ignore" });
    await new Promise((r) => enq.once("exit", r));
    for (;;) {
      const r = await direct.query<{ ms: number | null }>(
        "SELECT extract(epoch FROM a.started_at - j.created_at) * 1000 AS ms FROM jobs j JOIN job_attempts a ON a.job_id = j.id WHERE j.id = $1",
        [id],
      );
      if (r.rows[0]?.ms != null) {
        ms.push(Number(r.rows[0].ms));
        break;
      }
      await sleep(20);
    }
    await sleep(300);
  }
  await stopWorkers([worker]);
  return { label, p50_ms: Math.round(pctl(ms, 0.5)), p95_ms: Math.round(pctl(ms, 0.95)) };
}

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { load: loadavg().map((x) => Math.round(x * 100) / 100), memory_gib: Math.round(totalmem() / 2 ** 30) },
  server_pool: POOL,
  max_connections: 100,
};

try {
  // (a) pickup
  const a = [
    await pickups("notify", [], { DATABASE_LISTEN_URL: server.url() }),
    await pickups("poll1000", ["--poll-interval", "1000"], {}),
    await pickups("poll200", ["--poll-interval", "200"], {}),
  ];
  results.pickup = a;
  console.table(a);

  // (b) scale
  const lines = Array.from({ length: N }, (_, i) => JSON.stringify({ id: `scale-${i}`, command: "true", queue: "scale", max_retries: 0 })).join("\n");
  const t0 = performance.now();
  const started: ChildProcess[] = [];
  // Started 10 at a time: 200 Node processes at once would spend a minute fighting over 2 cores.
  for (let i = 0; i < W; i += 10) {
    started.push(...(await Promise.all(Array.from({ length: Math.min(10, W - i) }, () => startWorker(["--concurrency", "4", "--queue", "scale"], {})))));
  }
  const startupS = (performance.now() - t0) / 1000;
  let peakServer = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const r = await direct.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'");
      peakServer = Math.max(peakServer, r.rows[0]!.n);
      await sleep(250);
    }
  })();
  const t1 = performance.now();
  const enq = spawn(process.execPath, [CLI, "enqueue", "--file", "-"], { env: { ...process.env, DATABASE_URL: via }, stdio: ["pipe", "ignore", "inherit"] });
  enq.stdin!.end(lines);
  await new Promise((r) => enq.once("exit", r));
  for (;;) {
    const r = await direct.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE queue = 'scale' AND state = 'completed'");
    if (r.rows[0]!.n >= N) break;
    await sleep(500);
  }
  const runS = (performance.now() - t1) / 1000;
  sampling = false;
  await sampler;
  await stopWorkers(started);
  const check = await direct.query<{ attempts: number; jobs_run: number; completed: number; workers_used: number }>(
    `SELECT (SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.queue = 'scale')::int AS attempts,
            (SELECT count(DISTINCT a.job_id) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.queue = 'scale')::int AS jobs_run,
            (SELECT count(*) FROM jobs WHERE queue = 'scale' AND state = 'completed')::int AS completed,
            (SELECT count(DISTINCT a.worker_id) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.queue = 'scale')::int AS workers_used`,
  );
  const b = {
    workers: W,
    slots_each: 4,
    jobs: N,
    startup_s: Math.round(startupS),
    run_s: Math.round(runS * 10) / 10,
    jobs_per_s: Math.round((N / runS) * 10) / 10,
    peak_server_connections: peakServer,
    ...check.rows[0]!,
    exactly_once: check.rows[0]!.attempts === N && check.rows[0]!.jobs_run === N && check.rows[0]!.completed === N,
  };
  results.scale = b;
  console.table([b]);
  mkdirSync(join(import.meta.dirname, "results"), { recursive: true });
  const file = join(import.meta.dirname, "results", `pooler-${new Date().toISOString().slice(0, 10)}.json`);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`written: ${file}`);
  if (!b.exactly_once) process.exitCode = 1;
} finally {
  await cleanup();
}
