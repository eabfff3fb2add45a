/**
 * What the parts of a worker share: its identity and options, the database, the jobs it holds
 * (running in slots, claimed ahead, successes waiting to be recorded), and the slot loop's wake-up.
 * Each part (slot-loop, job-starter, held-job-control, outcome-recorder) gets this one object.
 */
import type { EventEmitter } from "node:events";
import type pg from "pg";
import type { QueueConfig } from "../queue/config.js";
import type { CompletionBatch } from "./completion-batch.js";
import type { Logger } from "./logger.js";
import type { OutcomeRecorder } from "./outcome-recorder.js";
import type { ReadyJobs } from "./ready-jobs.js";
import type { RunAsUser } from "./run-as.js";
import type { Slots } from "./slots.js";
import type { WorkerEvents } from "./worker-events.js";

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
   * Variables of this worker's environment every job gets too (`--pass-env`), besides the base ones and
   * config pass_env (queue/job-environment.ts).
   */
  passEnv?: string[];
  /** `--run-as`: job commands run as this user (the worker is root). */
  runAs?: RunAsUser;
  /** This worker's poll interval (ms), over config poll_interval_ms (`--poll-interval`). */
  pollIntervalMs?: number;
  /**
   * Jobs to claim ahead of the free slots. Default: 2 per slot, at most 8, while recent commands are
   * short (slot-loop.ts), none otherwise. 0 turns it off; tests set it to get it always.
   */
  claimAhead?: number;
}

export interface WorkerCore {
  readonly id: string;
  readonly pool: pg.Pool;
  readonly log: Logger;
  readonly options: WorkerOptions;
  /** The shared config as last read (the heartbeat reloads it). */
  config(): QueueConfig;
  readonly events: EventEmitter<WorkerEvents>;
  readonly slots: Slots;
  readonly ready: ReadyJobs;
  readonly batch: CompletionBatch;
  readonly outcomes: OutcomeRecorder;
  /** Whether a stop was asked: nothing new starts, and jobs claimed ahead go back. */
  stopping(): boolean;
  /** Wakes the slot loop (a command ended, a job became runnable, a success waits for its statement). */
  wake(): void;
}
