/**
 * Keeps this worker's leases alive and its row fresh, every lease_ms / 3: a worker that misses two
 * heartbeats in a row still holds its jobs. Each heartbeat also tells the worker whether someone asked
 * it to stop (`worker stop` on any host), which of its jobs it no longer holds (taken over after the
 * lease ran out, e.g. after a network cut: it must stop those commands, their results would be
 * refused anyway), and which an operator cancelled. What the running commands reported through
 * $QUEUECTL_PROGRESS since the last beat is stored by the same statement. The shared config is
 * reloaded on the same beat so `config set` reaches workers.
 */
import type pg from "pg";
import { loadConfig, type QueueConfig } from "../queue/config.js";
import { heartbeat } from "../queue/sql/leases.js";
import { registerWorker, type WorkerRegistration } from "../queue/sql/workers.js";
import type { Logger } from "./logger.js";
import type { ProgressReport } from "./progress-reports.js";
import { PeriodicService } from "./periodic-service.js";

/** A job whose lease the heartbeat extends; the same object comes back in onLeaseLost. */
export interface HeldJob {
  id: string;
  attempt: number;
}

export interface HeartbeatDeps<J extends HeldJob = HeldJob> {
  pool: pg.Pool;
  log: Logger;
  registration: WorkerRegistration;
  config: () => QueueConfig;
  /** The jobs held now (running, or claimed and about to start). */
  running: () => J[];
  /** What these jobs' commands reported since the last beat (progress-reports.ts); stored with the lease. */
  progress?: (ids: string[]) => Promise<ReadonlyMap<string, ProgressReport>>;
  /** Jobs whose outcome could not be recorded (OutcomeRecorder.unrecorded). */
  unrecorded: () => string[];
  /** Of those, the ones no longer processing under this worker (the rescuer took them). */
  onUnrecordedGone: (ids: string[]) => void;
  /** The heartbeat sent at `sentAt` (performance.now()) extended these jobs' leases. */
  onLeasesExtended: (held: ReadonlySet<string>, sentAt: number) => void;
  /** A held job's cancel was asked (when the NOTIFY did not arrive first). */
  onCancelRequested: (job: J) => void;
  onConfig: (config: QueueConfig) => void;
  onStopRequested: (deadline: Date | null) => void;
  /** A job of a running() list is no longer held by this worker (taken over, cancelled, or given back meanwhile). */
  onLeaseLost: (job: J) => void;
  /** Called on each beat while jobs run: deliver the signals `kill` left on their rows (when a NOTIFY was missed). */
  onSignals?: () => Promise<void>;
}

export class HeartbeatService<J extends HeldJob = HeldJob> extends PeriodicService {
  private lastAccepted: number | undefined;

  constructor(private readonly deps: HeartbeatDeps<J>) {
    super("heartbeat", deps.log);
  }

  /**
   * When (performance.now()) the database last accepted a heartbeat of this worker, or its
   * registration (`accepted`); undefined before either. Until a lease has passed since then, the
   * worker's leases and its row are current (worker start --health-port reports it).
   */
  get lastAcceptedAt(): number | undefined {
    return this.lastAccepted;
  }

  /** The worker's row was written at `at` (registration): as good as a heartbeat. */
  accepted(at = performance.now()): void {
    this.lastAccepted = at;
  }

  protected intervalMs(): number {
    return Math.max(100, Math.floor(this.deps.config().lease_ms / 3));
  }

  async runOnce(): Promise<void> {
    const running = this.deps.running();
    const unrecorded = this.deps.unrecorded();
    const reports = (await this.deps.progress?.(running.map((j) => j.id))) ?? new Map<string, ProgressReport>();
    const sentAt = performance.now();
    const result = await heartbeat(this.deps.pool, {
      workerId: this.deps.registration.id,
      running: running.map((j) => ({ id: j.id, attempt: j.attempt, progress: reports.get(j.id) })),
      unrecorded,
      leaseMs: this.deps.config().lease_ms,
    });
    // From when it was sent: the leases it extended run a lease from when the statement ran, no earlier.
    this.accepted(sentAt);
    this.deps.onLeasesExtended(result.held, sentAt);
    if (!result.registered) {
      // The row is gone (database restored, or cleaned up while we were cut off): register again.
      await registerWorker(this.deps.pool, this.deps.registration);
    }
    for (const job of running) {
      if (!result.held.has(job.id)) this.deps.onLeaseLost(job);
      else if (result.cancelRequested.has(job.id)) this.deps.onCancelRequested(job);
    }
    const gone = unrecorded.filter((id) => !result.stillUnrecorded.has(id));
    if (gone.length > 0) this.deps.onUnrecordedGone(gone);
    if (result.stopRequested) this.deps.onStopRequested(result.stopDeadline);
    if (running.length > 0) await this.deps.onSignals?.();
    this.deps.onConfig(await loadConfig(this.deps.pool));
  }
}
