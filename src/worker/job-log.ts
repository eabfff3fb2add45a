/**
 * One log line per job event, from the worker's events (worker-events.ts): started (queue, priority,
 * attempt n of max), completed (duration), failed (the error, when it is retried), moved to the DLQ,
 * cancelled. JSON lines like every other log line; pretty-log.ts turns them into readable lines on a
 * terminal. The rescuer logs the jobs it takes back itself ("lease expired: job taken back").
 */
import type { EventEmitter } from "node:events";
import type { Logger } from "./logger.js";
import type { WorkerEvents } from "./worker-events.js";

/** Messages of the job events, which pretty-log.ts recognises. */
export const JOB_LOG = {
  started: "job started",
  completed: "job completed",
  failed: "job failed, will retry",
  dead: "job moved to the DLQ",
  cancelled: "job cancelled",
} as const;

export function logJobEvents(events: EventEmitter<WorkerEvents>, log: Logger): void {
  events.on("job:start", (e) => log.info({ job: e.id, queue: e.queue, priority: e.priority, attempt: e.tries, maxAttempts: e.maxRetries + 1 }, JOB_LOG.started));
  events.on("job:complete", (e) => log.info({ job: e.id, durationMs: Math.round(e.durationMs) }, JOB_LOG.completed));
  events.on("job:fail", (e) => {
    if (e.state === "failed") {
      const retryInS = e.retryAt ? Math.max(0, Math.round((e.retryAt.getTime() - Date.now()) / 1000)) : undefined;
      log.info({ job: e.id, error: e.error, retryAt: e.retryAt, retryInS }, JOB_LOG.failed);
    } else if (e.state === "dead") log.info({ job: e.id, error: e.error }, JOB_LOG.dead);
    else log.info({ job: e.id, error: e.error }, JOB_LOG.cancelled);
  });
  events.on("job:cancelled", (e) => log.info({ job: e.id }, JOB_LOG.cancelled));
}
