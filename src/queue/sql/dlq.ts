/** The Dead Letter Queue's statements: reading the open entries, sending dead jobs back to pending. */
import type { Queryable } from "../../db/queryable.js";
import { JOBS_CHANNEL } from "./channels.js";

/** Fields `dlq retry --edit` may change before the job runs again; undefined = keep. */
export interface DeadJobEdit {
  command?: string;
  /** null = back to the config default (job_timeout_ms). */
  timeoutMs?: number | null;
  maxRetries?: number;
}

/**
 * Sends dead jobs back to pending with a fresh retry budget, closing their DLQ entries, in one
 * statement; `edit` changes fields on the way. `ids` null = every dead job. Locks the job rows (FOR
 * UPDATE, no SKIP: two shells retrying the same job serialise, and the second finds it no longer dead
 * and does nothing). A job whose unique_key another active job holds now raises unique_violation.
 */
export async function retryDeadJobs(db: Queryable, ids: readonly string[] | null, edit: DeadJobEdit = {}): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `WITH target AS (
       SELECT id FROM jobs WHERE state = 'dead' AND ($1::text[] IS NULL OR id = ANY($1::text[]))
       FOR UPDATE
     ), requeued AS (
       UPDATE jobs j SET state = 'pending', attempts = 0, run_at = now(), exit_code = NULL,
              worker_id = NULL, started_at = NULL, finished_at = NULL, updated_at = now(),
              command = coalesce($2, j.command),
              timeout_ms = CASE WHEN $3::boolean THEN $4::int ELSE j.timeout_ms END,
              max_retries = coalesce($5::int, j.max_retries)
       FROM target WHERE j.id = target.id AND j.state = 'dead'
       RETURNING j.id, j.queue
     ), closed AS (
       UPDATE dead_letters d SET retried_at = now()
       FROM requeued r WHERE d.job_id = r.id AND d.retried_at IS NULL
     ), woken AS (
       SELECT pg_notify('${JOBS_CHANNEL}', queue) FROM (SELECT DISTINCT queue FROM requeued) q
     )
     SELECT id FROM requeued, (SELECT count(*) FROM woken) w`,
    [ids, edit.command ?? null, edit.timeoutMs !== undefined, edit.timeoutMs ?? null, edit.maxRetries ?? null],
  );
  return res.rows.map((r) => r.id);
}

/** The fields `dlq retry --edit` may change, per job: what the audit trail records before and after the edit. */
export async function readEditableFields(
  db: Queryable,
  ids: readonly string[],
): Promise<Map<string, { command: string; timeout_ms: number | null; max_retries: number }>> {
  const res = await db.query<{ id: string; command: string; timeout_ms: number | null; max_retries: number }>(
    "SELECT id, command, timeout_ms, max_retries FROM jobs WHERE id = ANY($1::text[])",
    [ids],
  );
  return new Map(res.rows.map(({ id, ...fields }) => [id, fields]));
}

/** An entry of the DLQ as stored (command and error unmasked). */
export interface DeadLetterRow {
  job_id: string;
  queue: string;
  command: string;
  attempts: number;
  /** Why it died, e.g. "failed 4 attempts". */
  reason: string;
  last_error: string | null;
  failed_at: Date;
}

/**
 * The entries not retried, newest first (`limit` null = all), and how many there are, in one
 * statement so the page and the total agree.
 */
export async function readOpenDeadLetters(db: Queryable, p: { limit: number | null; offset: number }): Promise<{ entries: DeadLetterRow[]; total: number }> {
  const res = await db.query<{ entries: DeadLetterRow[] | null; total: number }>(
    `SELECT (SELECT count(*) FROM dead_letters WHERE retried_at IS NULL) AS total,
            (SELECT json_agg(e ORDER BY e.failed_at DESC, e.id DESC) FROM (
               SELECT id, job_id, queue, command, attempts, reason, last_error, failed_at FROM dead_letters
               WHERE retried_at IS NULL ORDER BY failed_at DESC, id DESC LIMIT $1 OFFSET $2) e) AS entries`,
    [p.limit, p.offset],
  );
  const row = res.rows[0]!;
  // json_agg leaves times as text; the rest of the product hands Dates around.
  const entries = (row.entries ?? []).map(({ id: _id, ...e }: DeadLetterRow & { id?: number }) => ({ ...e, failed_at: new Date(e.failed_at) }));
  return { entries, total: row.total };
}
