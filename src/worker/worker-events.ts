/** What a worker reports as it runs jobs: for its log, the tests and anything else that subscribes. */
export interface WorkerEvents {
  /** `tries`: attempts counted against the retry budget, this one included, of `maxRetries + 1`. */
  "job:start": [{ id: string; attempt: number; queue: string; priority: number; tries: number; maxRetries: number }];
  "job:complete": [{ id: string; attempt: number; durationMs: number }];
  /** An attempt failed: retried (failed), dead, or cancelled (a cancel was asked while it ran). */
  "job:fail": [{ id: string; attempt: number; error: string; state: "failed" | "dead" | "cancelled"; retryAt?: Date }];
  /** A result was not recorded: the job is no longer this worker's (lease lost, taken over). */
  "job:discarded": [{ id: string; attempt: number; why: string }];
  /** A job went back to pending uncounted (claimed ahead and not started, or a forced stop). */
  "job:released": [{ id: string }];
  /** A job this worker held ended cancelled without running further. */
  "job:cancelled": [{ id: string }];
  stopping: [{ reason: string }];
  stopped: [];
}
