/**
 * One worker in the foreground: what `worker start --foreground` and a container run. SIGTERM or
 * SIGINT once = graceful stop; a second one = forced stop (commands ended, jobs released).
 */
import { openContext } from "../db/context.js";
import { OperationalError } from "../errors.js";
import { createLogger } from "./logger.js";
import { workerConnections } from "./spawn-workers.js";
import type { LogFormat } from "./pretty-log.js";
import { Worker, type WorkerOptions } from "./worker.js";

/** `logFormat`: JSON lines, or readable lines (the default on a terminal: see worker start --log-format). */
export async function runForegroundWorker(options: WorkerOptions, logFormat: LogFormat = "json"): Promise<void> {
  // One connection per slot for completions, plus claim, heartbeat and rescuer (and LISTEN: its own).
  const ctx = await openContext({ poolMax: workerConnections(options.concurrency) - 1, applicationName: "queuectl-worker" });
  const log = createLogger({}, undefined, logFormat);
  const worker = new Worker({ pool: ctx.pool, url: ctx.listenUrl, log }, options);
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
    await ctx.close();
  }
}
