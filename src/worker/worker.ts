/**
 * A worker process: fills up to `concurrency` slots with claimed jobs, runs each command, and records
 * the outcome through the fenced statements of queue/sql/. Background duties (heartbeat, rescuer)
 * and the LISTEN connection are separate pieces; this file is the slot loop and the shutdown rules:
 *
 * - graceful stop (SIGTERM, `worker stop`): claim nothing more, let running commands finish, exit;
 * - forced stop (a second SIGTERM, or the stop deadline): end running commands and release their jobs
 *   (pending again, the attempt not counted) so another worker runs them at once.
 *
 * Claiming ahead: while commands are short, the loop claims a few jobs more than it has free slots and
 * keeps them in `ready`, so a slot whose command ends starts the next one at once instead of waiting a
 * round trip, and successes are recorded in batches. A job claimed ahead is held like a running one
 * (leased, in the heartbeat) but its command has not started: if no slot takes it within
 * READY_MAX_WAIT_MS, or the worker stops, it goes back uncounted for any worker to run.
 */
import { EventEmitter } from "node:events";
import { hostname, constants as osConstants } from "node:os";
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import type pg from "pg";
import { loadConfig, type QueueConfig } from "../queue/config.js";
import { claimLimitedJobs, completeAndClaimJobs, hasLimitedQueues, nextRunAt, type ClaimedJob, type SuccessfulAttempt, type CompletedJob } from "../queue/sql/claim.js";
import { failJob, releaseJobs, releaseUnacknowledgedClaims, saveAttemptOutput } from "../queue/sql/outcomes.js";
import { registerWorker, setWorkerState, type WorkerRegistration } from "../queue/sql/workers.js";
import { takeJobSignals } from "../queue/sql/signals.js";
import { settleFinishedJobs } from "../queue/dependencies.js";
import { HeartbeatService, type HeldJob } from "./heartbeat-service.js";
import { JobListener } from "./job-listener.js";
import type { Logger } from "./logger.js";
import { RescuerService } from "./rescuer-service.js";
import { OutputStreamer } from "./output-streamer.js";
import { RetentionService } from "./retention-service.js";
import { SchedulerService } from "./scheduler-service.js";
import { CommandRunner, commandHostsFor } from "./command-runner.js";
import { describeFailure, type CommandResult, type RunningCommand } from "./run-command.js";

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

/** Events for logs, tests and the dashboard: subscribe instead of scraping. */
export interface WorkerEvents {
  "job:start": [{ id: string; attempt: number }];
  "job:complete": [{ id: string; attempt: number; durationMs: number }];
  "job:fail": [{ id: string; attempt: number; error: string; state: "failed" | "dead" }];
  "job:discarded": [{ id: string; attempt: number; why: string }];
  "job:released": [{ id: string; attempt: number }];
  stopping: [{ reason: string }];
  stopped: [];
}

interface Slot {
  job: ClaimedJob;
  run: RunningCommand;
  /** The command has ended; the slot's outcome may still be on its way to the database. */
  exited?: boolean;
  /** Set when the lease was lost or the job was released: the outcome is not ours to record. */
  discardReason?: string;
  /** Forced shutdown ended it: give the job back instead of failing it. */
  release?: boolean;
}

/** How long an outcome keeps retrying through a database outage before leaving the job to the rescuer. */
const OUTCOME_RETRY_MS = 120_000;

/**
 * Jobs claimed ahead of the free slots: two per slot, at most 8. With 4 slots of `true`, 8 ahead and
 * a 20 ms hold measured best (README, Benchmarks: 4 ahead and 10 ms were a little behind).
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
 * A job claimed ahead that no slot took within this long goes back (releaseJobs). Far shorter than the
 * shortest lease (500 ms), so a worker frozen or cut off never starts a job whose lease it may have
 * lost: after such a pause every job in `ready` is this old.
 */
const READY_MAX_WAIT_MS = 100;

/**
 * While no slot is idle, a success waits up to this long (or for as many companions as jobs claimed
 * ahead) before its statement goes out: fewer, larger statements. A slot falling idle sends at once.
 */
const COMPLETION_HOLD_MS = 20;

/** What withRetry returns when the outage outlasted OUTCOME_RETRY_MS: distinct from a statement's own null (the fence refused). */
const GAVE_UP = Symbol("gave up");

/** A success waiting for the slot loop's next statement (completeAndClaimJobs) to record it. */
interface QueuedCompletion {
  attempt: SuccessfulAttempt;
  /** performance.now() when it was queued. */
  queuedAt: number;
  /** The fence's answer: accepted (with its dependents), refused (null), or given up after an outage. */
  settle: (outcome: CompletedJob | null | typeof GAVE_UP) => void;
}

/** What the heartbeat extends: a claim, running or about to start. */
interface HeldClaim extends HeldJob {
  claim: ClaimedJob;
}

/** A claimed job whose command has not started yet; times are performance.now(). */
interface ReadyJob {
  job: ClaimedJob;
  /** Before its claim was sent: the lease ends lease_ms after this at the earliest. */
  sentAt: number;
  /** When the claim's answer arrived: READY_MAX_WAIT_MS counts from here. */
  arrivedAt: number;
}

export class Worker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  private readonly slots = new Map<string, Slot>();
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
  private readonly completions = new Set<Promise<void>>();
  /** Successes the slot loop records with its next claim (one statement for both). */
  private queuedCompletions: QueuedCompletion[] = [];
  /** A claim failed without an answer: it may have committed, so the next pass first gives back what it took. */
  private claimAnswerLost = false;
  /**
   * Jobs whose command ran but whose outcome was given up after an outage. Their rows still say
   * processing under this worker, like a lost claim's; they must go to the rescuer (which counts the
   * attempt), never to releaseUnacknowledgedClaims (which would run them again uncounted).
   */
  private readonly unrecordedJobIds = new Set<string>();
  /** Jobs claimed ahead, in claim order: held by this worker, their commands not started yet. */
  private ready: ReadyJob[] = [];
  /** Jobs in `ready` that `kill` signalled: their signal goes out once the command has started. */
  private readonly signalledWhileReady = new Set<string>();
  /** Moving average of recent commands' durations (ms), for claimAheadTarget; undefined before the first. */
  private recentCommandMs: number | undefined;

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
    this.heartbeat = new HeartbeatService({
      pool: deps.pool,
      log,
      registration: this.registration,
      config: () => this.config,
      // Each entry carries its claim, so a lost lease reaches only that claim: a job given back
      // (ran: false, attempts restored) and claimed again has the same (id, attempt).
      running: () =>
        [...[...this.slots.values()].filter((s) => !s.discardReason).map((s) => s.job), ...this.ready.map((r) => r.job)].map((claim) => ({
          id: claim.id,
          attempt: claim.attempts,
          claim,
        })),
      onConfig: (c) => {
        this.config = c;
        void this.refreshQueueSettings();
      },
      onStopRequested: (deadline) => this.requestStop("worker stop", deadline),
      onLeaseLost: (held) => this.abandon(held.id, "no longer held (cancelled, or the lease was taken over by another worker)", held.claim),
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
      onControl: (msg) => {
        if (msg.stop === this.id || msg.stop === "*") void this.heartbeat.runOnce().catch(() => {});
        if (typeof msg.cancel === "string" && msg.worker === this.id) this.abandon(msg.cancel, "cancelled by an operator");
        if (typeof msg.signal === "string" && msg.worker === this.id) {
          if (this.ready.some((r) => r.job.id === msg.signal)) this.signalledWhileReady.add(msg.signal);
          void this.deliverSignals();
        }
        if (typeof msg.queues === "string") void this.refreshQueueSettings().then(() => this.wake());
        if (msg.schedules === true) this.scheduler.trigger();
      },
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

  get runningJobIds(): string[] {
    return [...this.slots.keys()];
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
      if (this.stopping && this.slots.size === 0 && this.queuedCompletions.length === 0 && this.ready.length === 0) break;
      const free = this.stopping ? 0 : this.options.concurrency - this.commandsRunning();
      const ahead = this.claimAheadTarget();
      const wait = this.msBeforeSending(free, ahead);
      if (wait > 0) {
        await this.sleep(wait);
        continue;
      }
      const limit = Math.max(0, free + ahead - this.ready.length);
      const completions = this.queuedCompletions;
      this.queuedCompletions = [];
      const sentAt = performance.now();
      let claimed: ClaimedJob[];
      try {
        if (this.claimAnswerLost) await this.releaseUnacknowledgedClaims();
        const params = { workerId: this.id, queues: this.options.queues, limit, leaseMs: this.config.lease_ms };
        const result = await completeAndClaimJobs(this.deps.pool, { ...params, completions: completions.map((c) => c.attempt) });
        for (const c of completions) c.settle(result.completed.get(c.attempt.jobId) ?? null);
        claimed = result.claimed;
        if (this.limitedQueues && free > 0 && claimed.length < free) {
          // Its own failure must not lose the jobs the first claim already holds.
          const limited = await claimLimitedJobs(this.deps.pool, { ...params, limit: free - claimed.length }).catch((err: unknown) => {
            this.claimAnswerLost = true;
            this.deps.log.warn({ err: (err as Error).message }, "claim of limited queues failed; retrying");
            return [];
          });
          claimed = claimed.concat(limited);
        }
        failures = 0;
      } catch (err) {
        failures++;
        if (limit > 0) this.claimAnswerLost = true;
        this.deps.log.warn({ err: (err as Error).message }, completions.length > 0 ? "database unavailable while recording outcomes; retrying" : "claim failed; retrying");
        this.requeueCompletions(completions);
        await this.sleep(Math.min(this.config.poll_interval_ms, 100 * 2 ** Math.min(failures, 6)));
        continue;
      }
      // The next pass starts them (a stop that arrived meanwhile gives them back, uncounted).
      const arrivedAt = performance.now();
      for (const job of claimed) this.ready.push({ job, sentAt, arrivedAt });
      if (free <= 0 || claimed.length >= limit) continue;
      // Fewer runnable jobs than asked for: wait for NOTIFY, a command's end or the next due job.
      this.startReadyJobs();
      if (await this.shouldExitWhenIdle()) {
        this.requestStop("no runnable job left (--exit-when-idle)");
        continue;
      }
      await this.sleep(this.untilReadyJobExpires(await this.idleWaitMs()));
    }
    await this.drain();
  }

  /** How many jobs to hold claimed ahead of the free slots now (see CLAIM_AHEAD_MAX_COMMAND_MS). */
  private claimAheadTarget(): number {
    if (this.stopping) return 0;
    if (this.options.claimAhead !== undefined) return this.options.claimAhead;
    if (this.recentCommandMs === undefined || this.recentCommandMs > CLAIM_AHEAD_MAX_COMMAND_MS) return 0;
    return Math.min(CLAIM_AHEAD_PER_SLOT * this.options.concurrency, CLAIM_AHEAD_MAX);
  }

  /** 0: send the statement now. Else how long to sleep first (a command's end or a NOTIFY wakes the loop sooner). */
  private msBeforeSending(free: number, ahead: number): number {
    // Idle slots; or rows this worker holds without knowing it, which only the next statement's sweep gives back.
    if (free > 0 || this.claimAnswerLost) return 0;
    const queued = this.queuedCompletions;
    if (queued.length === 0) return this.untilReadyJobExpires(this.config.poll_interval_ms);
    if (queued.length >= Math.max(1, ahead)) return 0;
    const held = performance.now() - queued[0]!.queuedAt;
    return held >= COMPLETION_HOLD_MS ? 0 : this.untilReadyJobExpires(Math.ceil(COMPLETION_HOLD_MS - held));
  }

  /** `ms`, shortened so the loop wakes when the oldest job claimed ahead is due to go back. */
  private untilReadyJobExpires(ms: number): number {
    const oldest = this.ready[0];
    if (!oldest) return ms;
    return Math.max(1, Math.min(ms, Math.ceil(oldest.arrivedAt + READY_MAX_WAIT_MS - performance.now()) + 1));
  }

  /**
   * Too old to start: no slot took it within READY_MAX_WAIT_MS of its claim's answer, or half its
   * lease may be gone (a claim that took that long to answer). A worker paused past its lease (SIGSTOP,
   * a cut-off network) finds every job it had claimed in this state when it resumes.
   */
  private tooOldToStart(r: ReadyJob, now: number): boolean {
    return now - r.arrivedAt > READY_MAX_WAIT_MS || now - r.sentAt > this.config.lease_ms / 2;
  }

  /** Starts claimed jobs in the free slots, oldest first; those too old to start are left for releaseReadyJobs. */
  private startReadyJobs(): void {
    if (this.stopping || this.ready.length === 0) return;
    const now = performance.now();
    for (let free = this.options.concurrency - this.commandsRunning(); free > 0 && this.ready.length > 0; free--) {
      const next = this.ready[0]!;
      if (this.tooOldToStart(next, now)) return;
      this.ready.shift();
      this.startJob(next.job);
      if (this.signalledWhileReady.delete(next.job.id)) void this.deliverSignals().catch(() => {});
    }
  }

  /**
   * Gives back the jobs claimed ahead that must not start: all of them while stopping, else those
   * older than READY_MAX_WAIT_MS. If that statement fails they stay this worker's in the database
   * but no longer in `ready`, so the next pass's releaseUnacknowledgedClaims gives them back.
   */
  private async releaseReadyJobs(): Promise<void> {
    if (this.ready.length === 0) return;
    const now = performance.now();
    const given = this.stopping ? this.ready : this.ready.filter((r) => this.tooOldToStart(r, now));
    if (given.length === 0) return;
    this.ready = this.ready.filter((r) => !given.includes(r));
    for (const r of given) this.signalledWhileReady.delete(r.job.id);
    const reason = this.stopping ? "the worker is stopping" : `no slot came free within ${READY_MAX_WAIT_MS} ms`;
    try {
      const released = await releaseJobs(this.deps.pool, {
        workerId: this.id,
        reason,
        ran: false,
        attempts: given.map((r) => ({ jobId: r.job.id, attempt: r.job.attempts, output: "" })),
      });
      if (released.length > 0) this.deps.log.info({ jobs: released, reason }, "gave back jobs claimed ahead without running them");
      const back = new Set(released);
      for (const r of given) if (back.has(r.job.id)) this.emit("job:released", { id: r.job.id, attempt: r.job.attempts });
      // Cancelled meanwhile, or taken by the rescuer after a pause longer than the lease (SIGSTOP, a cut-off network).
      const lost = given.filter((r) => !back.has(r.job.id)).map((r) => r.job.id);
      if (lost.length > 0) this.deps.log.warn({ jobs: lost }, "not running jobs claimed ahead: this worker no longer holds them");
    } catch (err) {
      this.claimAnswerLost = true;
      this.deps.log.warn({ err: (err as Error).message }, "could not give back jobs claimed ahead; retrying with the next statement");
    }
  }

  /** Runs between the slot loop's statements only: see releaseUnacknowledgedClaims for why that makes it safe. */
  private async releaseUnacknowledgedClaims(): Promise<void> {
    const heldJobIds = [...this.slots.keys(), ...this.unrecordedJobIds, ...this.ready.map((r) => r.job.id)];
    const released = await releaseUnacknowledgedClaims(this.deps.pool, { workerId: this.id, heldJobIds });
    this.claimAnswerLost = false;
    if (released.length > 0) this.deps.log.warn({ jobs: released }, "gave back jobs claimed by a statement whose answer was lost; they run again without counting an attempt");
  }

  /** Commands running now: a slot whose command has ended no longer counts, even before its outcome is recorded. */
  private commandsRunning(): number {
    let n = 0;
    for (const slot of this.slots.values()) if (!slot.exited) n++;
    return n;
  }

  /** After a failed statement: keep the successes for the next pass, except those past the retry window. */
  private requeueCompletions(completions: QueuedCompletion[]): void {
    const now = performance.now();
    for (const c of completions) {
      if (now - c.queuedAt > this.outcomeRetryMs) {
        this.deps.log.error({ job: c.attempt.jobId }, "giving up recording an outcome; the rescuer will retry the job");
        c.settle(GAVE_UP);
      } else this.queuedCompletions.push(c);
    }
  }

  /** Queues a success for the slot loop's next statement; resolves with the fence's answer. */
  private queueCompletion(attempt: SuccessfulAttempt): Promise<CompletedJob | null | typeof GAVE_UP> {
    return new Promise((settle) => {
      this.queuedCompletions.push({ attempt, queuedAt: performance.now(), settle });
      this.wake();
    });
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
    const signals = await takeJobSignals(this.deps.pool, { workerId: this.id, jobIds: [...this.slots.keys()] });
    for (const s of signals) {
      const slot = this.slots.get(s.id);
      if (!slot || slot.job.attempts !== s.attempts) continue;
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
    if (!this.options.exitWhenIdle || this.slots.size > 0 || this.ready.length > 0) return false;
    try {
      // Runnable now, due within one poll interval, or failed and waiting for its retry.
      const res = await this.deps.pool.query<{ waiting: boolean }>(
        `SELECT EXISTS (
           SELECT 1 FROM jobs
           WHERE (state = 'failed' OR (state = 'pending' AND run_at <= now() + make_interval(secs => $2::float8 / 1000)))
             AND (cardinality($1::text[]) = 0 OR queue = ANY($1::text[]))
         ) AS waiting`,
        [this.options.queues, this.config.poll_interval_ms],
      );
      return res.rows[0]?.waiting === false;
    } catch {
      return false;
    }
  }

  private startJob(job: ClaimedJob): void {
    const timeoutMs = job.timeout_ms ?? (this.config.job_timeout_ms > 0 ? this.config.job_timeout_ms : null);
    const run = this.commands.run({
      command: job.command,
      timeoutMs,
      outputLimitBytes: this.config.output_limit_bytes,
      onOutput: this.output.open(job.id, job.attempts),
      cwd: job.cwd ?? undefined,
      env: { ...job.env, QUEUECTL_JOB_ID: job.id, QUEUECTL_ATTEMPT: String(job.attempts), QUEUECTL_QUEUE: job.queue, QUEUECTL_WORKER_ID: this.id },
    });
    const slot: Slot = { job, run };
    this.slots.set(job.id, slot);
    this.unrecordedJobIds.delete(job.id);
    this.emit("job:start", { id: job.id, attempt: job.attempts });
    const done = run.result
      .then((result) => {
        slot.exited = true;
        this.noteCommandDuration(result.durationMs);
        // The slot is free now, while its outcome is being recorded: the next job claimed ahead starts at once.
        this.startReadyJobs();
        this.wake();
        return this.recordOutcome(slot, result);
      })
      .catch((err: unknown) => this.deps.log.error({ job: job.id, err: (err as Error).message }, "could not record the outcome"))
      .finally(() => {
        this.output.close(job.id);
        // Only this slot: the rescuer may have given the job back and this worker claimed it again.
        if (this.slots.get(job.id) === slot) this.slots.delete(job.id);
        this.completions.delete(done);
        this.wake();
      });
    this.completions.add(done);
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
    const waiting = this.ready.findIndex((r) => r.job.id === jobId && (claim === undefined || r.job === claim));
    if (waiting !== -1) {
      const [dropped] = this.ready.splice(waiting, 1);
      this.signalledWhileReady.delete(jobId);
      this.deps.log.warn({ job: jobId, attempt: dropped!.job.attempts, why }, "dropping a job claimed ahead: this worker no longer holds it");
      this.emit("job:discarded", { id: jobId, attempt: dropped!.job.attempts, why });
      return;
    }
    const slot = this.slots.get(jobId);
    if (!slot || slot.discardReason || (claim !== undefined && slot.job !== claim)) return;
    slot.discardReason = why;
    if (slot.exited) return;
    this.deps.log.warn({ job: jobId, attempt: slot.job.attempts, why }, "stopping a command whose job this worker no longer holds");
    slot.run.terminate(why);
  }

  private async recordOutcome(slot: Slot, result: CommandResult): Promise<void> {
    const { job } = slot;
    const base = { jobId: job.id, workerId: this.id, attempt: job.attempts, exitCode: result.exitCode, output: result.output, durationMs: result.durationMs };
    if (slot.discardReason) {
      await saveAttemptOutput(this.deps.pool, { jobId: job.id, attempt: job.attempts, workerId: this.id, output: result.output }).catch(() => {});
      this.emit("job:discarded", { id: job.id, attempt: job.attempts, why: slot.discardReason });
      return;
    }
    if (slot.release) {
      const released = await this.withRetry(() =>
        releaseJobs(this.deps.pool, { workerId: this.id, reason: "released: worker shut down while it ran", ran: true, attempts: [{ jobId: job.id, attempt: job.attempts, output: result.output }] }),
      );
      if (released === GAVE_UP) this.unrecordedJobIds.add(job.id);
      else if (released.length > 0) this.emit("job:released", { id: job.id, attempt: job.attempts });
      return;
    }
    const failure = describeFailure(result);
    if (failure === null) {
      const ok = await this.queueCompletion({ jobId: job.id, attempt: job.attempts, exitCode: 0, output: result.output, durationMs: result.durationMs });
      if (ok === GAVE_UP) {
        this.unrecordedJobIds.add(job.id);
        return;
      }
      if (ok) {
        this.emit("job:complete", { id: job.id, attempt: job.attempts, durationMs: result.durationMs });
        if (ok.dependents > 0) await this.settle(job.id);
      } else this.reportRejected(job);
      return;
    }
    const outcome = await this.withRetry(() =>
      failJob(this.deps.pool, {
        ...base,
        error: failure,
        backoffBase: this.config.backoff_base,
        backoffMaxS: this.config.backoff_max_s,
        backoffJitter: this.config.backoff_jitter,
      }),
    );
    if (outcome === GAVE_UP) this.unrecordedJobIds.add(job.id);
    else if (outcome) {
      this.deps.log.info({ job: job.id, attempt: job.attempts, error: failure, state: outcome.state, retryAt: outcome.state === "failed" ? outcome.runAt : undefined }, "attempt failed");
      this.emit("job:fail", { id: job.id, attempt: job.attempts, error: failure, state: outcome.state });
      if (outcome.state === "dead" && outcome.dependents > 0) await this.settle(job.id);
    } else this.reportRejected(job);
  }

  /** Releases or cancels the jobs waiting on a finished one; on failure the rescuer's sweep does it later. */
  private async settle(jobId: string): Promise<void> {
    const settled = await this.withRetry(() => settleFinishedJobs(this.deps.pool, [jobId]));
    if (settled !== GAVE_UP && settled.cancelled.length > 0) {
      this.deps.log.info({ job: jobId, cancelled: settled.cancelled }, "dependents cancelled: a job they wait for will not complete");
    }
  }

  private reportRejected(job: ClaimedJob): void {
    this.deps.log.warn({ job: job.id, attempt: job.attempts }, "result refused: the job was taken over while this attempt ran");
    this.emit("job:discarded", { id: job.id, attempt: job.attempts, why: "fence rejected the result" });
  }

  /** Retries a completion through a database outage; the fence makes a late success harmless. */
  private async withRetry<T>(fn: () => Promise<T>): Promise<T | typeof GAVE_UP> {
    const deadline = Date.now() + this.outcomeRetryMs;
    let delay = 100;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        if (Date.now() > deadline) {
          this.deps.log.error({ err: (err as Error).message }, "giving up recording an outcome; the rescuer will retry the job");
          return GAVE_UP;
        }
        this.deps.log.warn({ err: (err as Error).message }, "database unavailable while recording an outcome; retrying");
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  private get outcomeRetryMs(): number {
    return this.options.outcomeRetryMs ?? OUTCOME_RETRY_MS;
  }

  private async drain(): Promise<void> {
    while (this.completions.size > 0) await Promise.allSettled([...this.completions]);
    if (this.claimAnswerLost) await this.withRetry(() => this.releaseUnacknowledgedClaims());
    clearTimeout(this.stopTimer);
    await this.heartbeat.stop();
    await this.rescuer.stop();
    await this.retention.stop();
    await this.output.stop();
    await this.scheduler.stop();
    await this.listener.stop();
    await this.commands.close();
    await this.withRetry(() => setWorkerState(this.deps.pool, this.id, "stopped"));
    this.deps.log.info({ worker: this.id }, "worker stopped");
    this.emit("stopped");
  }
}
