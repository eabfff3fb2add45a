/**
 * `worker start` without --foreground: starts N worker processes on this host in the background,
 * each with its own log file, and returns once each has registered (or says why one did not).
 */
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import { InvalidInputError, OperationalError } from "../errors.js";
import { reachesServerThroughProxy } from "../db/proxy.js";
import { workerLogDir } from "../paths.js";
import { freeConnections, runningWorkerPids } from "../queue/sql/workers.js";

/**
 * Connections one worker opens at most: one per slot (recording outcomes), the claim, the heartbeat
 * and the rescuer, one spare (the pool: concurrency + 4), and its LISTEN connection.
 */
export function workerConnections(concurrency: number): number {
  return concurrency + 5;
}

export interface SpawnWorkersParams {
  count: number;
  /** Each worker's --concurrency (for the connections it needs). */
  concurrency: number;
  /** Arguments passed on to each `worker start --foreground`. */
  workerArgs: string[];
  /** How long to wait for each worker to register. */
  readyTimeoutMs?: number;
}

export interface SpawnedWorker {
  pid: number;
  logFile: string;
}

function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

export async function spawnWorkers(pool: pg.Pool, p: SpawnWorkersParams): Promise<SpawnedWorker[]> {
  // Workers that could not all connect would fail one by one under load; refuse before starting any.
  // Behind a pooler the server's free connections do not bound the clients: the pooler's do.
  const need = workerConnections(p.concurrency);
  const { free, max } = await freeConnections(pool);
  if (p.count * need > free && !(await reachesServerThroughProxy(pool))) {
    const fit = Math.floor(free / need);
    throw new InvalidInputError(
      `--count ${p.count} needs up to ${p.count * need} connections (each worker ${need}: concurrency ${p.concurrency} + 5), but the server has ${free} free ` +
        `(max_connections ${max}): start at most ${fit}, lower --concurrency, or raise max_connections or put PgBouncer in front; none started`,
    );
  }
  const dir = workerLogDir();
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const spawned: Array<SpawnedWorker & { exited: boolean }> = [];
  for (let i = 1; i <= p.count; i++) {
    const logFile = join(dir, `worker-${stamp}-${i}.log`);
    const fd = openSync(logFile, "a");
    const child = spawn(process.execPath, [process.argv[1]!, "worker", "start", "--foreground", ...p.workerArgs], {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: process.env,
    });
    closeSync(fd);
    const entry = { pid: child.pid ?? 0, logFile, exited: false };
    child.once("exit", () => (entry.exited = true));
    child.unref();
    spawned.push(entry);
  }

  const deadline = Date.now() + (p.readyTimeoutMs ?? 20_000);
  const pids = spawned.map((s) => s.pid);
  for (;;) {
    const ready = await runningWorkerPids(pool, { host: hostname(), pids });
    const dead = spawned.find((s) => s.exited && !ready.has(s.pid));
    if (dead) throw new OperationalError(`worker ${dead.pid} exited at start: ${tail(dead.logFile, 3).split("\n").pop() ?? "see " + dead.logFile} (log: ${dead.logFile})`);
    if (ready.size === spawned.length) break;
    if (Date.now() > deadline) throw new OperationalError(`workers did not register within ${(p.readyTimeoutMs ?? 20_000) / 1000}s; see ${dir}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return spawned.map(({ pid, logFile }) => ({ pid, logFile }));
}
