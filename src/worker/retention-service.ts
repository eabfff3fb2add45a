/**
 * Deletes completed jobs older than config `retention_completed` (0 = keep them), so the jobs table
 * does not grow forever. Every worker runs one; purgeJobs deletes in small SKIP LOCKED batches, each
 * its own short statement, so workers never wait on each other and no lock is held for long.
 */
import type pg from "pg";
import type { QueueConfig } from "../queue/config.js";
import { purgeJobs } from "../queue/sql/purge.js";
import type { Logger } from "./logger.js";
import { PeriodicService } from "./periodic-service.js";

/** Jobs deleted per statement. */
export const RETENTION_BATCH = 1000;
/** Batches per run at most; the next run continues (keeps one run short when a backlog built up). */
export const RETENTION_MAX_BATCHES = 20;
/** Time between runs, in ms (plus up to 10% jitter so workers spread out). */
export const RETENTION_INTERVAL_MS = 60_000;

export class RetentionService extends PeriodicService {
  constructor(private readonly deps: { pool: pg.Pool; log: Logger; config: () => QueueConfig }) {
    super("retention", deps.log);
  }

  protected intervalMs(): number {
    return Math.floor(RETENTION_INTERVAL_MS * (1 + Math.random() * 0.1));
  }

  /** Deletes expired completed jobs; returns how many. */
  async runOnce(): Promise<number> {
    const olderThanS = this.deps.config().retention_completed;
    if (olderThanS <= 0) return 0;
    let total = 0;
    for (let i = 0; i < RETENTION_MAX_BATCHES; i++) {
      const n = await purgeJobs(this.deps.pool, { state: "completed", olderThanS, limit: RETENTION_BATCH });
      total += n;
      if (n < RETENTION_BATCH) break;
    }
    if (total > 0) this.deps.log.info({ deleted: total, olderThanS }, "retention: deleted old completed jobs");
    return total;
  }
}
