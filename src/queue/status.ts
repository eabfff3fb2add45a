/** The numbers `status` and the dashboard's overview show, from one statement (sql/status.ts). */
import { loadConfig } from "./config.js";
import type { QueueContext } from "./context.js";
import { JOB_STATES, type JobState } from "./job.js";
import { readQueueStatus } from "./sql/status.js";

export interface QueueStatus {
  /** Jobs per state; every state present, zero when none. */
  jobs: Record<JobState, number>;
  /**
   * Live workers: running (or stopping, still finishing jobs) with a heartbeat fresher than
   * 2 x lease_ms; the same rule as sql/workers.ts countLiveWorkers.
   */
  workers: number;
  /** Dead jobs waiting in the DLQ (entries not retried). */
  dlq: number;
  /** Mean duration of the latest 1 000 completed jobs in ms; null when none completed. */
  avgDurationMs: number | null;
  /** How long the oldest runnable job (pending or failed, run_at passed, no dependency pending) has been due, in ms; null when none. */
  oldestRunnableAgeMs: number | null;
}

/**
 * Counts for `status`, read in one statement so the numbers are one snapshot (every state counted,
 * 0 when it has none); the times are rounded to whole ms here. `leaseMs` (default: the config's
 * lease_ms) decides which workers count as alive.
 */
export async function queueStatus(ctx: Pick<QueueContext, "pool">, p: { leaseMs?: number } = {}): Promise<QueueStatus> {
  const leaseMs = p.leaseMs ?? (await loadConfig(ctx.pool)).lease_ms;
  const row = await readQueueStatus(ctx.pool, { leaseMs });
  const jobs = Object.fromEntries(JOB_STATES.map((s) => [s, Number(row.counts[s])])) as Record<JobState, number>;
  return {
    jobs,
    workers: row.workers,
    dlq: row.dlq,
    avgDurationMs: row.avg_duration_ms === null ? null : Math.round(row.avg_duration_ms),
    oldestRunnableAgeMs: row.oldest_runnable_age_ms === null ? null : Math.max(0, Math.round(row.oldest_runnable_age_ms)),
  };
}
