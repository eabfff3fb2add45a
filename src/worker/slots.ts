/**
 * The commands a worker runs, one per slot, keyed by job id. A slot lives from the command's start
 * until its outcome is recorded (or given up); whether it still counts against the worker's
 * concurrency is `busy()`'s rule.
 */
import type { ClaimedJob } from "../queue/sql/claim.js";
import type { RunningCommand } from "./run-command.js";

export interface Slot {
  job: ClaimedJob;
  run: RunningCommand;
  /** The command (its whole process group) has ended; its outcome may still be on its way to the database. */
  exited?: boolean;
  /** Set when the lease was lost: the outcome is not ours to record. */
  discardReason?: string;
  /** A forced shutdown ended it: give the job back instead of failing it. */
  release?: boolean;
  /** An operator cancelled the job and this worker ended the command: the attempt ends cancelled. */
  cancelled?: boolean;
  /** A statement recording its outcome failed: the slot stays busy until the outcome is recorded or given up. */
  outcomeDelayed?: boolean;
}

export class Slots {
  private readonly slots = new Map<string, Slot>();

  get size(): number {
    return this.slots.size;
  }

  get(jobId: string): Slot | undefined {
    return this.slots.get(jobId);
  }

  values(): IterableIterator<Slot> {
    return this.slots.values();
  }

  jobIds(): string[] {
    return [...this.slots.keys()];
  }

  add(slot: Slot): void {
    this.slots.set(slot.job.id, slot);
  }

  /** Removes this slot only: the job may have been given back and claimed again into a new one. */
  remove(slot: Slot): void {
    if (this.slots.get(slot.job.id) === slot) this.slots.delete(slot.job.id);
  }

  /**
   * Slots that count against the concurrency: a command still running, or one whose outcome could not
   * be recorded yet. A command that has just ended frees its slot while its success waits for the
   * next statement (claiming ahead starts the next job at once); if recording it fails, the slot is
   * busy again, so a worker whose outcomes cannot be recorded does not go on taking jobs.
   */
  busy(): number {
    let n = 0;
    for (const slot of this.slots.values()) if (!slot.exited || slot.outcomeDelayed) n++;
    return n;
  }
}
