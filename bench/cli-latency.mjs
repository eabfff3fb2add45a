#!/usr/bin/env node
/**
 * How long each CLI command takes, as a ratio to `node -e 0` measured in the same run: the speed goal
 * of the CLI (every command at most 2.0x, --version and --help at most 1.3x). A scratch database on
 * DATABASE_URL's server (default: the local one) holds 100 000 jobs in every state, a DLQ, schedules
 * and workers; each command runs ROUNDS times, interleaved with the reference, and the median is kept.
 *
 *   node bench/cli-latency.mjs              # writes bench/results/cli-latency-<date>.json
 *   ROUNDS=3 JOBS=10000 node bench/cli-latency.mjs
 *   KEEP_DB=1 node bench/cli-latency.mjs    # keeps the scratch database and prints its URL, to profile a command
 *
 * Local mode (DATABASE_URL unset: a server of queuectl's own under QUEUECTL_HOME, running before the
 * command starts) is measured too: `status` through it, against `status` with DATABASE_URL naming the
 * same server, so the difference is what finding the local server costs.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { connectAdmin, createDatabase, databaseUrl, dropDatabase, redact, scratchDbName, serverUrlFromEnv } from "./lib/scratch-db.mjs";
import { median } from "./lib/stats.mjs";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const JOBS = Number(process.env.JOBS ?? 100_000);
const GOAL = 2.0;
const GOAL_START = 1.3;

/** Milliseconds one run of `args` takes, wall clock; fails the bench if the command fails. */
function timeRun(file, args, env) {
  const started = process.hrtime.bigint();
  const res = spawnSync(file, args, { env, stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (res.status !== 0) throw new Error(`${args.join(" ")} exited ${res.status}: ${res.stderr}`);
  return ms;
}

/**
 * `status` in local mode and by DATABASE_URL against the same local server (started once before the
 * rounds, stopped after), interleaved with `node -e 0`; milliseconds of each run.
 */
function measureLocalMode() {
  const home = mkdtempSync(join(tmpdir(), "queuectl-cli-bench-"));
  const localEnv = { ...process.env, QUEUECTL_HOME: home };
  delete localEnv.DATABASE_URL;
  try {
    execFileSync(process.execPath, [CLI, "db", "migrate"], { env: localEnv, stdio: "ignore" });
    const port = readFileSync(join(home, "pg", "port"), "utf8").trim();
    const byUrlEnv = { ...localEnv, DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/queuectl` };
    const result = { reference: [], localMode: [], byUrl: [] };
    for (let r = 0; r < ROUNDS; r++) {
      result.reference.push(timeRun(process.execPath, ["-e", "0"], localEnv));
      result.localMode.push(timeRun(process.execPath, [CLI, "status"], localEnv));
      result.byUrl.push(timeRun(process.execPath, [CLI, "status"], byUrlEnv));
    }
    return result;
  } finally {
    spawnSync(process.execPath, [CLI, "db", "stop"], { env: localEnv, stdio: "ignore" });
    rmSync(home, { recursive: true, force: true });
  }
}

const serverUrl = serverUrlFromEnv();
const dbName = scratchDbName("qcli");
const admin = await connectAdmin(serverUrl);
await createDatabase(admin, dbName);
const url = databaseUrl(serverUrl, dbName);
const env = { ...process.env, DATABASE_URL: url };
try {
  execFileSync(process.execPath, [CLI, "db", "migrate"], { env, stdio: "ignore" });
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  // Jobs in every state, oldest first; some dead ones with DLQ entries; a schedule and a worker.
  await db.query(
    `INSERT INTO jobs (id, queue, command, state, max_retries, attempts, last_attempt, finished_at, created_at)
     SELECT 'j' || i, (ARRAY['default','reports','mail'])[1 + i % 3], 'echo job ' || i,
            (ARRAY['completed','completed','completed','pending','dead','cancelled']::job_state[])[1 + i % 6], 3,
            CASE WHEN i % 6 IN (0, 1, 2, 4) THEN 1 ELSE 0 END, CASE WHEN i % 6 IN (0, 1, 2, 4) THEN 1 ELSE 0 END,
            CASE WHEN i % 6 IN (3) THEN NULL ELSE now() - make_interval(secs => $1 - i) END, now() - make_interval(secs => $1 - i)
     FROM generate_series(1, $1) i`,
    [JOBS],
  );
  await db.query(
    `INSERT INTO job_attempts (job_id, attempt, worker_id, started_at, finished_at, exit_code, output)
     SELECT id, 1, 'w-1', created_at, finished_at, CASE WHEN state = 'dead' THEN 1 ELSE 0 END, 'output of ' || id FROM jobs WHERE last_attempt = 1`,
  );
  await db.query(`INSERT INTO dead_letters (job_id, queue, command, reason, attempts) SELECT id, queue, command, 'failed 4 attempts', 4 FROM jobs WHERE state = 'dead'`);
  await db.query(`INSERT INTO workers (id, host, pid, queues, concurrency) VALUES ('w-1', 'bench', 1, '{}', 2)`);
  // As autovacuum leaves a database between bursts: statistics current, the visibility map set (so
  // counting jobs per state reads the index only).
  await db.query("VACUUM ANALYZE");
  await db.end();
  execFileSync(process.execPath, [CLI, "schedule", "add", "nightly", "0 3 * * *", '{"command":"true"}'], { env, stdio: "ignore" });

  const last = `j${JOBS}`;
  const commands = [
    ["--version"],
    ["--help"],
    ["enqueue", "--command", "true"],
    ["status"],
    ["list"],
    ["show", last],
    ["logs", last],
    ["dlq", "list"],
    ["config", "get"],
    ["queue", "list"],
    ["worker", "list"],
    ["schedule", "list"],
  ];
  const reference = [];
  const samples = new Map(commands.map((c) => [c.join(" "), []]));
  // The floor of any command that reads the database: Node loading pg, one connection, one SELECT 1.
  const floor = [];
  const floorScript = `import pg from "pg"; const c = new pg.Client({ connectionString: process.env.DATABASE_URL }); await c.connect(); await c.query("SELECT 1"); await c.end();`;
  for (let r = 0; r < ROUNDS; r++) {
    for (const args of commands) {
      reference.push(timeRun(process.execPath, ["-e", "0"], env));
      samples.get(args.join(" ")).push(timeRun(process.execPath, [CLI, ...args], env));
    }
    floor.push(timeRun(process.execPath, ["--input-type=module", "-e", floorScript], env));
  }
  const local = measureLocalMode();
  const ref = median(reference);
  const floorMs = median(floor);
  const rows = commands.map((args) => {
    const name = args[0].startsWith("--") ? args[0] : args.join(" ").replace(last, "<id>").replace("--command true", "");
    const ms = median(samples.get(args.join(" ")));
    const goal = args[0].startsWith("--") ? GOAL_START : GOAL;
    return { command: name.trim(), ms: Math.round(ms), ratio: Math.round((ms / ref) * 100) / 100, goal, met: ms / ref <= goal };
  });
  console.log(`cli-latency: ${JOBS} jobs, median of ${ROUNDS}; node -e 0: ${Math.round(ref)} ms (server ${redact(serverUrl)})`);
  console.log(`floor (node loading pg, connecting, SELECT 1): ${Math.round(floorMs)} ms = ${(floorMs / ref).toFixed(2)} x node -e 0`);
  console.log("command                ms   x node -e 0   goal");
  for (const r of rows) console.log(`${r.command.padEnd(20)} ${String(r.ms).padStart(5)}   ${r.ratio.toFixed(2).padStart(10)}   <= ${r.goal}${r.met ? "" : "  (not met)"}`);
  const localRef = median(local.reference);
  const localRow = (command, samples) => ({ command, ms: Math.round(median(samples)), ratio: Math.round((median(samples) / localRef) * 100) / 100 });
  const localRows = [localRow("status, local mode", local.localMode), localRow("status, same server by DATABASE_URL", local.byUrl)];
  console.log(`local server (empty queue; node -e 0: ${Math.round(localRef)} ms in these rounds)`);
  for (const r of localRows) console.log(`${r.command.padEnd(36)} ${String(r.ms).padStart(5)}   ${r.ratio.toFixed(2)}`);
  const out = new URL(`./results/cli-latency-${new Date().toISOString().slice(0, 10)}.json`, import.meta.url);
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ jobs: JOBS, rounds: ROUNDS, node_e_0_ms: Math.round(ref), pg_floor_ms: Math.round(floorMs), pg_floor_ratio: Math.round((floorMs / ref) * 100) / 100, commands: rows, local_mode: localRows }, null, 2)}\n`);
  console.log(`written: ${fileURLToPath(out)}`);
} finally {
  if (process.env.KEEP_DB === "1") console.log(`kept: DATABASE_URL=${url}`);
  else await dropDatabase(admin, dbName);
  await admin.end();
}
