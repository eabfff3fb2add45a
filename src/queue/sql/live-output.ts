/** Statements for the output of running attempts, which `logs --follow` streams from any host. */
import type { Queryable } from "../../db/queryable.js";
import { OUTPUT_CHANNEL } from "./channels.js";

export interface OutputChunk {
  jobId: string;
  attempt: number;
  chunk: string;
}

/**
 * Appends output chunks of running attempts, many jobs in one statement, and notifies followers once
 * per job. Insert-only (no row is updated), so appenders never wait on each other; chunk ids
 * (bigserial) give followers the order.
 */
export async function appendJobOutput(db: Queryable, chunks: readonly OutputChunk[]): Promise<void> {
  if (chunks.length === 0) return;
  await db.query(
    `WITH added AS (
       INSERT INTO job_output (job_id, attempt, chunk)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[])
       RETURNING job_id
     )
     SELECT pg_notify('${OUTPUT_CHANNEL}', job_id) FROM (SELECT DISTINCT job_id FROM added) a`,
    [chunks.map((c) => c.jobId), chunks.map((c) => c.attempt), chunks.map((c) => c.chunk)],
  );
}

/** Deletes the live chunks of finished attempts (their output is in job_attempts now). */
export async function deleteJobOutput(db: Queryable, attempts: ReadonlyArray<{ jobId: string; attempt: number }>): Promise<void> {
  if (attempts.length === 0) return;
  await db.query(
    `DELETE FROM job_output o USING unnest($1::text[], $2::int[]) AS f(job_id, attempt)
     WHERE o.job_id = f.job_id AND o.attempt = f.attempt`,
    [attempts.map((a) => a.jobId), attempts.map((a) => a.attempt)],
  );
}

/** Live chunks of one attempt after chunk id `afterId`, in order. */
export async function readJobOutput(db: Queryable, p: { jobId: string; attempt: number; afterId: string }): Promise<Array<{ id: string; chunk: string }>> {
  const res = await db.query<{ id: string; chunk: string }>(
    `SELECT id::text, chunk FROM job_output WHERE job_id = $1 AND attempt = $2 AND id > $3::bigint ORDER BY id`,
    [p.jobId, p.attempt, p.afterId],
  );
  return res.rows;
}
