/**
 * The slot loop: one statement at a time, it records the successes queued since its last statement
 * and claims jobs for the free slots plus the claim-ahead buffer (completeAndClaimJobs). A command's
 * end starts the next job claimed ahead at once and wakes the loop, which sends its statement right
 * away when a slot is idle, else when enough successes are queued or the oldest has waited
 * COMPLETION_HOLD_MS. While stopping it claims nothing, gives back what it claimed ahead, and keeps
 * recording successes until the last slot is done.
 */
import { performance } from "node:perf_hooks";
import { firstLine, isConnectionError, isRetryableError, isSchemaError } from "../db/errors.js";
import { claimLimitedJobs, completeAndClaimJobs, hasLimitedQueues, hasWaitingJobs, nextRunAt, type ClaimedJob } from "../queue/sql/claim.js";
import { releaseUnacknowledgedClaims } from "../queue/sql/outcomes.js";
import { COMPLETION_HOLD_MS, CompletionBatch, GAVE_UP, type QueuedCompletion } from "./completion-batch.js";
import type { HeldJobControl } from "./held-job-control.js";
import type { JobStarter } from "./job-starter.js";
import { OUTCOME_RETRY_MS } from "./outcome-recorder.js";
import { READY_MAX_WAIT_MS } from "./ready-jobs.js";
import type { WorkerCore } from "./worker-core.js";

/**
 * Jobs claimed ahead of the free slots: two per slot, at most 8. With 4 slots of `true`, 8 ahead and
 * a 20 ms hold measured best (docs/benchmarks.md: 4 ahead and 10 ms were a little behind).
 */
const CLAIM_AHEAD_PER_SLOT = 2;
const CLAIM_AHEAD_MAX = 8;

/**
 * Claim ahead only while recent commands (a moving average) are this short: then a job claimed ahead
 * waits CLAIM_AHEAD_PER_SLOT commands at most (40 ms), and the round trip it saves is a real share of
 * each job. With longer commands the saving is nothing and the job would sit in this worker while
 * another is idle.
 */
const CLAIM_AHEAD_MAX_COMMAND_MS = 20;

export class SlotLoop {
  /** Whether a queue this worker serves has a concurrency limit: then claimLimitedJobs runs too. Re-read on every heartbeat and on NOTIFY. */
  private limitedQueues = false;
  /** A claim failed without an answer: it may have committed, so the next pass first gives back what it took. */
  private claimAnswerLost = false;
  private wakePending = false;
  private wakeResolve: (() => void) | undefined;
  /** Why the loop stopped the worker because it cannot work (the schema does not match); undefined otherwise. */
  fatalError: string | undefined;

  constructor(
    private readonly core: WorkerCore,
    private readonly starter: JobStarter,
    private readonly control: HeldJobControl,
    /** Asks the worker to stop: gracefully, or at once (ending running commands). */
    private readonly stop: (reason: string, force: boolean) => void,
  ) {}

  wake(): void {
    if (this.wakeResolve) {
      const resolve = this.wakeResolve;
      this.wakeResolve = undefined;
      resolve();
    } else {
      this.wakePending = true;
    }
  }

  private async sleep(ms: number): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeResolve = undefined;
        resolve();
      }, ms);
      this.wakeResolve = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Runs until the worker has stopped and every slot is done. */
  async run(): Promise<void> {
    const { core } = this;
    let failures = 0;
    for (;;) {
      await this.releaseReadyJobs();
      this.starter.startReady();
      if (core.stopping() && core.slots.size === 0 && core.batch.size === 0 && core.ready.size === 0) break;
      const free = core.stopping() ? 0 : this.starter.freeSlots();
      const ahead = this.claimAheadTarget();
      const wait = this.msBeforeSending(free, ahead);
      if (wait > 0) {
        await this.sleep(wait);
        continue;
      }
      const limit = Math.max(0, free + ahead - core.ready.size);
      const completions = core.batch.take();
      const sentAt = performance.now();
      let claimed: ClaimedJob[];
      try {
        if (this.claimAnswerLost) await this.releaseUnacknowledgedClaims();
        const params = { workerId: core.id, queues: core.options.queues, limit, leaseMs: core.config().lease_ms };
        const result = await completeAndClaimJobs(core.pool, { ...params, completions: completions.map((c) => c.attempt) });
        CompletionBatch.answer(completions, result.completed);
        claimed = result.claimed;
        if (this.limitedQueues && free > 0 && claimed.length < free) {
          // Its own failure must not lose the jobs the first claim already holds.
          const limited = await claimLimitedJobs(core.pool, { ...params, limit: free - claimed.length }).catch((err: unknown) => {
            this.claimAnswerLost = true;
            core.log.warn({ err: firstLine(err) }, "claim of limited queues failed; retrying");
            return [];
          });
          claimed = claimed.concat(limited);
        }
        failures = 0;
      } catch (err) {
        failures++;
        if (limit > 0) this.claimAnswerLost = true;
        if (await this.statementFailed(err, completions)) break;
        await this.sleep(Math.min(core.config().poll_interval_ms, 100 * 2 ** Math.min(failures, 6)));
        continue;
      }
      // The next pass starts them (a stop that arrived meanwhile gives them back, uncounted).
      core.ready.add(claimed, sentAt, performance.now());
      this.control.claimed(claimed);
      if (free <= 0 || claimed.length >= limit) continue;
      // Fewer runnable jobs than asked for: wait for NOTIFY, a command's end or the next due job.
      this.starter.startReady();
      if (await this.shouldExitWhenIdle()) {
        this.stop("no runnable job left (--exit-when-idle)", false);
        continue;
      }
      await this.sleep(core.ready.untilNextExpiry(await this.idleWaitMs(), performance.now()));
    }
  }

  /**
   * The loop's statement failed. An outage or a passing failure: the successes it carried go back in
   * the batch for the next pass. Any other error would fail again the same way: the successes are
   * sent one by one, so a row that cannot be recorded keeps only itself back, and a schema that does
   * not match (a table or column missing) stops the worker at once. Returns true when the loop must end.
   */
  private async statementFailed(err: unknown, completions: QueuedCompletion[]): Promise<boolean> {
    const { core } = this;
    const message = firstLine(err);
    if (isRetryableError(err)) {
      core.log.warn(
        { err: message },
        isConnectionError(err) ? (completions.length > 0 ? "database unavailable while recording outcomes; retrying" : "database unavailable; claiming again soon") : "claim failed for a passing reason; retrying",
      );
      for (const c of core.batch.putBack(completions, core.options.outcomeRetryMs ?? OUTCOME_RETRY_MS)) {
        core.log.error({ job: c.attempt.jobId }, "giving up recording an outcome; the rescuer will retry the job");
      }
      return false;
    }
    if (isSchemaError(err)) {
      this.fatalError = `the database schema does not match this queuectl (${message}); run \`queuectl db status\``;
      core.log.error({ err: message }, this.fatalError);
      for (const c of completions) c.answer(GAVE_UP);
      this.stop("the database schema does not match", true);
      return true;
    }
    core.log.error({ err: message }, "claim statement failed (not an outage); recording the successes it carried one by one");
    for (const c of completions) {
      const one = await core.outcomes.withRetry(undefined, () =>
        completeAndClaimJobs(core.pool, { workerId: core.id, queues: [], limit: 0, leaseMs: core.config().lease_ms, completions: [c.attempt] }),
      );
      if (one === GAVE_UP) c.answer(GAVE_UP);
      else CompletionBatch.answer([c], one.completed);
    }
    return false;
  }

  /** How many jobs to hold claimed ahead of the free slots now (see CLAIM_AHEAD_MAX_COMMAND_MS). */
  private claimAheadTarget(): number {
    const { core } = this;
    if (core.stopping()) return 0;
    if (core.options.claimAhead !== undefined) return core.options.claimAhead;
    const recent = this.starter.recentCommandMs;
    if (recent === undefined || recent > CLAIM_AHEAD_MAX_COMMAND_MS) return 0;
    return Math.min(CLAIM_AHEAD_PER_SLOT * core.options.concurrency, CLAIM_AHEAD_MAX);
  }

  /** 0: send the statement now. Else how long to sleep first (a command's end or a NOTIFY wakes the loop sooner). */
  private msBeforeSending(free: number, ahead: number): number {
    const { core } = this;
    const now = performance.now();
    // Idle slots; or rows this worker holds without knowing it, which only the next statement's sweep gives back.
    if (free > 0 || this.claimAnswerLost) return 0;
    if (core.batch.size === 0) return core.ready.untilNextExpiry(core.config().poll_interval_ms, now);
    if (core.batch.size >= Math.max(1, ahead)) return 0;
    const held = core.batch.heldMs(now);
    return held >= COMPLETION_HOLD_MS ? 0 : core.ready.untilNextExpiry(Math.ceil(COMPLETION_HOLD_MS - held), now);
  }

  /**
   * Gives back the jobs claimed ahead that must not start: all of them while stopping, else those
   * older than READY_MAX_WAIT_MS. If that statement fails they stay this worker's in the database
   * but no longer in `ready`, so the next pass's releaseUnacknowledgedClaims gives them back.
   */
  private async releaseReadyJobs(): Promise<void> {
    const { core } = this;
    const stopping = core.stopping();
    const given = core.ready.takeExpired(performance.now(), core.config().lease_ms, stopping);
    if (given.length === 0) return;
    const reason = stopping ? "the worker is stopping" : `no slot came free within ${READY_MAX_WAIT_MS} ms`;
    if (!(await core.outcomes.giveBackUnrun(given, reason))) this.claimAnswerLost = true;
  }

  /** Runs between the loop's statements only: see releaseUnacknowledgedClaims for why that makes it safe. */
  async releaseUnacknowledgedClaims(): Promise<void> {
    const { core } = this;
    const heldJobIds = [...core.slots.jobIds(), ...core.outcomes.unrecorded, ...core.ready.claims().map((r) => r.job.id)];
    const released = await releaseUnacknowledgedClaims(core.pool, { workerId: core.id, heldJobIds });
    this.claimAnswerLost = false;
    if (released.length > 0) {
      core.log.warn({ jobs: released.map((r) => r.id) }, "gave back jobs claimed by a statement whose answer was lost; they run again without counting an attempt");
      await core.outcomes.afterRelease(released);
    }
  }

  /** Whether a claim's answer may have been lost (then the worker gives back what it does not know before it exits). */
  get mayHoldUnknownJobs(): boolean {
    return this.claimAnswerLost;
  }

  /** Re-reads whether a served queue is limited; a failure keeps the last answer (the claims re-check the table anyway). */
  async refreshQueueSettings(): Promise<void> {
    try {
      this.limitedQueues = await hasLimitedQueues(this.core.pool, this.core.options.queues);
    } catch {
      // Next heartbeat.
    }
  }

  /** Sleep until the next scheduled job or retry is due, at most poll_interval_ms. */
  private async idleWaitMs(): Promise<number> {
    const poll = this.core.config().poll_interval_ms;
    try {
      const next = await nextRunAt(this.core.pool, this.core.options.queues);
      if (!next) return poll;
      return Math.max(1, Math.min(poll, next.getTime() - Date.now() + 2));
    } catch {
      return poll;
    }
  }

  private async shouldExitWhenIdle(): Promise<boolean> {
    const { core } = this;
    if (!core.options.exitWhenIdle || core.slots.size > 0 || core.ready.size > 0) return false;
    try {
      return !(await hasWaitingJobs(core.pool, { queues: core.options.queues, withinMs: core.config().poll_interval_ms }));
    } catch {
      return false;
    }
  }
}
