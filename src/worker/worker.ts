/**
 * A worker process: the slot loop that claims jobs and starts their commands, and the rules for
 * stopping. Each other concern is a module of its own: jobs claimed ahead (ready-jobs.ts), successes
 * waiting for the next statement (completion-batch.ts), recording outcomes (outcome-recorder.ts), the
 * running commands (slots.ts, command-runner.ts), and the background duties (heartbeat, rescuer,
 * retention, scheduler, LISTEN).
 *
 * - graceful stop (SIGTERM, `worker stop`): claim nothing more, let running commands finish, exit;
 * - forced stop (a second SIGTERM, or the stop deadline): end running commands and release their jobs
 *   (pending again, the attempt not counted) so another worker runs them at once.
 *
 * Claiming ahead: while commands are short, the loop claims a few jobs more than it has free slots, so
 * a slot whose command ends starts the next one at once instead of waiting a round trip, and
 * successes are recorded in batches.
 */
import { EventEmitter } from "node:events";
import { hostname, constants as osConstants } from "node:os";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { firstLine, isConnectionError, isRetryableError, isSchemaError } from "../db/errors.js";
import { loadConfig, type QueueConfig } from "../queue/config.js";
import { claimLimitedJobs, completeAndClaimJobs, hasLimitedQueues, hasWaitingJobs, nextRunAt, type ClaimedJob } from "../queue/sql/claim.js";
import { releaseJobs, releaseUnacknowledgedClaims } from "../queue/sql/outcomes.js";
import { registerWorker, setWorkerState, type WorkerRegistration } from "../queue/sql/workers.js";
import { takeJobSignals } from "../queue/sql/signals.js";
import type { ControlMessage } from "../queue/sql/control-messages.js";
import { CommandRunner, commandHostsFor } from "./command-runner.js";
import { COMPLETION_HOLD_MS, CompletionBatch, GAVE_UP, type QueuedCompletion } from "./completion-batch.js";
import { HeartbeatService, type HeldJob } from "./heartbeat-service.js";
import { JobListener } from "./job-listener.js";
import type { Logger } from "./logger.js";
import { CANCELLED_ERROR, OUTCOME_RETRY_MS, OutcomeRecorder } from "./outcome-recorder.js";
import { OutputStreamer } from "./output-streamer.js";
import { READY_MAX_WAIT_MS, ReadyJobs, type ReadyJob } from "./ready-jobs.js";
import { RescuerService } from "./rescuer-service.js";
import { RetentionService } from "./retention-service.js";
import { SchedulerService } from "./scheduler-service.js";
import { Slots, type Slot } from "./slots.js";
import type { WorkerEvents } from "./worker-events.js";

export type { WorkerEvents } from "./worker-events.js";

export interface WorkerOptions {
  /** Queues to take jobs from; empty = all queues. */
  queues: string[];
  /** Jobs run at once by this process. */
  concurrency: number;
  /** Exit once nothing is running and no job is runnable or waiting for a retry. */
  exitWhenIdle?: boolean;
  /** After a graceful stop was asked, end running commands after this long (ms); 0 = wait for them. */
  stopTimeoutMs?: number;
  id?: string;
  /** How long recording an outcome retries through a database outage before leaving the job to the rescuer (ms). */
  outcomeRetryMs?: number;
  /**
   * Jobs to claim ahead of the free slots. Default: CLAIM_AHEAD_PER_SLOT per slot, at most CLAIM_AHEAD_MAX, while recent commands are
   * short (CLAIM_AHEAD_MAX_COMMAND_MS), none otherwise. 0 turns it off; tests set it to get it always.
   */
  claimAhead?: number;
}

export interface WorkerDeps {
  pool: pg.Pool;
  /** The database URL, for the dedicated LISTEN connection. */
  url: string;
  log: Logger;
}

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

/**
 * A command runs at most this share of its lease past the last statement that extended it (the claim,
 * then each heartbeat): then its command host kills it, well before the lease runs out in the
 * database and the rescuer may hand the job to another worker. Heartbeats come every third of a
 * lease, so two may fail before this happens.
 */
export const COMMAND_LEASE_SHARE = 0.8;

/**
 * How long a cancel or signal for a job this worker does not know yet is kept for the answer of the
 * claim that took it. Its claim committed before the message was sent, so the answer is on its way;
 * past this the message was about an older claim. The heartbeat finds any request anyway.
 */
const EARLY_CONTROL_MS = 10_000;

/** A held job as the heartbeat sees it: each entry carries its claim, so a report reaches only that claim. */
interface HeldClaim extends HeldJob {
  claim: ClaimedJob;
}

export class Worker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  private readonly slots = new Slots();
  private readonly ready = new ReadyJobs();
  private readonly batch = new CompletionBatch();
  private readonly outcomes: OutcomeRecorder;
  private config!: QueueConfig;
  private readonly heartbeat: HeartbeatService<HeldClaim>;
  private readonly rescuer: RescuerService;
  private readonly retention: RetentionService;
  private readonly output: OutputStreamer;
  /** Whether a queue this worker serves has a concurrency limit: then claimLimitedJobs runs too. Re-read on every heartbeat and on NOTIFY. */
  private limitedQueues = false;
  private readonly scheduler: SchedulerService;
  private readonly listener: JobListener;
  private readonly commands: CommandRunner;
  private stopping = false;
  private forced = false;
  private stopTimer: NodeJS.Timeout | undefined;
  private wakePending = false;
  private wakeResolve: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private readonly registration: WorkerRegistration;
  /** Each running slot's command-to-recorded promise; stopping waits for them all. */
  private readonly recordings = new Set<Promise<void>>();
  /** A claim failed without an answer: it may have committed, so the next pass first gives back what it took. */
  private claimAnswerLost = false;
  /** Moving average of recent commands' durations (ms), for claimAheadTarget; undefined before the first. */
  private recentCommandMs: number | undefined;
  /** Why the worker stopped on its own with an error (the schema does not match); undefined otherwise. */
  private fatalError: string | undefined;
  /**
   * Cancels and signals that arrived for jobs this worker does not know yet, by job id, with when they
   * arrived. The NOTIFY travels on the LISTEN connection and can overtake the answer of the claim that
   * took the job: it is kept until that answer arrives (EARLY_CONTROL_MS at most).
   */
  private readonly earlyControl = new Map<string, { kind: "cancel" | "signal"; at: number }>();

  constructor(
    private readonly deps: WorkerDeps,
    private readonly options: WorkerOptions,
  ) {
    super();
    this.id = options.id ?? `${hostname()}-${process.pid}-${randomBytes(2).toString("hex")}`;
    this.registration = {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      queues: options.queues,
      concurrency: options.concurrency,
    };
    const log = deps.log;
    this.outcomes = new OutcomeRecorder({
      pool: deps.pool,
      log,
      workerId: this.id,
      config: () => this.config,
      batch: this.batch,
      wake: () => this.wake(),
      events: this,
      outcomeRetryMs: options.outcomeRetryMs ?? OUTCOME_RETRY_MS,
    });
    this.heartbeat = new HeartbeatService({
      pool: deps.pool,
      log,
      registration: this.registration,
      config: () => this.config,
      running: () => this.heldClaims(),
      unrecorded: () => [...this.outcomes.unrecorded],
      onUnrecordedGone: (ids) => {
        for (const id of ids) this.outcomes.unrecorded.delete(id);
        this.wake();
      },
      onLeasesExtended: (held, sentAt) => this.leasesExtended(held, sentAt),
      onConfig: (c) => {
        this.config = c;
        void this.refreshQueueSettings();
      },
      onStopRequested: (deadline) => this.requestStop("worker stop", deadline),
      onLeaseLost: (held) => this.abandon(held.id, "no longer held (the lease was taken over by another worker)", held.claim),
      onCancelRequested: (held) => this.cancelHere(held.id),
      onSignals: () => this.deliverSignals(),
    });
    this.commands = new CommandRunner(commandHostsFor(options.concurrency));
    this.retention = new RetentionService({ pool: deps.pool, log, config: () => this.config });
    this.output = new OutputStreamer({ pool: deps.pool, log, limitBytes: () => this.config.output_limit_bytes });
    this.rescuer = new RescuerService({ pool: deps.pool, log, config: () => this.config, onRescued: () => this.wake() });
    this.scheduler = new SchedulerService({ pool: deps.pool, log, config: () => this.config });
    this.listener = new JobListener({
      url: deps.url,
      log,
      onJobs: (queue) => {
        if (this.options.queues.length === 0 || this.options.queues.includes(queue)) this.wake();
      },
      onControl: (msg) => this.onControl(msg),
      onReconnect: () => this.wake(),
    });
  }

  /** Registers, starts the duties and the slot loop; resolves once the worker is taking jobs. */
  async start(): Promise<void> {
    this.config = await loadConfig(this.deps.pool);
    await registerWorker(this.deps.pool, this.registration);
    await this.refreshQueueSettings();
    await this.listener.start();
    this.heartbeat.start();
    this.rescuer.start();
    this.retention.start();
    this.scheduler.start();
    this.scheduler.trigger();
    this.deps.log.info({ worker: this.id, queues: this.options.queues, concurrency: this.options.concurrency, commands: this.commands.describe() }, "worker started");
    this.loopDone = this.loop();
  }

  /** Resolves when the worker has stopped and deregistered. */
  async finished(): Promise<void> {
    await this.loopDone;
  }

  /** Why the worker stopped on its own because it cannot work (the schema does not match), if it did. */
  get failure(): string | undefined {
    return this.fatalError;
  }

  get runningJobIds(): string[] {
    return this.slots.jobIds();
  }

  /** Graceful stop: no new jobs; running ones finish. `deadline` forces the stop at that time. */
  requestStop(reason: string, deadline: Date | null = null): void {
    const timeoutMs = deadline ? Math.max(0, deadline.getTime() - Date.now()) : this.options.stopTimeoutMs || 0;
    if (!this.stopping) {
      this.stopping = true;
      this.deps.log.info({ reason, running: this.slots.size }, "stopping: finishing running jobs, taking no new ones");
      this.emit("stopping", { reason });
      void setWorkerState(this.deps.pool, this.id, "stopping").catch(() => {});
      this.wake();
    }
    if (timeoutMs > 0 && !this.stopTimer && !this.forced) {
      this.stopTimer = setTimeout(() => this.forceStop("stop timeout reached"), timeoutMs);
      this.stopTimer.unref();
    } else if (deadline && timeoutMs === 0) {
      this.forceStop("stop deadline reached");
    }
  }

  /** Forced stop: end running commands now and release their jobs for another worker. */
  forceStop(reason: string): void {
    if (!this.stopping) this.requestStop(reason);
    if (this.forced) return;
    this.forced = true;
    this.deps.log.warn({ reason, running: this.slots.size }, "forced stop: ending running commands and releasing their jobs");
    for (const slot of this.slots.values()) {
      // An ended command's outcome is already being recorded; its process group id may belong to someone else now.
      if (slot.exited) continue;
      slot.release = true;
      slot.run.terminate(`worker shutdown (${reason})`);
    }
  }

  private onControl(msg: ControlMessage): void {
    switch (msg.kind) {
      case "stop":
        if (msg.worker === this.id) void this.heartbeat.runOnce().catch(() => {});
        return;
      case "cancel":
        if (msg.worker !== this.id) return;
        if (!this.knows(msg.job)) this.earlyControl.set(msg.job, { kind: "cancel", at: performance.now() });
        else this.cancelHere(msg.job);
        return;
      case "signal":
        if (msg.worker !== this.id) return;
        if (!this.knows(msg.job)) this.earlyControl.set(msg.job, { kind: "signal", at: performance.now() });
        this.ready.markSignalled(msg.job);
        void this.deliverSignals().catch(() => {});
        return;
      case "queue":
        void this.refreshQueueSettings().then(() => this.wake());
        return;
      case "schedules":
        this.scheduler.trigger();
        return;
    }
  }

  private wake(): void {
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

  /**
   * The slot loop. Each pass sends one statement that records the successes queued since the last
   * pass and claims jobs for the free slots plus the claim-ahead buffer (completeAndClaimJobs). A
   * command's end starts the next job claimed ahead at once and wakes the loop, which sends its
   * statement right away when a slot is idle, else when enough successes are queued or the oldest has
   * waited COMPLETION_HOLD_MS. While stopping it claims nothing, gives back what it claimed ahead, and
   * keeps recording successes until the last slot is done.
   */
  private async loop(): Promise<void> {
    let failures = 0;
    for (;;) {
      await this.releaseReadyJobs();
      this.startReadyJobs();
      if (this.stopping && this.slots.size === 0 && this.batch.size === 0 && this.ready.size === 0) break;
      const free = this.stopping ? 0 : this.freeSlots();
      const ahead = this.claimAheadTarget();
      const wait = this.msBeforeSending(free, ahead);
      if (wait > 0) {
        await this.sleep(wait);
        continue;
      }
      const limit = Math.max(0, free + ahead - this.ready.size);
      const completions = this.batch.take();
      const sentAt = performance.now();
      let claimed: ClaimedJob[];
      try {
        if (this.claimAnswerLost) await this.releaseUnacknowledgedClaims();
        const params = { workerId: this.id, queues: this.options.queues, limit, leaseMs: this.config.lease_ms };
        const result = await completeAndClaimJobs(this.deps.pool, { ...params, completions: completions.map((c) => c.attempt) });
        CompletionBatch.answer(completions, result.completed);
        claimed = result.claimed;
        if (this.limitedQueues && free > 0 && claimed.length < free) {
          // Its own failure must not lose the jobs the first claim already holds.
          const limited = await claimLimitedJobs(this.deps.pool, { ...params, limit: free - claimed.length }).catch((err: unknown) => {
            this.claimAnswerLost = true;
            this.deps.log.warn({ err: firstLine(err) }, "claim of limited queues failed; retrying");
            return [];
          });
          claimed = claimed.concat(limited);
        }
        failures = 0;
      } catch (err) {
        failures++;
        if (limit > 0) this.claimAnswerLost = true;
        if (await this.statementFailed(err, completions)) break;
        await this.sleep(Math.min(this.config.poll_interval_ms, 100 * 2 ** Math.min(failures, 6)));
        continue;
      }
      // The next pass starts them (a stop that arrived meanwhile gives them back, uncounted).
      this.ready.add(claimed, sentAt, performance.now());
      this.applyEarlyControl(claimed);
      if (free <= 0 || claimed.length >= limit) continue;
      // Fewer runnable jobs than asked for: wait for NOTIFY, a command's end or the next due job.
      this.startReadyJobs();
      if (await this.shouldExitWhenIdle()) {
        this.requestStop("no runnable job left (--exit-when-idle)");
        continue;
      }
      await this.sleep(this.ready.untilNextExpiry(await this.idleWaitMs(), performance.now()));
    }
    await this.drain();
  }

  /**
   * The slot loop's statement failed. An outage or a passing failure: the successes it carried go back
   * in the batch for the next pass. Any other error would fail again the same way: the successes are
   * sent one by one, so a row that cannot be recorded keeps only itself back, and a schema that does
   * not match (a table or column missing) stops the worker at once. Returns true when the worker must stop.
   */
  private async statementFailed(err: unknown, completions: QueuedCompletion[]): Promise<boolean> {
    const message = firstLine(err);
    if (isRetryableError(err)) {
      this.deps.log.warn(
        { err: message },
        isConnectionError(err) ? (completions.length > 0 ? "database unavailable while recording outcomes; retrying" : "database unavailable; claiming again soon") : "claim failed for a passing reason; retrying",
      );
      for (const c of this.batch.putBack(completions, this.options.outcomeRetryMs ?? OUTCOME_RETRY_MS)) {
        this.deps.log.error({ job: c.attempt.jobId }, "giving up recording an outcome; the rescuer will retry the job");
      }
      return false;
    }
    if (isSchemaError(err)) {
      this.fatalError = `the database schema does not match this queuectl (${message}); run \`queuectl db status\``;
      this.deps.log.error({ err: message }, this.fatalError);
      for (const c of completions) c.answer(GAVE_UP);
      this.forceStop("the database schema does not match");
      return true;
    }
    this.deps.log.error({ err: message }, "claim statement failed (not an outage); recording the successes it carried one by one");
    for (const c of completions) {
      const one = await this.outcomes.withRetry(undefined, () =>
        completeAndClaimJobs(this.deps.pool, { workerId: this.id, queues: [], limit: 0, leaseMs: this.config.lease_ms, completions: [c.attempt] }),
      );
      if (one === GAVE_UP) c.answer(GAVE_UP);
      else CompletionBatch.answer([c], one.completed);
    }
    return false;
  }

  /** Whether a job is this worker's as far as it knows: claimed ahead or running. */
  private knows(jobId: string): boolean {
    return this.ready.has(jobId) || this.slots.get(jobId) !== undefined;
  }

  /** Cancels and signals that overtook the answer of the claim that took their jobs (earlyControl). */
  private applyEarlyControl(claimed: readonly ClaimedJob[]): void {
    if (this.earlyControl.size === 0) return;
    for (const job of claimed) {
      const early = this.earlyControl.get(job.id);
      if (!early) continue;
      this.earlyControl.delete(job.id);
      if (early.kind === "cancel") this.cancelHere(job.id);
      else this.ready.markSignalled(job.id);
    }
    const stale = performance.now() - EARLY_CONTROL_MS;
    for (const [id, e] of this.earlyControl) if (e.at < stale) this.earlyControl.delete(id);
  }

  /** How many jobs to hold claimed ahead of the free slots now (see CLAIM_AHEAD_MAX_COMMAND_MS). */
  private claimAheadTarget(): number {
    if (this.stopping) return 0;
    if (this.options.claimAhead !== undefined) return this.options.claimAhead;
    if (this.recentCommandMs === undefined || this.recentCommandMs > CLAIM_AHEAD_MAX_COMMAND_MS) return 0;
    return Math.min(CLAIM_AHEAD_PER_SLOT * this.options.concurrency, CLAIM_AHEAD_MAX);
  }

  /** Slots free for a new command: busy ones (slots.ts) and jobs whose outcome could not be recorded do not count. */
  private freeSlots(): number {
    return this.options.concurrency - this.slots.busy() - this.outcomes.unrecorded.size;
  }

  /** 0: send the statement now. Else how long to sleep first (a command's end or a NOTIFY wakes the loop sooner). */
  private msBeforeSending(free: number, ahead: number): number {
    const now = performance.now();
    // Idle slots; or rows this worker holds without knowing it, which only the next statement's sweep gives back.
    if (free > 0 || this.claimAnswerLost) return 0;
    if (this.batch.size === 0) return this.ready.untilNextExpiry(this.config.poll_interval_ms, now);
    if (this.batch.size >= Math.max(1, ahead)) return 0;
    const held = this.batch.heldMs(now);
    return held >= COMPLETION_HOLD_MS ? 0 : this.ready.untilNextExpiry(Math.ceil(COMPLETION_HOLD_MS - held), now);
  }

  /** The jobs this worker holds, for the heartbeat: running commands (unless dropped) and jobs claimed ahead. */
  private heldClaims(): HeldClaim[] {
    const claims = [...this.slots.values()].filter((s) => !s.discardReason).map((s) => s.job);
    for (const r of this.ready.claims()) claims.push(r.job);
    return claims.map((claim) => ({ id: claim.id, attempt: claim.attempt, claim }));
  }

  /** A heartbeat sent at `sentAt` extended these leases: the commands' deadlines move on (COMMAND_LEASE_SHARE). */
  private leasesExtended(held: ReadonlySet<string>, sentAt: number): void {
    this.ready.leasesExtended(held, sentAt);
    const leaseMs = this.config.lease_ms;
    for (const slot of this.slots.values()) {
      if (!slot.exited && held.has(slot.job.id)) slot.run.renewLease(sentAt + leaseMs * COMMAND_LEASE_SHARE - performance.now());
    }
  }

  /** Starts claimed jobs in the free slots, oldest first; those too old to start are left for releaseReadyJobs. */
  private startReadyJobs(): void {
    if (this.stopping || this.ready.size === 0) return;
    for (const { ready, signalled } of this.ready.takeStartable(this.freeSlots(), performance.now(), this.config.lease_ms)) {
      this.startJob(ready);
      if (signalled) void this.deliverSignals().catch(() => {});
    }
  }

  /**
   * Gives back the jobs claimed ahead that must not start: all of them while stopping, else those
   * older than READY_MAX_WAIT_MS. If that statement fails they stay this worker's in the database
   * but no longer in `ready`, so the next pass's releaseUnacknowledgedClaims gives them back.
   */
  private async releaseReadyJobs(): Promise<void> {
    const given = this.ready.takeExpired(performance.now(), this.config.lease_ms, this.stopping);
    if (given.length > 0) await this.giveBack(given, this.stopping ? "the worker is stopping" : `no slot came free within ${READY_MAX_WAIT_MS} ms`);
  }

  /** Gives jobs claimed ahead back unrun (pending again, or cancelled when a cancel waits for them). */
  private async giveBack(given: readonly ReadyJob[], reason: string): Promise<void> {
    try {
      const released = await releaseJobs(this.deps.pool, {
        workerId: this.id,
        reason,
        ran: false,
        attempts: given.map((r) => ({ jobId: r.job.id, attempt: r.job.attempt, output: "" })),
      });
      if (released.length > 0) this.deps.log.info({ jobs: released.map((r) => r.id), reason }, "gave back jobs claimed ahead without running them");
      await this.outcomes.afterRelease(released);
      // Cancelled meanwhile, or taken by the rescuer after a pause longer than the lease (SIGSTOP, a cut-off network).
      const back = new Set(released.map((r) => r.id));
      const lost = given.filter((r) => !back.has(r.job.id)).map((r) => r.job.id);
      if (lost.length > 0) this.deps.log.warn({ jobs: lost }, "not running jobs claimed ahead: this worker no longer holds them");
    } catch (err) {
      this.claimAnswerLost = true;
      this.deps.log.warn({ err: firstLine(err) }, "could not give back jobs claimed ahead; retrying with the next statement");
    }
  }

  /** Runs between the slot loop's statements only: see releaseUnacknowledgedClaims for why that makes it safe. */
  private async releaseUnacknowledgedClaims(): Promise<void> {
    const heldJobIds = [...this.slots.jobIds(), ...this.outcomes.unrecorded, ...this.ready.claims().map((r) => r.job.id)];
    const released = await releaseUnacknowledgedClaims(this.deps.pool, { workerId: this.id, heldJobIds });
    this.claimAnswerLost = false;
    if (released.length > 0) {
      this.deps.log.warn({ jobs: released.map((r) => r.id) }, "gave back jobs claimed by a statement whose answer was lost; they run again without counting an attempt");
      await this.outcomes.afterRelease(released);
    }
  }

  /** Re-reads whether a served queue is limited; a failure keeps the last answer (the claims re-check the table anyway). */
  private async refreshQueueSettings(): Promise<void> {
    try {
      this.limitedQueues = await hasLimitedQueues(this.deps.pool, this.options.queues);
    } catch {
      // Next heartbeat.
    }
  }

  /** Sends the signals `kill` asked for to the process groups of this worker's running jobs. */
  private async deliverSignals(): Promise<void> {
    if (this.slots.size === 0) return;
    const signals = await takeJobSignals(this.deps.pool, { workerId: this.id, jobIds: this.slots.jobIds() });
    for (const s of signals) {
      const slot = this.slots.get(s.id);
      if (!slot || slot.job.attempt !== s.attempt) continue;
      if (!(s.signal in osConstants.signals)) {
        this.deps.log.warn({ job: s.id, signal: s.signal }, "not sending a signal this system does not know (kill)");
        continue;
      }
      this.deps.log.info({ job: s.id, signal: s.signal }, "sending a signal to the command (kill)");
      slot.run.signal(s.signal as NodeJS.Signals);
    }
  }

  /** Sleep until the next scheduled job or retry is due, at most poll_interval_ms. */
  private async idleWaitMs(): Promise<number> {
    const poll = this.config.poll_interval_ms;
    try {
      const next = await nextRunAt(this.deps.pool, this.options.queues);
      if (!next) return poll;
      return Math.max(1, Math.min(poll, next.getTime() - Date.now() + 2));
    } catch {
      return poll;
    }
  }

  private async shouldExitWhenIdle(): Promise<boolean> {
    if (!this.options.exitWhenIdle || this.slots.size > 0 || this.ready.size > 0) return false;
    try {
      return !(await hasWaitingJobs(this.deps.pool, { queues: this.options.queues, withinMs: this.config.poll_interval_ms }));
    } catch {
      return false;
    }
  }

  private startJob(ready: ReadyJob): void {
    const { job } = ready;
    const timeoutMs = job.timeout_ms ?? (this.config.job_timeout_ms > 0 ? this.config.job_timeout_ms : null);
    const run = this.commands.run({
      command: job.command,
      timeoutMs,
      outputLimitBytes: this.config.output_limit_bytes,
      onOutput: this.output.open(job.id, job.attempt),
      cwd: job.cwd ?? undefined,
      env: { ...job.env, QUEUECTL_JOB_ID: job.id, QUEUECTL_ATTEMPT: String(job.attempt), QUEUECTL_QUEUE: job.queue, QUEUECTL_WORKER_ID: this.id },
      leaseMs: ready.leaseFrom + this.config.lease_ms * COMMAND_LEASE_SHARE - performance.now(),
    });
    const slot: Slot = { job, run };
    this.slots.add(slot);
    this.outcomes.unrecorded.delete(job.id);
    this.emit("job:start", { id: job.id, attempt: job.attempt });
    const recorded = run.result
      .then((result) => {
        slot.exited = true;
        this.noteCommandDuration(result.durationMs);
        // The slot is free now, while its outcome is being recorded: the next job claimed ahead starts at once.
        this.startReadyJobs();
        this.wake();
        return this.outcomes.record(slot, result);
      })
      .catch((err: unknown) => this.deps.log.error({ job: job.id, err: firstLine(err) }, "could not record the outcome"))
      .finally(() => {
        this.output.close(job.id);
        this.slots.remove(slot);
        this.recordings.delete(recorded);
        this.wake();
      });
    this.recordings.add(recorded);
  }

  private noteCommandDuration(ms: number): void {
    this.recentCommandMs = this.recentCommandMs === undefined ? ms : 0.8 * this.recentCommandMs + 0.2 * ms;
  }

  /**
   * The lease is gone: stop the command; whatever it produces is not ours to record. A job claimed
   * ahead is just dropped (someone else owns its row now). `claim`, when given, is the claim the
   * report is about: a later claim of the same job by this worker is left alone.
   */
  private abandon(jobId: string, why: string, claim?: ClaimedJob): void {
    const dropped = this.ready.remove(jobId, claim);
    if (dropped) {
      this.deps.log.warn({ job: jobId, attempt: dropped.job.attempt, why }, "dropping a job claimed ahead: this worker no longer holds it");
      this.emit("job:discarded", { id: jobId, attempt: dropped.job.attempt, why });
      return;
    }
    const slot = this.slots.get(jobId);
    if (!slot || slot.discardReason || (claim !== undefined && slot.job !== claim)) return;
    slot.discardReason = why;
    if (slot.exited) return;
    this.deps.log.warn({ job: jobId, attempt: slot.job.attempt, why }, "stopping a command whose job this worker no longer holds");
    slot.run.terminate(why);
  }

  /**
   * An operator cancelled a job this worker holds: a job claimed ahead goes back unrun (and ends
   * cancelled); a running command's process group is ended, and the attempt is recorded as cancelled
   * once nothing of it is left. A command that has already ended keeps its own outcome.
   */
  private cancelHere(jobId: string): void {
    const waiting = this.ready.remove(jobId);
    if (waiting) {
      void this.giveBack([waiting], CANCELLED_ERROR);
      return;
    }
    const slot = this.slots.get(jobId);
    if (!slot || slot.exited || slot.cancelled || slot.discardReason) return;
    slot.cancelled = true;
    this.deps.log.info({ job: jobId, attempt: slot.job.attempt }, "cancelled by an operator: ending the command");
    slot.run.terminate(CANCELLED_ERROR);
  }

  private async drain(): Promise<void> {
    while (this.recordings.size > 0) await Promise.allSettled([...this.recordings]);
    if (this.claimAnswerLost) await this.outcomes.withRetry(undefined, () => this.releaseUnacknowledgedClaims());
    clearTimeout(this.stopTimer);
    await this.heartbeat.stop();
    await this.rescuer.stop();
    await this.retention.stop();
    await this.output.stop();
    await this.scheduler.stop();
    await this.listener.stop();
    await this.commands.close();
    await this.outcomes.withRetry(undefined, () => setWorkerState(this.deps.pool, this.id, "stopped"));
    this.deps.log.info({ worker: this.id }, "worker stopped");
    this.emit("stopped");
  }
}
