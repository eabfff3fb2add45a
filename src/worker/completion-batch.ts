/**
 * Successes waiting to be recorded. The slot loop sends them with its next claim, in one statement
 * (completeAndClaimJobs): fewer, larger statements while commands are short. A success waits at most
 * COMPLETION_HOLD_MS, or until as many are queued as jobs are claimed ahead; a slot falling idle sends
 * at once (worker.ts decides when, with msBeforeSending).
 */
import type { CompletedJob, SuccessfulAttempt } from "../queue/sql/claim.js";

/**
 * While no slot is idle, a success waits up to this long (or for as many companions as jobs claimed
 * ahead) before its statement goes out. 20 ms measured best with 4 slots of `true` (docs/benchmarks.md).
 */
export const COMPLETION_HOLD_MS = 20;

/** What recording gave up on: an outage outlasted the retry window, or the statement cannot succeed. */
export const GAVE_UP = Symbol("gave up");

/** The fence's answer for a queued success: accepted (with its dependents), refused (null), or given up. */
export type CompletionAnswer = CompletedJob | null | typeof GAVE_UP;

interface QueuedCompletion {
  attempt: SuccessfulAttempt;
  /** performance.now() when it was queued. */
  queuedAt: number;
  answer: (a: CompletionAnswer) => void;
  /** Called when a statement carrying it failed: its slot stays busy until it is recorded. */
  onDelayed: () => void;
}

export class CompletionBatch {
  private queued: QueuedCompletion[] = [];

  get size(): number {
    return this.queued.length;
  }

  /** Queues a success; resolves with the fence's answer once a statement has carried it. */
  add(attempt: SuccessfulAttempt, onDelayed: () => void): Promise<CompletionAnswer> {
    return new Promise((answer) => this.queued.push({ attempt, queuedAt: performance.now(), answer, onDelayed }));
  }

  /** Takes everything queued, for the next statement. */
  take(): QueuedCompletion[] {
    const taken = this.queued;
    this.queued = [];
    return taken;
  }

  /** How long the oldest success has waited (ms); 0 when none is queued. */
  heldMs(now: number): number {
    return this.queued.length === 0 ? 0 : now - this.queued[0]!.queuedAt;
  }

  /** A statement carrying `taken` committed: hand each success the fence's answer. */
  static answer(taken: readonly QueuedCompletion[], completed: ReadonlyMap<string, CompletedJob>): void {
    for (const c of taken) c.answer(completed.get(c.attempt.jobId) ?? null);
  }

  /**
   * A statement carrying `taken` failed: they go back in the queue for the next one, except those
   * queued more than `retryMs` ago, which are given up (their jobs go to the rescuer).
   */
  putBack(taken: readonly QueuedCompletion[], retryMs: number): QueuedCompletion[] {
    const now = performance.now();
    const givenUp: QueuedCompletion[] = [];
    for (const c of taken) {
      c.onDelayed();
      if (now - c.queuedAt > retryMs) {
        givenUp.push(c);
        c.answer(GAVE_UP);
      } else this.queued.push(c);
    }
    return givenUp;
  }
}

export type { QueuedCompletion };
