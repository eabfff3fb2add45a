/**
 * Records how each attempt ended, through the fenced statements of queue/sql/outcomes.ts: a success
 * (queued for the slot loop's next statement), a failure (retried, dead, or cancelled), a job given
 * back by a forced stop, or a result dropped because the lease was lost. Then settles the jobs that
 * wait on it.
 *
 * Through a database outage (or a transient failure: a deadlock, a lock timeout) a statement is
 * retried for up to outcomeRetryMs; any other error fails the same way again, so it is logged as what
 * it is and the job is left to the rescuer at once. A job whose outcome was given up stays in
 * `unrecorded` and keeps its slot busy until its row leaves this worker (the heartbeat tells), so a
 * worker that cannot record outcomes does not go on taking jobs.
 */
import type { EventEmitter } from "node:events";
import type pg from "pg";
import { firstLine, isConnectionError, isRetryableError } from "../db/errors.js";
import type { QueueConfig } from "../queue/config.js";
import { settleFinishedJobs } from "../queue/dependencies.js";
import { failJob, releaseJobs, saveAttemptOutput, type ReleasedJob } from "../queue/sql/outcomes.js";
import type { ClaimedJob } from "../queue/sql/claim.js";
import { GAVE_UP, type CompletionAnswer, type CompletionBatch } from "./completion-batch.js";
import type { Logger } from "./logger.js";
import { describeFailure, type CommandResult } from "./run-command.js";
import type { ReadyJob } from "./ready-jobs.js";
import type { Slot } from "./slots.js";
import type { WorkerEvents } from "./worker-events.js";

/** How long an outcome keeps retrying through a database outage before leaving the job to the rescuer. */
export const OUTCOME_RETRY_MS = 120_000;

/** The last_error and history error of an attempt ended by `cancel`. */
export const CANCELLED_ERROR = "cancelled by an operator";

export interface OutcomeRecorderDeps {
  pool: pg.Pool;
  log: Logger;
  workerId: string;
  config: () => QueueConfig;
  batch: CompletionBatch;
  /** Wakes the slot loop (a success waits for its statement). */
  wake: () => void;
  /** Where job events go (the worker). */
  events: EventEmitter<WorkerEvents>;
  outcomeRetryMs: number;
}

export class OutcomeRecorder {
  /**
   * Jobs whose command ran but whose outcome was given up. Their rows still say processing under this
   * worker, like a lost claim's; they must go to the rescuer (which counts the attempt), never to
   * releaseUnacknowledgedClaims (which would run them again uncounted).
   */
  readonly unrecorded = new Set<string>();

  constructor(private readonly deps: OutcomeRecorderDeps) {}

  async record(slot: Slot, result: CommandResult): Promise<void> {
    const { job } = slot;
    const { pool, workerId } = this.deps;
    if (slot.discardReason) {
      await saveAttemptOutput(pool, { jobId: job.id, attempt: job.attempt, workerId, output: result.output }).catch(() => {});
      this.deps.events.emit("job:discarded", { id: job.id, attempt: job.attempt, why: slot.discardReason });
      return;
    }
    if (slot.release && !slot.cancelled) {
      const released = await this.withRetry(slot, () =>
        releaseJobs(pool, { workerId, reason: "released: worker shut down while it ran", ran: true, attempts: [{ jobId: job.id, attempt: job.attempt, output: result.output }] }),
      );
      if (released !== GAVE_UP) await this.afterRelease(released);
      return;
    }
    // A command this worker ended because of a cancel is cancelled whatever it exited with (a trap
    // that exits 0 on SIGTERM is common); one that ended on its own keeps its own outcome.
    const failure = slot.cancelled ? CANCELLED_ERROR : describeFailure(result);
    if (failure === null) {
      const answer: CompletionAnswer = await this.deps.batch.add(
        { jobId: job.id, attempt: job.attempt, exitCode: 0, output: result.output, durationMs: result.durationMs },
        () => (slot.outcomeDelayed = true),
      );
      this.deps.wake();
      if (answer === GAVE_UP) this.unrecorded.add(job.id);
      else if (answer) {
        this.deps.events.emit("job:complete", { id: job.id, attempt: job.attempt, durationMs: result.durationMs });
        if (answer.dependents > 0) await this.settle(job.id);
      } else this.reportRejected(job);
      return;
    }
    const config = this.deps.config();
    const outcome = await this.withRetry(slot, () =>
      failJob(pool, {
        jobId: job.id,
        workerId,
        attempt: job.attempt,
        exitCode: result.exitCode,
        output: result.output,
        durationMs: result.durationMs,
        error: failure,
        backoffBase: config.backoff_base,
        backoffMaxS: config.backoff_max_s,
        backoffJitter: config.backoff_jitter,
      }),
    );
    if (outcome === GAVE_UP) return;
    if (!outcome) return this.reportRejected(job);
    // Logged by job-log.ts, with the job's other events.
    this.deps.events.emit("job:fail", { id: job.id, attempt: job.attempt, error: failure, state: outcome.state, retryAt: outcome.state === "failed" ? outcome.runAt : undefined });
    if (outcome.state !== "failed" && outcome.dependents > 0) await this.settle(job.id);
  }

  /**
   * Gives jobs claimed ahead back unrun (pending again, or cancelled when a cancel waits for them).
   * False when the statement failed: the rows then stay this worker's, and the slot loop's next
   * statement gives them back (releaseUnacknowledgedClaims).
   */
  async giveBackUnrun(given: readonly ReadyJob[], reason: string): Promise<boolean> {
    try {
      const released = await releaseJobs(this.deps.pool, {
        workerId: this.deps.workerId,
        reason,
        ran: false,
        attempts: given.map((r) => ({ jobId: r.job.id, attempt: r.job.attempt, output: "" })),
      });
      if (released.length > 0) this.deps.log.info({ jobs: released.map((r) => r.id), reason }, "gave back jobs claimed ahead without running them");
      await this.afterRelease(released);
      // Taken by the rescuer after a pause longer than the lease (SIGSTOP, a cut-off network).
      const back = new Set(released.map((r) => r.id));
      const lost = given.filter((r) => !back.has(r.job.id)).map((r) => r.job.id);
      if (lost.length > 0) this.deps.log.warn({ jobs: lost }, "not running jobs claimed ahead: this worker no longer holds them");
      return true;
    } catch (err) {
      this.deps.log.warn({ err: firstLine(err) }, "could not give back jobs claimed ahead; retrying with the next statement");
      return false;
    }
  }

  /** After jobs were given back: jobs waiting on one that ended cancelled are settled. */
  async afterRelease(released: readonly ReleasedJob[]): Promise<void> {
    for (const r of released) {
      this.deps.events.emit(r.state === "cancelled" ? "job:cancelled" : "job:released", { id: r.id });
      if (r.state === "cancelled" && r.dependents > 0) await this.settle(r.id);
    }
  }

  /** Releases or cancels the jobs waiting on a finished one; on failure the rescuer's sweep does it later. */
  async settle(jobId: string): Promise<void> {
    const settled = await this.withRetry(undefined, () => settleFinishedJobs(this.deps.pool, [jobId]));
    if (settled !== GAVE_UP && settled.cancelled.length > 0) {
      this.deps.log.info({ job: jobId, cancelled: settled.cancelled }, "dependents cancelled: a job they wait for will not complete");
    }
  }

  private reportRejected(job: ClaimedJob): void {
    this.deps.log.warn({ job: job.id, attempt: job.attempt }, "result refused: the job was taken over while this attempt ran");
    this.deps.events.emit("job:discarded", { id: job.id, attempt: job.attempt, why: "fence rejected the result" });
  }

  /**
   * Runs a recording statement, retrying through an outage or a transient failure for up to
   * outcomeRetryMs (the fence makes a late result harmless); any other error, or the end of the
   * window, gives up: the job goes to the rescuer and `slot`'s job joins `unrecorded`.
   */
  async withRetry<T>(slot: Slot | undefined, fn: () => Promise<T>): Promise<T | typeof GAVE_UP> {
    const deadline = Date.now() + this.deps.outcomeRetryMs;
    let delay = 100;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (slot) slot.outcomeDelayed = true;
        const job = slot?.job.id;
        if (!isRetryableError(err)) {
          this.deps.log.error({ job, err: firstLine(err) }, "could not record an outcome (the statement failed, not the connection); the rescuer will take the job once its lease runs out");
          if (slot) this.unrecorded.add(slot.job.id);
          return GAVE_UP;
        }
        if (Date.now() > deadline) {
          this.deps.log.error({ job, err: firstLine(err) }, "giving up recording an outcome; the rescuer will retry the job");
          if (slot) this.unrecorded.add(slot.job.id);
          return GAVE_UP;
        }
        this.deps.log.warn(
          { job, err: firstLine(err) },
          isConnectionError(err) ? "database unavailable while recording an outcome; retrying" : "recording an outcome failed for a passing reason; retrying",
        );
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
  }
}
