/**
 * Deletes completed jobs older than config `retention_completed` and audit rows older than
 * `retention_audit` (0 = keep), so neither table grows forever. Every worker runs one; each call of
 * applyRetention deletes one small SKIP LOCKED batch in one short statement, so workers never wait on
 * each other and no lock is held for long. The ages are read by the database function itself
 * (sql/retention.ts), so a worker role needs no right to delete.
 */
import type pg from "pg";
import { applyRetention, type RetentionResult } from "../queue/sql/retention.js";
import type { Logger } from "./logger.js";
import { PeriodicService } from "./periodic-service.js";

/** Rows of each kind deleted per statement. */
export const RETENTION_BATCH = 1000;
/** Batches per run at most; the next run continues (keeps one run short when a backlog built up). */
export const RETENTION_MAX_BATCHES = 20;
/** Time between runs, in ms (plus up to 10% jitter so workers spread out). */
export const RETENTION_INTERVAL_MS = 60_000;

export class RetentionService extends PeriodicService {
  constructor(private readonly deps: { pool: pg.Pool; log: Logger }) {
    super("retention", deps.log);
  }

  protected intervalMs(): number {
    return Math.floor(RETENTION_INTERVAL_MS * (1 + Math.random() * 0.1));
  }

  /** Deletes expired completed jobs and audit rows; returns how many of each. */
  async runOnce(): Promise<RetentionResult> {
    const total: RetentionResult = { jobs: 0, audit: 0 };
    for (let i = 0; i < RETENTION_MAX_BATCHES; i++) {
      const n = await applyRetention(this.deps.pool, RETENTION_BATCH);
      total.jobs += n.jobs;
      total.audit += n.audit;
      if (n.jobs < RETENTION_BATCH && n.audit < RETENTION_BATCH) break;
    }
    if (total.jobs + total.audit > 0) this.deps.log.info({ jobs: total.jobs, audit: total.audit }, "retention: deleted expired completed jobs and audit rows");
    return total;
  }
}
