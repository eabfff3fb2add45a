/**
 * Statements that add jobs: COPY or INSERT of new rows, the one-statement insert-and-notify for a few
 * plain jobs, the lookup of unique keys held by active jobs, and the NOTIFY that wakes workers.
 */
import type pg from "pg";
import { finished } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import type { NewJob } from "../job-spec.js";
import type { Queryable } from "../../db/queryable.js";
import { JOBS_CHANNEL } from "./channels.js";

/**
 * Inserts jobs, in input order (seq follows it). Duplicate ids raise unique_violation (23505) on
 * jobs_pkey and, inside the caller's transaction, nothing is inserted. Returns the ids actually
 * inserted.
 *
 * Jobs without a unique_key go in with COPY (copyJobs): for 20 000 jobs it took ~60% of the time of
 * the INSERT ... SELECT FROM unnest(...) below, and it was faster at every batch size down to one job.
 * A batch with a key takes the INSERT: a job whose unique_key belongs to an active job (pending,
 * processing, failed) is skipped, and ON CONFLICT on the partial unique index is the only arbiter, so
 * two enqueuers racing with one key end with one job (the second waits for the first's commit, then
 * skips). COPY has no ON CONFLICT.
 */
export async function insertJobs(db: Queryable, jobs: readonly NewJob[]): Promise<string[]> {
  if (jobs.length === 0) return [];
  if (!jobs.some((j) => j.uniqueKey)) {
    if ("release" in db) await copyJobs(db, jobs);
    else {
      // COPY needs a connection of its own for its exchange; one statement is atomic anyway.
      const client = await db.connect();
      let failed = false;
      try {
        await copyJobs(client, jobs);
      } catch (err) {
        failed = true;
        throw err;
      } finally {
        client.release(failed);
      }
    }
    return jobs.map((j) => j.id);
  }
  const res = await db.query<{ id: string }>(`${INSERT_JOBS} RETURNING id`, insertJobsValues(jobs));
  return res.rows.map((r) => r.id);
}

/**
 * Inserts a few jobs and wakes the listeners of their queues, in one statement, outside any explicit
 * transaction: one round trip where the transactional path takes five (BEGIN, COPY's two, the
 * notification, COMMIT). For `queuectl enqueue` of one job and any caller adding jobs one at a time,
 * that is most of the time from the call to a worker starting the job. Only for jobs that need no
 * other statement: no unique_key (whose losers need a second look) and no dependencies. The
 * statement is atomic; its NOTIFYs go out on its commit, once per queue it added to, like
 * notifyJobsAvailable.
 */
export async function insertJobsAndNotify(db: Queryable, jobs: readonly NewJob[]): Promise<void> {
  if (!jobs.every(canInsertAlone)) throw new Error("insertJobsAndNotify: a job needs the transactional path");
  await db.query(
    `WITH inserted AS (${INSERT_JOBS} RETURNING queue),
     woken AS (SELECT pg_notify($15, queue) FROM inserted GROUP BY queue)
     SELECT count(*) FROM woken`,
    [...insertJobsValues(jobs), JOBS_CHANNEL],
  );
}

/** Whether a job can go in with insertJobsAndNotify: no unique_key and no dependencies. */
export function canInsertAlone(job: NewJob): boolean {
  return !job.uniqueKey && !job.dependsOn?.length;
}

/** INSERT of jobs from 14 arrays, one element per job (insertJobsValues); keyed jobs whose key is held are skipped. */
const INSERT_JOBS = `INSERT INTO jobs (id, queue, command, priority, max_retries, timeout_ms, run_at, unique_key, retry_on, no_retry_on,
                       deps_pending, dependents, cwd, env)
     SELECT id, queue, command, priority, max_retries, timeout_ms, COALESCE(run_at, now()), unique_key, retry_on::int[], no_retry_on::int[],
            deps_pending, dependents, cwd, env
     FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int[], $7::timestamptz[], $8::text[], $9::text[], $10::text[],
                 $11::int[], $12::int[], $13::text[], $14::jsonb[])
       AS t(id, queue, command, priority, max_retries, timeout_ms, run_at, unique_key, retry_on, no_retry_on, deps_pending, dependents, cwd, env)
     ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state IN ('pending', 'processing', 'failed') DO NOTHING`;

function insertJobsValues(jobs: readonly NewJob[]): unknown[] {
  const intList = (l: readonly number[] | null | undefined) => (l ? `{${l.join(",")}}` : null);
  return [
    jobs.map((j) => j.id),
    jobs.map((j) => j.queue),
    jobs.map((j) => j.command),
    jobs.map((j) => j.priority),
    jobs.map((j) => j.maxRetries),
    jobs.map((j) => j.timeoutMs),
    jobs.map((j) => j.runAt),
    jobs.map((j) => j.uniqueKey ?? null),
    jobs.map((j) => intList(j.retryOn)),
    jobs.map((j) => intList(j.noRetryOn)),
    jobs.map((j) => j.depsPending ?? 0),
    jobs.map((j) => j.dependents ?? 0),
    jobs.map((j) => j.cwd ?? null),
    jobs.map((j) => (j.env ? JSON.stringify(j.env) : null)),
  ];
}

/** The characters COPY's text format gives a meaning to; each is sent backslash-escaped. */
const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIAL_ALL = /[\\\n\r\t]/g;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
/** A string as one field of COPY's text format. (NUL cannot be sent; job-spec.ts rejects it.) */
function copyField(s: string): string {
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]!) : s;
}
const COPY_NULL = "\\N";

/**
 * COPY jobs FROM STDIN, text format. Only the columns some job of the batch sets are sent; the others
 * take their defaults (the same values the INSERT gives them: run_at now(), deps 0, NULL otherwise):
 * fewer columns cost less to send and to parse. A batch where some jobs have a run_at and others not
 * sends the transaction's now() for the latter (COPY has no per-row DEFAULT before PostgreSQL 16):
 * the same value the column default gives, read back in the same session so its text form parses
 * exactly.
 */
async function copyJobs(client: pg.PoolClient, jobs: readonly NewJob[]): Promise<void> {
  const timeout = jobs.some((j) => j.timeoutMs !== null);
  const runAt = jobs.some((j) => j.runAt !== null);
  const now = runAt && jobs.some((j) => j.runAt === null) ? (await client.query<{ now: string }>("SELECT now()::text AS now")).rows[0]!.now : null;
  const retryOn = jobs.some((j) => j.retryOn != null);
  const noRetryOn = jobs.some((j) => j.noRetryOn != null);
  const deps = jobs.some((j) => (j.depsPending ?? 0) !== 0 || (j.dependents ?? 0) !== 0);
  const cwd = jobs.some((j) => j.cwd != null);
  const env = jobs.some((j) => j.env != null);
  const columns = ["id", "queue", "command", "priority", "max_retries"];
  if (timeout) columns.push("timeout_ms");
  if (runAt) columns.push("run_at");
  if (retryOn) columns.push("retry_on");
  if (noRetryOn) columns.push("no_retry_on");
  if (deps) columns.push("deps_pending", "dependents");
  if (cwd) columns.push("cwd");
  if (env) columns.push("env");
  const intList = (l: readonly number[] | null | undefined) => (l ? `{${l.join(",")}}` : COPY_NULL);
  let text = "";
  for (const j of jobs) {
    let row = `${copyField(j.id)}\t${copyField(j.queue)}\t${copyField(j.command)}\t${j.priority}\t${j.maxRetries}`;
    if (timeout) row += `\t${j.timeoutMs ?? COPY_NULL}`;
    if (runAt) row += `\t${j.runAt ? j.runAt.toISOString() : copyField(now!)}`;
    if (retryOn) row += `\t${intList(j.retryOn)}`;
    if (noRetryOn) row += `\t${intList(j.noRetryOn)}`;
    if (deps) row += `\t${j.depsPending ?? 0}\t${j.dependents ?? 0}`;
    if (cwd) row += `\t${j.cwd != null ? copyField(j.cwd) : COPY_NULL}`;
    if (env) row += `\t${j.env ? copyField(JSON.stringify(j.env)) : COPY_NULL}`;
    text += `${row}\n`;
  }
  // 'finish' comes after the server's ReadyForQuery; an error (a duplicate id) rejects, and the
  // client is ready for the caller's ROLLBACK.
  await finished(client.query(copyFrom(`COPY jobs (${columns.join(", ")}) FROM STDIN`)).end(text));
}

/** The active job holding each of these unique keys (pending, processing or failed). */
export async function findActiveUniqueJobs(db: Queryable, keys: readonly string[]): Promise<Map<string, string>> {
  const res = await db.query<{ unique_key: string; id: string }>(
    `SELECT unique_key, id FROM jobs WHERE unique_key = ANY($1::text[]) AND state IN ('pending', 'processing', 'failed')`,
    [keys],
  );
  return new Map(res.rows.map((r) => [r.unique_key, r.id]));
}

/**
 * Wakes idle workers listening on JOBS_CHANNEL. Sent inside the enqueuing transaction, PostgreSQL
 * delivers it only on commit, so a woken worker always finds the rows. Notifications are only a
 * hint: a worker that misses one still finds the job on its next poll.
 */
export async function notifyJobsAvailable(db: Queryable, queues: readonly string[]): Promise<void> {
  const distinct = [...new Set(queues)];
  await db.query(`SELECT pg_notify($1, q) FROM unnest($2::text[]) AS q`, [JOBS_CHANNEL, distinct]);
}
