/** What a worker reports as it runs jobs: for its log, the tests and anything else that subscribes. */
export interface WorkerEvents {
  "job:start": [{ id: string; attempt: number }];
  "job:complete": [{ id: string; attempt: number; durationMs: number }];
  /** An attempt failed: retried (failed), dead, or cancelled (a cancel was asked while it ran). */
  "job:fail": [{ id: string; attempt: number; error: string; state: "failed" | "dead" | "cancelled" }];
  /** A result was not recorded: the job is no longer this worker's (lease lost, taken over). */
  "job:discarded": [{ id: string; attempt: number; why: string }];
  /** A job went back to pending uncounted (claimed ahead and not started, or a forced stop). */
  "job:released": [{ id: string }];
  /** A job this worker held ended cancelled without running further. */
  "job:cancelled": [{ id: string }];
  stopping: [{ reason: string }];
  stopped: [];
}
