/** Worker processes for tests: the real `queuectl worker start --foreground`, as a container runs it. */
import { spawn, type ChildProcess } from "node:child_process";
import type pg from "pg";
import { CLI } from "./cli.js";
import { insertJobs, notifyJobsAvailable } from "../../src/queue/sql/enqueue.js";
import { toNewJob, type JobSpec } from "../../src/queue/job-spec.js";

export interface WorkerProcess {
  child: ChildProcess;
  /** Everything the worker logged so far. */
  log(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
}

export function startWorkerProcess(args: string[] = [], env: NodeJS.ProcessEnv = {}): WorkerProcess {
  const child = spawn(process.execPath, [CLI, "worker", "start", "--foreground", ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, log: () => output, exited };
}

/** Polls `check` every `everyMs` until it returns a truthy value; fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T> | T, opts: { timeoutMs?: number; everyMs?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? "condition"}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 50));
  }
}

/** Enqueues jobs the way `enqueue` does (one transaction, NOTIFY on commit). */
export async function enqueue(pool: pg.Pool, specs: JobSpec[], maxRetries = 3): Promise<string[]> {
  const jobs = specs.map((s) => toNewJob(s, { maxRetries }));
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    for (let i = 0; i < jobs.length; i += 5000) await insertJobs(client, jobs.slice(i, i + 5000));
    await notifyJobsAvailable(client, jobs.map((j) => j.queue));
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK");
    throw err;
  } finally {
    client.release();
  }
  return jobs.map((j) => j.id);
}

export async function jobState(pool: pg.Pool, id: string): Promise<{ state: string; attempts: number; last_error: string | null; worker_id: string | null } | undefined> {
  const res = await pool.query("SELECT state, attempts, last_error, worker_id FROM jobs WHERE id = $1", [id]);
  return res.rows[0];
}

export async function countByState(pool: pg.Pool): Promise<Record<string, number>> {
  const res = await pool.query<{ state: string; n: number }>("SELECT state::text, count(*)::int AS n FROM jobs GROUP BY state");
  return Object.fromEntries(res.rows.map((r) => [r.state, r.n]));
}

/** An in-process worker on the test database, for tests that wait on the worker's own events. */
export async function startInProcessWorker(
  db: { pool: pg.Pool; url: string },
  options: Partial<import("../../src/worker/worker.js").WorkerOptions> = {},
  log?: import("../../src/worker/logger.js").Logger,
): Promise<import("../../src/worker/worker.js").Worker> {
  const { Worker } = await import("../../src/worker/worker.js");
  const { createLogger } = await import("../../src/worker/logger.js");
  const worker = new Worker({ pool: db.pool, url: db.url, log: log ?? createLogger({}, "silent") }, { queues: [], concurrency: 1, ...options });
  await worker.start();
  return worker;
}

/** A logger that keeps its JSON lines in memory, for tests that read what a worker logged. */
export async function memoryLogger(): Promise<{ log: import("../../src/worker/logger.js").Logger; lines: () => Array<{ msg: string; level: number; [k: string]: unknown }> }> {
  const { pino } = await import("pino");
  const lines: string[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
  return { log, lines: () => lines.map((l) => JSON.parse(l) as { msg: string; level: number }) };
}

/** Whether a process (or, given -pgid, any process of a group) still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
