/**
 * Enqueues the jobs of due cron schedules. Every worker runs one; advanceSchedule makes exactly one of
 * them enqueue each tick. Instead of polling, it sleeps until the earliest schedule's next tick (at
 * most poll_interval_ms, so a schedule added from elsewhere is seen even if its NOTIFY is lost), which
 * lets a `* * * * * *` schedule fire every second.
 */
import type pg from "pg";
import { inTransaction } from "../db/transaction.js";
import type { QueueConfig } from "../queue/config.js";
import { toNewJob } from "../queue/job-spec.js";
import { nextTick, ticksToRun } from "../queue/cron.js";
import { parseScheduleJob } from "../queue/schedule-job.js";
import { tickJobId, type MissedPolicy } from "../queue/schedules.js";
import { advanceSchedule, dueSchedules, nextScheduleAt, type DueSchedule } from "../queue/sql/schedules.js";
import { insertJobs, notifyJobsAvailable } from "../queue/sql/enqueue.js";
import type { Logger } from "./logger.js";
import { PeriodicService } from "./periodic-service.js";

/** Schedules handled per statement; a run loops until none is due. */
export const SCHEDULER_BATCH = 100;
/** Wake this long after a tick, so the database clock has surely passed it. */
const TICK_SLACK_MS = 2;
/** How soon a tick that failed (database error, ...) is tried again. */
const RETRY_FAILED_TICK_MS = 250;

export class SchedulerService extends PeriodicService {
  /** The earliest next tick on the database clock, and the database clock minus ours, as of the last run. */
  private nextAt: Date | null = null;
  private clockOffsetMs = 0;

  constructor(
    private readonly deps: { pool: pg.Pool; log: Logger; config: () => QueueConfig; onEnqueued?: (count: number) => void },
  ) {
    super("scheduler", deps.log);
  }

  protected intervalMs(): number {
    const poll = this.deps.config().poll_interval_ms;
    if (!this.nextAt) return poll;
    const untilTick = this.nextAt.getTime() - (Date.now() + this.clockOffsetMs) + TICK_SLACK_MS;
    // A tick still due after a run means it failed (logged): retry soon, but do not spin.
    return untilTick <= 0 ? Math.min(poll, RETRY_FAILED_TICK_MS) : Math.min(poll, untilTick);
  }

  /** Enqueues every due tick; returns the ids of the jobs this scheduler enqueued. */
  async runOnce(): Promise<string[]> {
    const enqueued: string[] = [];
    for (;;) {
      const due = await dueSchedules(this.deps.pool, SCHEDULER_BATCH);
      for (const s of due) {
        try {
          enqueued.push(...(await this.fire(s)));
        } catch (err) {
          this.deps.log.warn({ schedule: s.name, err: (err as Error).message }, "schedule tick failed; will retry");
        }
      }
      if (due.length < SCHEDULER_BATCH) break;
    }
    const next = await nextScheduleAt(this.deps.pool);
    this.nextAt = next.next;
    this.clockOffsetMs = next.dbNow.getTime() - Date.now();
    if (enqueued.length > 0) this.deps.onEnqueued?.(enqueued.length);
    return enqueued;
  }

  /** Claims one schedule's due tick(s) and enqueues their jobs in one transaction. */
  private async fire(s: DueSchedule): Promise<string[]> {
    const ticks = ticksToRun({ cron: s.cron, timezone: s.timezone, due: s.next_run_at, now: s.db_now, missed: s.missed as MissedPolicy, limit: s.catch_up_limit });
    const to = nextTick(s.cron, s.timezone, s.db_now);
    let jobs: ReturnType<typeof toNewJob>[] = [];
    try {
      const spec = parseScheduleJob(s.job);
      jobs = ticks.map((t) => toNewJob({ ...spec, id: tickJobId(s.name, t) }, { maxRetries: this.deps.config().max_retries }));
    } catch (err) {
      this.deps.log.error({ schedule: s.name, err: (err as Error).message }, "schedule's job is no longer valid; tick skipped");
    }
    const enqueued = await inTransaction(this.deps.pool, async (client) => {
      const claimed = await advanceSchedule(client, { name: s.name, from: s.next_run_at, to, lastJobId: jobs.at(-1)?.id ?? null });
      // Not claimed: another scheduler took this tick (or the schedule was paused or removed
      // meanwhile); nothing was written.
      if (!claimed) return false;
      await insertJobs(client, jobs);
      await notifyJobsAvailable(client, jobs.map((j) => j.queue));
      return true;
    }).catch(async (err: unknown) => {
      if ((err as { code?: string }).code !== "23505") throw err;
      // A job with this tick's id exists already (the schedule was removed and added again under
      // the same name): the tick has its job; move on without enqueueing another.
      await advanceSchedule(this.deps.pool, { name: s.name, from: s.next_run_at, to, lastJobId: null });
      return false;
    });
    if (!enqueued) return [];
    if (ticks.length === 0) this.deps.log.info({ schedule: s.name, due: s.next_run_at }, "missed ticks skipped (policy skip)");
    for (const j of jobs) this.deps.log.info({ schedule: s.name, job: j.id }, "schedule enqueued a job");
    return jobs.map((j) => j.id);
  }
}
