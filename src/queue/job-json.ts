/**
 * A job's JSON form, the one contract `list --json`, `show --json` and the dashboard's API share
 * (documented in docs/cli-contract.md): snake_case names as in the table, ISO 8601 times, secret
 * env values masked.
 */
import { maskEnv, maskSecrets } from "./secrets.js";
import type { JobJson, JobRow } from "./job.js";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The job JSON of a row: every field of JobRow but cancel_requested_at, in this order. */
export function jobToJson(j: JobRow): JobJson {
  return {
    id: j.id,
    queue: j.queue,
    command: maskSecrets(j.command),
    state: j.state,
    priority: j.priority,
    attempts: j.attempts,
    last_attempt: j.last_attempt,
    max_retries: j.max_retries,
    timeout_ms: j.timeout_ms,
    run_at: j.run_at.toISOString(),
    created_at: j.created_at.toISOString(),
    updated_at: j.updated_at.toISOString(),
    started_at: iso(j.started_at),
    finished_at: iso(j.finished_at),
    worker_id: j.worker_id,
    exit_code: j.exit_code,
    last_error: maskSecrets(j.last_error),
    duration_ms: j.duration_ms,
    deps_pending: j.deps_pending,
    cwd: j.cwd,
    // Stored as given, shown masked (secrets.ts): the job runs with the real values.
    env: maskEnv(j.env),
    progress_pct: j.progress_pct,
    progress_message: j.progress_message,
    progress_at: iso(j.progress_at),
  };
}
