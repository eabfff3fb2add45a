/**
 * Jobs claimed ahead of the free slots, waiting for one (claiming ahead: worker.ts). A job here is
 * held like a running one (leased, in the heartbeat) but its command has not started; it must start
 * soon or go back: a job is never started more than READY_MAX_WAIT_MS after its claim's answer, nor
 * once half its lease may have passed since the lease was last extended. So a worker paused past its
 * lease (SIGSTOP, a cut-off network) never starts a job the rescuer may have handed to someone else.
 */
import type { ClaimedJob } from "../queue/sql/claim.js";

/**
 * A job claimed ahead that no slot took within this long goes back (releaseJobs). Far shorter than the
 * shortest lease (500 ms), so after any pause long enough to matter every job here is this old.
 */
export const READY_MAX_WAIT_MS = 100;

/** A claimed job whose command has not started yet; times are performance.now(). */
export interface ReadyJob {
  job: ClaimedJob;
  /** When the statement that last extended its lease was sent (first the claim): the lease runs at least lease_ms from here. */
  leaseFrom: number;
  /** When the claim's answer arrived: READY_MAX_WAIT_MS counts from here. */
  arrivedAt: number;
}

export class ReadyJobs {
  private jobs: ReadyJob[] = [];
  /** Jobs here that `kill` signalled: their signal goes out once the command has started. */
  private readonly signalled = new Set<string>();

  get size(): number {
    return this.jobs.length;
  }

  /** The claims, oldest first (for the heartbeat). */
  claims(): ReadyJob[] {
    return [...this.jobs];
  }

  add(jobs: readonly ClaimedJob[], sentAt: number, arrivedAt: number): void {
    for (const job of jobs) this.jobs.push({ job, leaseFrom: sentAt, arrivedAt });
  }

  has(jobId: string): boolean {
    return this.jobs.some((r) => r.job.id === jobId);
  }

  /** A heartbeat sent at `sentAt` extended these claims' leases. */
  leasesExtended(held: ReadonlySet<string>, sentAt: number): void {
    for (const r of this.jobs) if (held.has(r.job.id)) r.leaseFrom = Math.max(r.leaseFrom, sentAt);
  }

  markSignalled(jobId: string): void {
    if (this.has(jobId)) this.signalled.add(jobId);
  }

  /** Whether a job may still start now (see the top of this file). */
  private startable(r: ReadyJob, now: number, leaseMs: number): boolean {
    return now - r.arrivedAt <= READY_MAX_WAIT_MS && now - r.leaseFrom <= leaseMs / 2;
  }

  /**
   * Takes up to `free` jobs to start now, oldest first, stopping at the first one too old to start
   * (it goes back with takeExpired). `signalled`: whether `kill` asked for a signal meanwhile.
   */
  takeStartable(free: number, now: number, leaseMs: number): Array<{ ready: ReadyJob; signalled: boolean }> {
    const out: Array<{ ready: ReadyJob; signalled: boolean }> = [];
    while (out.length < free && this.jobs.length > 0 && this.startable(this.jobs[0]!, now, leaseMs)) {
      const ready = this.jobs.shift()!;
      out.push({ ready, signalled: this.signalled.delete(ready.job.id) });
    }
    return out;
  }

  /** Removes and returns the jobs that must go back: all of them when `all`, else those too old to start. */
  takeExpired(now: number, leaseMs: number, all: boolean): ReadyJob[] {
    const gone = all ? this.jobs : this.jobs.filter((r) => !this.startable(r, now, leaseMs));
    if (gone.length === 0) return [];
    this.jobs = all ? [] : this.jobs.filter((r) => !gone.includes(r));
    for (const r of gone) this.signalled.delete(r.job.id);
    return gone;
  }

  /** Removes one job (`claim`: only that claim of it); returns it, or undefined when it is not here. */
  remove(jobId: string, claim?: ClaimedJob): ReadyJob | undefined {
    const at = this.jobs.findIndex((r) => r.job.id === jobId && (claim === undefined || r.job === claim));
    if (at === -1) return undefined;
    const [removed] = this.jobs.splice(at, 1);
    this.signalled.delete(jobId);
    return removed;
  }

  /** `ms`, shortened so the caller wakes when the oldest job here is due to go back. */
  untilNextExpiry(ms: number, now: number): number {
    const oldest = this.jobs[0];
    if (!oldest) return ms;
    return Math.max(1, Math.min(ms, Math.ceil(oldest.arrivedAt + READY_MAX_WAIT_MS - now) + 1));
  }
}
