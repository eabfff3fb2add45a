/**
 * What a worker does to the jobs it holds when it is told something about them: an operator
 * cancelled one or sent it a signal (`cancel`, `kill`: by NOTIFY, or found by the heartbeat), or the
 * heartbeat found the lease taken over. Requests can overtake the answer of the claim that took their
 * job (the NOTIFY travels on another connection): those are kept until the answer arrives.
 */
import { constants as osConstants } from "node:os";
import { performance } from "node:perf_hooks";
import type { ClaimedJob } from "../queue/sql/claim.js";
import { takeJobSignals } from "../queue/sql/signals.js";
import { CANCELLED_ERROR } from "./outcome-recorder.js";
import type { WorkerCore } from "./worker-core.js";

/**
 * How long a cancel or signal for a job this worker does not know yet is kept for the answer of the
 * claim that took it. Its claim committed before the message was sent, so the answer is on its way;
 * past this the message was about an older claim. The heartbeat finds any request anyway.
 */
const EARLY_CONTROL_MS = 10_000;

/** A held job as the heartbeat sees it: each entry carries its claim, so a report reaches only that claim. */
export interface HeldClaim {
  id: string;
  attempt: number;
  claim: ClaimedJob;
}

export class HeldJobControl {
  /** Cancels and signals for jobs this worker does not know yet, by job id, with when they came. */
  private readonly early = new Map<string, { kind: "cancel" | "signal"; at: number }>();

  constructor(private readonly core: WorkerCore) {}

  /** The jobs this worker holds, for the heartbeat: running commands (unless dropped) and jobs claimed ahead. */
  heldClaims(): HeldClaim[] {
    const claims = [...this.core.slots.values()].filter((s) => !s.discardReason).map((s) => s.job);
    for (const r of this.core.ready.claims()) claims.push(r.job);
    return claims.map((claim) => ({ id: claim.id, attempt: claim.attempt, claim }));
  }

  /** Whether a job is this worker's as far as it knows: claimed ahead or running. */
  private knows(jobId: string): boolean {
    return this.core.ready.has(jobId) || this.core.slots.get(jobId) !== undefined;
  }

  /**
   * An operator cancelled a job this worker holds: a job claimed ahead goes back unrun (and ends
   * cancelled); a running command's process group is ended, and the attempt is recorded as cancelled
   * once nothing of it is left. A command that has already ended keeps its own outcome.
   */
  cancel(jobId: string): void {
    if (!this.knows(jobId)) {
      this.early.set(jobId, { kind: "cancel", at: performance.now() });
      return;
    }
    const waiting = this.core.ready.remove(jobId);
    if (waiting) {
      void this.core.outcomes.giveBackUnrun([waiting], CANCELLED_ERROR);
      return;
    }
    const slot = this.core.slots.get(jobId);
    if (!slot || slot.exited || slot.cancelled || slot.discardReason) return;
    slot.cancelled = true;
    this.core.log.info({ job: jobId, attempt: slot.job.attempt }, "cancelled by an operator: ending the command");
    slot.run.terminate(CANCELLED_ERROR);
  }

  /** `kill` left a signal for a job: sent now to a running command, or once a job claimed ahead starts. */
  signal(jobId: string): void {
    if (!this.knows(jobId)) this.early.set(jobId, { kind: "signal", at: performance.now() });
    this.core.ready.markSignalled(jobId);
    void this.deliverSignals().catch(() => {});
  }

  /** Requests that overtook the answer of the claim that took their jobs: applied now that it arrived. */
  claimed(jobs: readonly ClaimedJob[]): void {
    if (this.early.size === 0) return;
    for (const job of jobs) {
      const early = this.early.get(job.id);
      if (!early) continue;
      this.early.delete(job.id);
      if (early.kind === "cancel") this.cancel(job.id);
      else this.core.ready.markSignalled(job.id);
    }
    const stale = performance.now() - EARLY_CONTROL_MS;
    for (const [id, e] of this.early) if (e.at < stale) this.early.delete(id);
  }

  /**
   * The lease is gone: stop the command; whatever it produces is not ours to record. A job claimed
   * ahead is just dropped (someone else owns its row now). `claim`, when given, is the claim the
   * report is about: a later claim of the same job by this worker is left alone.
   */
  abandon(jobId: string, why: string, claim?: ClaimedJob): void {
    const dropped = this.core.ready.remove(jobId, claim);
    if (dropped) {
      this.core.log.warn({ job: jobId, attempt: dropped.job.attempt, why }, "dropping a job claimed ahead: this worker no longer holds it");
      this.core.events.emit("job:discarded", { id: jobId, attempt: dropped.job.attempt, why });
      return;
    }
    const slot = this.core.slots.get(jobId);
    if (!slot || slot.discardReason || (claim !== undefined && slot.job !== claim)) return;
    slot.discardReason = why;
    if (slot.exited) return;
    this.core.log.warn({ job: jobId, attempt: slot.job.attempt, why }, "stopping a command whose job this worker no longer holds");
    slot.run.terminate(why);
  }

  /** Sends the signals `kill` asked for to the process groups of this worker's running jobs. */
  async deliverSignals(): Promise<void> {
    if (this.core.slots.size === 0) return;
    const signals = await takeJobSignals(this.core.pool, { workerId: this.core.id, jobIds: this.core.slots.jobIds() });
    for (const s of signals) {
      const slot = this.core.slots.get(s.id);
      if (!slot || slot.job.attempt !== s.attempt) continue;
      if (!(s.signal in osConstants.signals)) {
        this.core.log.warn({ job: s.id, signal: s.signal }, "not sending a signal this system does not know (kill)");
        continue;
      }
      this.core.log.info({ job: s.id, signal: s.signal }, "sending a signal to the command (kill)");
      slot.run.signal(s.signal as NodeJS.Signals);
    }
  }
}
