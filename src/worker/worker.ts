/**
 * A worker process: its parts put together, and the rules for stopping. The parts: the slot loop
 * (slot-loop.ts: claiming, and recording successes in batches), starting commands (job-starter.ts,
 * command-runner.ts), jobs claimed ahead (ready-jobs.ts), recording outcomes (outcome-recorder.ts),
 * requests about held jobs (held-job-control.ts), and the background duties (heartbeat, rescuer,
 * retention, scheduler) and the LISTEN connection.
 *
 * - graceful stop (SIGTERM, `worker stop`): claim nothing more, let running commands finish, exit;
 * - forced stop (a second SIGTERM, or the stop deadline): end running commands and release their jobs
 *   (pending again, the attempt not counted) so another worker runs them at once.
 */
import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { loadConfig, type QueueConfig } from "../queue/config.js";
import { logJobEvents } from "./job-log.js";
import { sendProbe } from "../queue/sql/channels.js";
import type { ControlMessage } from "../queue/sql/control-messages.js";
import { onNamedStatementsOff } from "../db/prepared.js";
import { registerWorker, setWorkerState, type WorkerRegistration } from "../queue/sql/workers.js";
import { CommandRunner, commandHostsFor } from "./command-runner.js";
import { CompletionBatch } from "./completion-batch.js";
import { HeartbeatService } from "./heartbeat-service.js";
import { HeldJobControl, type HeldClaim } from "./held-job-control.js";
import { JobListener } from "./job-listener.js";
import { JobStarter } from "./job-starter.js";
import type { Logger } from "./logger.js";
import { OUTCOME_RETRY_MS, OutcomeRecorder } from "./outcome-recorder.js";
import { OutputStreamer } from "./output-streamer.js";
import { ProgressReports } from "./progress-reports.js";
import { ReadyJobs } from "./ready-jobs.js";
import { RescuerService } from "./rescuer-service.js";
import { RetentionService } from "./retention-service.js";
import { VacuumService } from "./vacuum-service.js";
import { SchedulerService } from "./scheduler-service.js";
import { SlotLoop } from "./slot-loop.js";
import { Slots } from "./slots.js";
import type { WorkerCore, WorkerOptions } from "./worker-core.js";
import type { WorkerEvents } from "./worker-events.js";

export type { WorkerEvents } from "./worker-events.js";
export type { WorkerOptions } from "./worker-core.js";

/** What `worker start --health-port` answers from (health-server.ts). */
export interface WorkerHealth {
  /** starting: not registered yet; stopping: draining after SIGTERM or `worker stop`. */
  state: "starting" | "running" | "stopping" | "stopped";
  /** performance.now() when the database last accepted this worker's heartbeat (or registration). */
  lastHeartbeatAt: number | undefined;
  /** The lease (config lease_ms) as this worker last read it. */
  leaseMs: number;
}

export interface WorkerDeps {
  pool: pg.Pool;
  /** Where the dedicated LISTEN connection goes (AppContext.listenUrl). */
  url: string;
  log: Logger;
}

export class Worker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  private config!: QueueConfig;
  private readonly core: WorkerCore;
  private readonly loop: SlotLoop;
  private readonly starter: JobStarter;
  private readonly control: HeldJobControl;
  private readonly heartbeat: HeartbeatService<HeldClaim>;
  private readonly rescuer: RescuerService;
  private readonly retention: RetentionService;
  private readonly vacuum: VacuumService;
  private readonly output: OutputStreamer;
  private readonly scheduler: SchedulerService;
  private readonly listener: JobListener;
  private forgetStatementsOff: (() => void) | undefined;
  private readonly commands: CommandRunner;
  private readonly progress: ProgressReports;
  private readonly registration: WorkerRegistration;
  private stopping = false;
  private stopped = false;
  private forced = false;
  private stopTimer: NodeJS.Timeout | undefined;
  private loopDone: Promise<void> | undefined;

  constructor(
    private readonly deps: WorkerDeps,
    private readonly options: WorkerOptions,
  ) {
    super();
    this.id = options.id ?? `${hostname()}-${process.pid}-${randomBytes(2).toString("hex")}`;
    this.registration = { id: this.id, host: hostname(), pid: process.pid, queues: options.queues, concurrency: options.concurrency };
    const { pool, log } = deps;
    logJobEvents(this, log);
    const config = () => this.config;
    const wake = () => this.loop.wake();
    const batch = new CompletionBatch();
    const outcomes = new OutcomeRecorder({ pool, log, workerId: this.id, config, batch, wake, events: this, outcomeRetryMs: options.outcomeRetryMs ?? OUTCOME_RETRY_MS });
    this.core = { id: this.id, pool, log, options, config, events: this, slots: new Slots(), ready: new ReadyJobs(), batch, outcomes, stopping: () => this.stopping, wake };
    this.commands = new CommandRunner(commandHostsFor(options.concurrency), undefined, options.runAs);
    this.output = new OutputStreamer({ pool, log, limitBytes: () => this.config.output_limit_bytes });
    this.control = new HeldJobControl(this.core);
    this.progress = new ProgressReports(options.runAs);
    this.starter = new JobStarter(this.core, this.commands, this.output, this.progress, () => void this.control.deliverSignals().catch(() => {}));
    this.loop = new SlotLoop(this.core, this.starter, this.control, (reason, force) => (force ? this.forceStop(reason) : this.requestStop(reason)));
    this.heartbeat = new HeartbeatService({
      pool,
      log,
      registration: this.registration,
      config,
      running: () => this.control.heldClaims(),
      progress: (ids) => this.progress.changed(ids),
      unrecorded: () => [...outcomes.unrecorded],
      onUnrecordedGone: (ids) => {
        for (const id of ids) outcomes.unrecorded.delete(id);
        wake();
      },
      onLeasesExtended: (held, sentAt) => this.starter.leasesExtended(held, sentAt),
      onConfig: (c) => {
        this.config = this.withOptions(c);
        void this.loop.refreshQueueSettings();
      },
      onStopRequested: (deadline) => this.requestStop("worker stop", deadline),
      onLeaseLost: (held) => this.control.abandon(held.id, "no longer held (the lease was taken over by another worker)", held.claim),
      onCancelRequested: (held) => this.control.cancel(held.id),
      onSignals: () => this.control.deliverSignals(),
    });
    this.retention = new RetentionService({ pool, log });
    this.vacuum = new VacuumService({ pool, log, config });
    this.rescuer = new RescuerService({ pool, log, config, onRescued: wake });
    this.scheduler = new SchedulerService({ pool, log, config });
    this.listener = new JobListener({
      url: deps.url,
      log,
      onJobs: (queue) => {
        if (options.queues.length === 0 || options.queues.includes(queue)) wake();
      },
      onControl: (msg) => this.onControl(msg),
      onReconnect: wake,
      notify: (channel) => sendProbe(pool, channel),
    });
  }

  /** Registers, starts the duties and the slot loop; resolves once the worker is taking jobs. */
  async start(): Promise<void> {
    this.config = this.withOptions(await loadConfig(this.deps.pool));
    await registerWorker(this.deps.pool, this.registration);
    this.heartbeat.accepted();
    await this.loop.refreshQueueSettings();
    this.forgetStatementsOff = onNamedStatementsOff(() =>
      this.deps.log.warn({ worker: this.id }, "prepared statements are not kept by this database address (a transaction-mode pooler?): sending them unnamed"),
    );
    await this.listener.start();
    this.heartbeat.start();
    this.rescuer.start();
    this.retention.start();
    this.vacuum.start();
    this.scheduler.start();
    this.scheduler.trigger();
    this.deps.log.info({ worker: this.id, queues: this.options.queues, concurrency: this.options.concurrency, commands: this.commands.describe() }, "worker started");
    this.loopDone = this.loop.run().then(() => this.drain());
  }

  /** The shared config with what this worker's options set over it (`--poll-interval`). */
  private withOptions(c: QueueConfig): QueueConfig {
    return this.options.pollIntervalMs === undefined ? c : { ...c, poll_interval_ms: this.options.pollIntervalMs };
  }

  /** Resolves when the worker has stopped and deregistered. */
  async finished(): Promise<void> {
    await this.loopDone;
  }

  /** Why the worker stopped on its own because it cannot work (the schema does not match), if it did. */
  get failure(): string | undefined {
    return this.loop.fatalError;
  }

  /** Whether it runs, drains or has stopped, and when its last heartbeat reached the database. */
  health(): WorkerHealth {
    const lastHeartbeatAt = this.heartbeat.lastAcceptedAt;
    const state = this.stopped ? "stopped" : this.stopping ? "stopping" : lastHeartbeatAt === undefined ? "starting" : "running";
    return { state, lastHeartbeatAt, leaseMs: this.config?.lease_ms ?? 0 };
  }

  get runningJobIds(): string[] {
    return this.core.slots.jobIds();
  }

  /** Graceful stop: no new jobs; running ones finish. `deadline` forces the stop at that time. */
  requestStop(reason: string, deadline: Date | null = null): void {
    const timeoutMs = deadline ? Math.max(0, deadline.getTime() - Date.now()) : this.options.stopTimeoutMs || 0;
    if (!this.stopping) {
      this.stopping = true;
      this.deps.log.info({ reason, running: this.core.slots.size }, "stopping: finishing running jobs, taking no new ones");
      this.emit("stopping", { reason });
      void setWorkerState(this.deps.pool, this.id, "stopping").catch(() => {});
      this.loop.wake();
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
    this.deps.log.warn({ reason, running: this.core.slots.size }, "forced stop: ending running commands and releasing their jobs");
    for (const slot of this.core.slots.values()) {
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
        if (msg.worker === this.id) this.control.cancel(msg.job);
        return;
      case "signal":
        if (msg.worker === this.id) this.control.signal(msg.job);
        return;
      case "queue":
        void this.loop.refreshQueueSettings().then(() => this.loop.wake());
        return;
      case "schedules":
        this.scheduler.trigger();
        return;
      case "config":
        void this.reloadConfig(msg.key);
        return;
    }
  }

  /** `config set` anywhere: the new value applies from this worker's next claim on. */
  private async reloadConfig(key: string): Promise<void> {
    try {
      this.config = this.withOptions(await loadConfig(this.deps.pool));
      this.deps.log.info({ worker: this.id, key, value: this.config[key as keyof QueueConfig] }, "config changed");
      this.loop.wake();
    } catch {
      // The next heartbeat reloads it.
    }
  }

  private async drain(): Promise<void> {
    await this.starter.allRecorded();
    if (this.loop.mayHoldUnknownJobs) await this.core.outcomes.withRetry(undefined, () => this.loop.releaseUnacknowledgedClaims());
    clearTimeout(this.stopTimer);
    await this.heartbeat.stop();
    await this.rescuer.stop();
    await this.retention.stop();
    await this.vacuum.stop();
    await this.output.stop();
    await this.scheduler.stop();
    await this.listener.stop();
    this.forgetStatementsOff?.();
    await this.commands.close();
    this.progress.dispose();
    await this.core.outcomes.withRetry(undefined, () => setWorkerState(this.deps.pool, this.id, "stopped"));
    this.stopped = true;
    this.deps.log.info({ worker: this.id }, "worker stopped");
    this.emit("stopped");
  }
}
