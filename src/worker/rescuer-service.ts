/**
 * Takes back jobs whose worker vanished (lease expired) so another worker runs them; each counts as a
 * failed attempt. Every worker runs one; rescueExpiredJobs is safe to run concurrently.
 */
import type pg from "pg";
import type { QueueConfig } from "../queue/config.js";
import { settleFinishedJobs } from "../queue/dependencies.js";
import { findUnsettledDependencies } from "../queue/sql/dependencies.js";
import { rescueExpiredJobs } from "../queue/sql/leases.js";
import type { Logger } from "./logger.js";
import { PeriodicService } from "./periodic-service.js";

/** Jobs rescued per statement; the next run takes the rest. */
export const RESCUE_BATCH = 100;

export class RescuerService extends PeriodicService {
  constructor(
    private readonly deps: { pool: pg.Pool; log: Logger; config: () => QueueConfig; onRescued?: (count: number) => void },
  ) {
    super("rescuer", deps.log);
  }

  protected intervalMs(): number {
    // Half a lease, with jitter so that many workers do not all scan at the same instant.
    const lease = this.deps.config().lease_ms;
    return Math.max(250, Math.floor(lease / 2 + Math.random() * lease * 0.1));
  }

  async runOnce(): Promise<number> {
    const config = this.deps.config();
    const rescued = await rescueExpiredJobs(this.deps.pool, {
      backoffBase: config.backoff_base,
      backoffMaxS: config.backoff_max_s,
      limit: RESCUE_BATCH,
    });
    for (const job of rescued) {
      this.deps.log.warn({ job: job.id, attempt: job.attempts, previousWorker: job.worker_id, state: job.state }, "lease expired: job taken back");
    }
    if (rescued.length > 0) this.deps.onRescued?.(rescued.length);
    // Dependents of jobs that ended dead here, plus any edge a worker left unsettled (it died between
    // completing a job and settling its dependents, or a cancel ended the dependency).
    const finished = new Set(rescued.filter((j) => j.state === "dead" && j.dependents > 0).map((j) => j.id));
    for (const id of await findUnsettledDependencies(this.deps.pool, RESCUE_BATCH)) finished.add(id);
    if (finished.size > 0) {
      const settled = await settleFinishedJobs(this.deps.pool, [...finished]);
      if (settled.released.length + settled.cancelled.length > 0) {
        this.deps.log.info({ released: settled.released, cancelled: settled.cancelled }, "dependencies settled");
        this.deps.onRescued?.(settled.released.length);
      }
    }
    return rescued.length;
  }
}
