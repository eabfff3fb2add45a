/**
 * Starting claimed jobs: each job claimed ahead starts in a free slot as soon as there is one, and its
 * command's end frees the slot at once (the next ready job starts in the same callback) while the
 * outcome is recorded. Also keeps each running command's lease deadline moving with the heartbeat.
 */
import { performance } from "node:perf_hooks";
import { firstLine } from "../db/errors.js";
import { nameList } from "../queue/config.js";
import { buildRunEnvironment } from "../queue/job-environment.js";
import type { CommandRunner } from "./command-runner.js";
import type { OutputStreamer } from "./output-streamer.js";
import type { ProgressReports } from "./progress-reports.js";
import type { ReadyJob } from "./ready-jobs.js";
import type { Slot } from "./slots.js";
import type { WorkerCore } from "./worker-core.js";

/**
 * A command runs at most this share of its lease past the last statement that extended it (the claim,
 * then each heartbeat): then its command host kills it, well before the lease runs out in the
 * database and the rescuer may hand the job to another worker. Heartbeats come every third of a
 * lease, so two may fail before this happens.
 */
export const COMMAND_LEASE_SHARE = 0.8;

export class JobStarter {
  /** Each running slot's command-to-recorded promise; stopping waits for them all. */
  private readonly recordings = new Set<Promise<void>>();
  /** Moving average of recent commands' durations (ms); undefined before the first. */
  private averageMs: number | undefined;

  constructor(
    private readonly core: WorkerCore,
    private readonly commands: CommandRunner,
    private readonly output: OutputStreamer,
    private readonly progress: ProgressReports,
    /** Asks for signals `kill` left for jobs that just started (they were claimed ahead when it came). */
    private readonly deliverSignals: () => void,
  ) {}

  /** How long recent commands took (a moving average, ms); undefined before the first. */
  get recentCommandMs(): number | undefined {
    return this.averageMs;
  }

  /** Slots free for a new command: busy slots (slots.ts) and jobs whose outcome could not be recorded do not count. */
  freeSlots(): number {
    return this.core.options.concurrency - this.core.slots.busy() - this.core.outcomes.unrecorded.size;
  }

  /** Starts claimed jobs in the free slots, oldest first; those too old to start are left for the slot loop to give back. */
  startReady(): void {
    if (this.core.stopping() || this.core.ready.size === 0) return;
    for (const { ready, signalled } of this.core.ready.takeStartable(this.freeSlots(), performance.now(), this.core.config().lease_ms)) {
      this.start(ready);
      if (signalled) this.deliverSignals();
    }
  }

  /** Resolves once every started command has ended and its outcome is recorded (or given up). */
  async allRecorded(): Promise<void> {
    while (this.recordings.size > 0) await Promise.allSettled([...this.recordings]);
  }

  /** A heartbeat sent at `sentAt` extended these leases: the commands' deadlines move on (COMMAND_LEASE_SHARE). */
  leasesExtended(held: ReadonlySet<string>, sentAt: number): void {
    this.core.ready.leasesExtended(held, sentAt);
    const leaseMs = this.core.config().lease_ms;
    for (const slot of this.core.slots.values()) {
      if (!slot.exited && held.has(slot.job.id)) slot.run.renewLease(sentAt + leaseMs * COMMAND_LEASE_SHARE - performance.now());
    }
  }

  /** The run's progress file; none when it cannot be made (a full disk, say): the job runs without. */
  private openProgressFile(jobId: string, attempt: number): string | undefined {
    try {
      return this.progress.open(jobId, attempt);
    } catch (err) {
      this.core.log.warn({ job: jobId, err: firstLine(err) }, "no progress file for this run");
      return undefined;
    }
  }

  private start(ready: ReadyJob): void {
    const { job } = ready;
    const config = this.core.config();
    const timeoutMs = job.timeout_ms ?? (config.job_timeout_ms > 0 ? config.job_timeout_ms : null);
    const progressFile = this.openProgressFile(job.id, job.attempt);
    const run = this.commands.run({
      command: job.command,
      timeoutMs,
      outputLimitBytes: config.output_limit_bytes,
      onOutput: this.output.open(job.id, job.attempt),
      cwd: job.cwd ?? undefined,
      env: buildRunEnvironment({
        workerEnv: process.env,
        passEnv: [...(this.core.options.passEnv ?? []), ...nameList(config.pass_env)],
        jobEnv: job.env,
        run: { jobId: job.id, attempt: job.attempt, queue: job.queue, workerId: this.core.id, progressFile },
        user: this.core.options.runAs,
      }),
      leaseMs: ready.leaseFrom + config.lease_ms * COMMAND_LEASE_SHARE - performance.now(),
    });
    const slot: Slot = { job, run };
    this.core.slots.add(slot);
    this.core.outcomes.unrecorded.delete(job.id);
    this.core.events.emit("job:start", { id: job.id, attempt: job.attempt, queue: job.queue, priority: job.priority, tries: job.attempts, maxRetries: job.max_retries });
    const recorded = run.result
      .then((result) => {
        slot.exited = true;
        this.averageMs = this.averageMs === undefined ? result.durationMs : 0.8 * this.averageMs + 0.2 * result.durationMs;
        // The slot is free now, while its outcome is being recorded: the next job claimed ahead starts at once.
        this.startReady();
        this.core.wake();
        return this.core.outcomes.record(slot, result);
      })
      .catch((err: unknown) => this.core.log.error({ job: job.id, err: firstLine(err) }, "could not record the outcome"))
      .finally(() => {
        this.output.close(job.id);
        this.progress.close(job.id);
        this.core.slots.remove(slot);
        this.recordings.delete(recorded);
        this.core.wake();
      });
    this.recordings.add(recorded);
  }
}
