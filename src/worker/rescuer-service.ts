/**
 * Takes back jobs whose worker vanished (lease expired) so another worker runs them; each counts as a
 * failed attempt (or ends cancelled, when a cancel was waiting). Every worker runs one;
 * rescueExpiredJobs is safe to run concurrently. The same sweep settles dependencies left unsettled
 * and repairs jobs left waiting on dependencies that no longer exist.
 */
import type pg from "pg";
import { firstLine, isRetryableError } from "../db/errors.js";
import type { QueueConfig } from "../queue/config.js";
import { settleFinishedJobs } from "../queue/dependencies.js";
import { cancelStrandedJobs, findUnsettledDependencies } from "../queue/sql/dependencies.js";
import { findExpiredJobs, rescueExpiredJobs, type RescuedJob } from "../queue/sql/leases.js";
import type { Logger } from "./logger.js";
import { PeriodicService } from "./periodic-service.js";

/** Jobs rescued per statement; the next run takes the rest. */
export const RESCUE_BATCH = 100;
/** Waiting jobs checked per run for dependencies that no longer exist. */
export const STRANDED_BATCH = 500;

export class RescuerService extends PeriodicService {
  /** Where the walk over waiting jobs continues (cancelStrandedJobs). */
  private strandedFrom = 0;

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
    const rescued = await this.rescue();
    for (const job of rescued) {
      this.deps.log.warn({ job: job.id, attempt: job.attempts, previousWorker: job.worker_id, state: job.state }, "lease expired: job taken back");
    }
    if (rescued.length > 0) this.deps.onRescued?.(rescued.length);
    // Dependents of jobs that ended dead or cancelled here, plus any edge a worker left unsettled (it
    // died between completing a job and settling its dependents, or a cancel ended the dependency).
    const finished = new Set(rescued.filter((j) => j.state !== "failed" && j.dependents > 0).map((j) => j.id));
    for (const id of await findUnsettledDependencies(this.deps.pool, RESCUE_BATCH)) finished.add(id);
    const stranded = await cancelStrandedJobs(this.deps.pool, { afterSeq: this.strandedFrom, limit: STRANDED_BATCH });
    this.strandedFrom = stranded.nextSeq;
    for (const job of stranded.cancelled) {
      this.deps.log.warn({ job: job.id }, "cancelled a job waiting on dependencies that were deleted before they settled");
      if (job.dependents > 0) finished.add(job.id);
    }
    if (finished.size > 0) {
      const settled = await settleFinishedJobs(this.deps.pool, [...finished]);
      if (settled.released.length + settled.cancelled.length > 0) {
        this.deps.log.info({ released: settled.released, cancelled: settled.cancelled }, "dependencies settled");
        this.deps.onRescued?.(settled.released.length);
      }
    }
    return rescued.length;
  }

  /**
   * One statement for the whole batch; if it fails for a reason other than an outage, the jobs are
   * taken one by one, so a row that cannot be rescued (logged) never keeps the others waiting.
   */
  private async rescue(): Promise<RescuedJob[]> {
    const config = this.deps.config();
    const params = { backoffBase: config.backoff_base, backoffMaxS: config.backoff_max_s, backoffJitter: config.backoff_jitter };
    try {
      return await rescueExpiredJobs(this.deps.pool, { ...params, limit: RESCUE_BATCH });
    } catch (err) {
      if (isRetryableError(err)) throw err;
      this.deps.log.error({ err: firstLine(err) }, "rescuing expired jobs failed; taking them one by one");
    }
    const rescued: RescuedJob[] = [];
    for (const id of await findExpiredJobs(this.deps.pool, RESCUE_BATCH)) {
      try {
        rescued.push(...(await rescueExpiredJobs(this.deps.pool, { ...params, limit: 1, ids: [id] })));
      } catch (err) {
        if (isRetryableError(err)) throw err;
        this.deps.log.error({ job: id, err: firstLine(err) }, "could not rescue this job; the others go on");
      }
    }
    return rescued;
  }
}
