/**
 * One worker in the foreground: what `worker start --foreground` and a container run. SIGTERM or
 * SIGINT once = graceful stop; a second one = forced stop (commands ended, jobs released). With a
 * health port, /healthz and /readyz answer from the worker's state (health-server.ts).
 */
import { openContext } from "../db/context.js";
import { OperationalError } from "../errors.js";
import { startHealthServer, type RunningHealthServer } from "./health-server.js";
import { createLogger } from "./logger.js";
import { workerConnections } from "./spawn-workers.js";
import type { LogFormat } from "./pretty-log.js";
import { Worker, type WorkerHealth, type WorkerOptions } from "./worker.js";

const NOT_STARTED: WorkerHealth = { state: "starting", lastHeartbeatAt: undefined, leaseMs: 0 };

/** The health server on `port`; when it cannot listen, `close` (the database context) runs first. */
async function listenForHealth(port: number, health: () => WorkerHealth, close: () => Promise<void>): Promise<RunningHealthServer> {
  try {
    return await startHealthServer({ port, health });
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * `logFormat`: JSON lines, or readable lines (the default on a terminal: see worker start --log-format).
 * `healthPort`: serve /healthz and /readyz there (0: a free port, logged).
 */
export async function runForegroundWorker(options: WorkerOptions, logFormat: LogFormat = "json", healthPort?: number): Promise<void> {
  // One connection per slot for completions, plus claim, heartbeat and rescuer (and LISTEN: its own).
  const ctx = await openContext({ poolMax: workerConnections(options.concurrency) - 1, applicationName: "queuectl-worker" });
  const log = createLogger({}, undefined, logFormat);
  // Listening before the worker exists (its command hosts start with it): a port in use fails the
  // command before anything started or claimed a job.
  let created: Worker | undefined;
  const health = healthPort === undefined ? undefined : await listenForHealth(healthPort, () => created?.health() ?? NOT_STARTED, () => ctx.close());
  if (health) log.info({ port: health.port, liveness: "/healthz", readiness: "/readyz" }, "health endpoints listening");
  const worker = (created = new Worker({ pool: ctx.pool, url: ctx.listenUrl, log }, options));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) worker.requestStop(signal);
    else worker.forceStop(`second ${signal}`);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  try {
    await worker.start();
    await worker.finished();
    if (worker.failure) throw new OperationalError(worker.failure);
  } finally {
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
    await health?.close();
    await ctx.close();
  }
}
