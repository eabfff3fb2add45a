#!/usr/bin/env node
/**
 * Claim time with 1 000 000 finished jobs in the table vs an empty one, through the
 * built statements (dist/queue/sql/claim.js): the same 2000 claim+complete cycles (one job each, the
 * worker's hot path) on a table holding only the 2000 pending jobs, then again after 1 000 000
 * completed jobs were added (and ANALYZEd, as autovacuum would). Prints the claim's plan (it must
 * use jobs_claim_idx, the partial index over runnable rows) and the ratio of the medians and p95s
 * (goal: within 2x). Exits 1 when the plan does not use the index.
 *
 *   npm run build && node bench/claim-scale.mjs [--rows 1000000] [--cycles 2000]
 *
 * Database: a scratch database `queuectl_scale_<rand>` on DATABASE_URL's server (default
 * postgresql://postgres@127.0.0.1:5432/postgres), dropped at the end.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import pg from "pg";
import { applyMigrations } from "../dist/db/migrate.js";
import { completeAndClaimJobs } from "../dist/queue/sql/claim.js";
import { connectAdmin, createDatabase, databaseUrl, DEFAULT_SERVER_URL, dropDatabase, scratchDbName } from "./lib/scratch-db.mjs";
import { pctl } from "./lib/stats.mjs";

const { values } = parseArgs({ options: { rows: { type: "string", default: "1000000" }, cycles: { type: "string", default: "2000" } } });
const ROWS = Number(values.rows);
const CYCLES = Number(values.cycles);
const adminUrl = process.env.DATABASE_URL ?? DEFAULT_SERVER_URL;
const name = scratchDbName("queuectl_scale_");

const admin = await connectAdmin(adminUrl);
await createDatabase(admin, name);
const pool = new pg.Pool({ connectionString: databaseUrl(adminUrl, name), max: 2 });
pool.on("error", () => {});

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  return { median: pctl(s, 0.5), p95: pctl(s, 0.95), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function addPending(tag) {
  await pool.query(
    `INSERT INTO jobs (id, command, max_retries) SELECT $1 || i, 'true', 3 FROM generate_series(1, $2::int) i`,
    [`${tag}-`, CYCLES],
  );
  await pool.query("ANALYZE jobs");
}

/** CYCLES claims of one job each, each followed by its completion; returns claim times in ms. */
async function measure() {
  const times = [];
  for (let i = 0; i < CYCLES; i++) {
    const t0 = performance.now();
    const [job] = (await completeAndClaimJobs(pool, { workerId: "bench", queues: [], limit: 1, leaseMs: 60_000, completions: [] })).claimed;
    times.push(performance.now() - t0);
    if (!job) throw new Error("nothing to claim");
    await completeAndClaimJobs(pool, { workerId: "bench", queues: [], limit: 0, leaseMs: 60_000, completions: [{ jobId: job.id, attempt: job.attempt, exitCode: 0, output: "", durationMs: 1 }] });
  }
  return stats(times);
}

/** The claim's SELECT as in dist/queue/sql/claim.js completeAndClaimJobs (keep the two in step). */
async function plan() {
  const res = await pool.query(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
     SELECT id FROM jobs
     WHERE state IN ('pending', 'failed') AND run_at <= now() AND deps_pending = 0
       AND (cardinality($1::text[]) = 0 OR queue = ANY($1::text[]))
       AND queue <> ALL (ARRAY(SELECT name FROM queues WHERE paused OR concurrency_limit IS NOT NULL))
     ORDER BY priority DESC, run_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED`,
    [[]],
  );
  return res.rows.map((r) => r["QUERY PLAN"]).join("\n");
}

try {
  await applyMigrations(pool);
  await addPending("empty");
  // Warm-up: connections, plans, caches.
  await pool.query("SELECT 1");
  const empty = await measure();

  const t0 = performance.now();
  await pool.query(
    `INSERT INTO jobs (id, command, max_retries, state, attempts, worker_id, started_at, finished_at, exit_code, duration_ms, run_at, created_at)
     SELECT 'done-' || i, 'echo ' || i, 3, 'completed', 1, 'old-worker', now() - interval '1 day', now() - interval '1 day', 0, 5,
            now() - interval '1 day', now() - interval '1 day'
     FROM generate_series(1, $1::int) i`,
    [ROWS],
  );
  await pool.query("VACUUM ANALYZE jobs");
  const loadS = (performance.now() - t0) / 1000;
  await addPending("full");
  const explain = await plan();
  const full = await measure();
  const count = (await pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n;

  const f = (x) => x.toFixed(3);
  console.log(`claim-scale: ${count} rows in jobs (${ROWS} completed added in ${loadS.toFixed(1)} s), ${CYCLES} claim+complete cycles each; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log(`                     median ms   p95 ms   mean ms`);
  console.log(`  empty table        ${f(empty.median).padStart(9)}  ${f(empty.p95).padStart(7)}  ${f(empty.mean).padStart(8)}`);
  console.log(`  +${ROWS} completed ${f(full.median).padStart(9)}  ${f(full.p95).padStart(7)}  ${f(full.mean).padStart(8)}`);
  console.log(`  ratio (full/empty) median ${(full.median / empty.median).toFixed(2)}x, p95 ${(full.p95 / empty.p95).toFixed(2)}x, mean ${(full.mean / empty.mean).toFixed(2)}x (goal <= 2x)`);
  console.log(`plan of the claim's SELECT with ${count} rows:\n${explain}`);
  if (!/jobs_claim_idx/.test(explain)) {
    console.error("the claim does not use jobs_claim_idx");
    process.exitCode = 1;
  }
} finally {
  await pool.end();
  await dropDatabase(admin, name);
  await admin.end();
}
