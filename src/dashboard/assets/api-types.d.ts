/**
 * The answers of the dashboard's JSON API (routes/api.ts) as the page script (client/) reads them:
 * the server's rows after JSON encoding, so every time is an ISO 8601 string. Types only; nothing here
 * reaches the browser. The job states come from their one home, queue/job.ts (import-free, so the
 * browser project can read it).
 */
import type { JobJson, JobState } from "../../queue/job.js";

export type { JobState };

/** Every answer to a GET carries the database clock (pages show ages by it). */
export interface Timed {
  now: string;
}

/** GET /api/overview */
export interface OverviewAnswer extends Timed {
  jobs: Record<JobState, number>;
  total: number;
  /** Live workers. */
  workers: number;
  /** Jobs waiting in the DLQ. */
  dlq: number;
  avg_duration_ms: number | null;
  oldest_runnable_age_ms: number | null;
  queues: QueueSummary[];
  /** Finished attempts per minute, last hour, oldest first. */
  throughput: ThroughputMinute[];
  /** `queuectl doctor`'s findings (at most HEALTH_SHARE_MS old; the schema's at most SCHEMA_SHARE_MS). */
  /** null when the checks could not be read. */
  health: { healthy: boolean; findings: HealthFinding[] } | null;
}

export interface HealthFinding {
  check: string;
  level: "problem" | "notice";
  message: string;
  remedy: string;
}

export interface QueueSummary {
  queue: string;
  counts: Record<JobState, number>;
  total: number;
  concurrency_limit: number | null;
  paused: boolean;
}

export interface ThroughputMinute {
  at: string;
  completed: number;
  failed: number;
}

/** A job as `show --json` prints it: its one declaration is queue/job.ts (import-free, like JobState). */
export type Job = JobJson;

/** GET /api/jobs */
export interface JobsAnswer extends Timed {
  jobs: Job[];
  /** Whether older jobs follow. */
  more: boolean;
  limit: number;
  offset: number;
  /** Every queue name (for the filter). */
  queues: string[];
}

/** A job linked to another by dependencies, `depth` edges away (1 = direct). */
export interface ChainLink {
  id: string;
  state: JobState;
  depth: number;
  command: string;
}

export interface Attempt {
  attempt: number;
  worker_id: string;
  started_at: string;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
  /** Captured output (its tail); null while the attempt runs. */
  output: string | null;
  duration_ms: number | null;
}

/** GET /api/jobs/:id */
export interface JobAnswer extends Timed {
  job: Job;
  upstream: ChainLink[];
  downstream: ChainLink[];
  /** Attempts in the order they started. */
  history: Attempt[];
  dead_letter: { reason: string; last_error: string | null; failed_at: string } | null;
}

/** POST /api/jobs/:id/cancel */
export interface CancelAnswer {
  id: string;
  previous_state: JobState;
  /** `cancelled`, or still `processing` while its worker ends the command. */
  state: JobState;
  worker_id: string | null;
}

export interface DeadLetter {
  job_id: string;
  queue: string;
  command: string;
  attempts: number;
  reason: string;
  last_error: string | null;
  failed_at: string;
}

/** GET /api/dlq */
export interface DlqAnswer extends Timed {
  entries: DeadLetter[];
  total: number;
  limit: number;
  offset: number;
}

/** POST /api/dlq/:id/retry and /api/dlq/retry-all: the ids sent back to the queue. */
export interface RetryAnswer {
  retried: string[];
}

/** POST /api/queues/:name/pause and /resume */
export interface QueuePausedAnswer {
  queue: string;
  paused: boolean;
}

export interface Schedule {
  name: string;
  cron: string;
  timezone: string;
  paused: boolean;
  missed: "skip" | "catch-up";
  catch_up_limit: number;
  next_run_at: string | null;
  next_runs: string[];
  last_run_at: string | null;
  last_job_id: string | null;
  /** The job each tick enqueues (a job spec; env values masked). */
  job: { command: string } & Record<string, unknown>;
  created_at: string;
}

/** GET /api/schedules */
export interface SchedulesAnswer extends Timed {
  schedules: Schedule[];
}

/** One operator action of the audit trail (queue/sql/audit.ts AuditRow), as `queuectl audit --json` prints it. */
export interface AuditEntry {
  id: string;
  at: string;
  db_role: string;
  source: "cli" | "dashboard";
  os_user: string | null;
  host: string | null;
  session: string | null;
  client_addr: string | null;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

export interface AuditAnswer extends Timed {
  entries: AuditEntry[];
}

/** A worker's state; `lost`: its heartbeat is older than two leases. */
export type WorkerState = "running" | "stopping" | "stopped" | "lost";

export interface Worker {
  id: string;
  host: string;
  pid: number;
  state: WorkerState;
  concurrency: number;
  queues: string[];
  started_at: string;
  heartbeat_at: string;
  current_jobs: string[];
  heartbeat_age_ms: number;
}

/** GET /api/workers */
export interface WorkersAnswer extends Timed {
  lease_ms: number;
  workers: Worker[];
}

export interface ConfigItem {
  key: string;
  value: number | string;
  default: number | string;
  help: string;
}

/** GET /api/config */
export interface ConfigAnswer extends Timed {
  config: ConfigItem[];
}

/** POST /api/config/:key: the value as stored (normalised). */
export interface ConfigSaved {
  key: string;
  value: number | string;
}
