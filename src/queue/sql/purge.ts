/** Statements that delete finished jobs: `purge` and the retention service. */
import type { Queryable } from "../../db/queryable.js";

/** States purge may delete: finished ones only. */
export type PurgeableState = "completed" | "cancelled" | "dead";

/**
 * What makes a finished job deletable besides its state and age: every job that depends on it has
 * completed. Deleting a job takes its edges with it (ON DELETE CASCADE), and with them what its
 * dependents wait for:
 * - an edge not settled yet (the job has just finished; its worker's settleDependencies, or the
 *   rescuer's sweep, settles it a moment later) left its dependent counting a dependency that no longer
 *   existed, pending for ever;
 * - a dependent that has not completed (cancelled because this job was, say) could be requeued later
 *   and would then run with nothing to wait for, though this job never completed.
 * So such a job is kept until its dependents have completed (or are deleted themselves). Read from the
 * deleting statement's snapshot: a dependent that completes after it is seen by the next batch.
 */
const DEPENDENTS_DONE = `NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs b ON b.id = d.job_id
                                        WHERE d.depends_on = jobs.id AND (d.settled_at IS NULL OR b.state <> 'completed'))`;

/**
 * Deletes up to `limit` jobs in `state` that finished more than `olderThanS` seconds ago and whose
 * dependents have completed (DEPENDENTS_DONE); their history and DLQ entries go with them (ON DELETE CASCADE).
 * One short statement per batch, SKIP LOCKED: a row someone else is touching (a requeue) is left for
 * the next batch, and no batch holds locks for long. Returns how many were deleted.
 */
export async function purgeJobs(db: Queryable, p: { state: PurgeableState; olderThanS: number; limit: number }): Promise<number> {
  const res = await db.query(
    // = ANY(ARRAY(...)): the batch's ids are looked up by primary key (with IN the planner may hash
    // the batch and scan the whole table for it).
    `DELETE FROM jobs WHERE id = ANY(ARRAY(
       SELECT id FROM jobs
       WHERE state = $1::job_state AND finished_at < now() - make_interval(secs => $2::float8) AND ${DEPENDENTS_DONE}
       ORDER BY finished_at
       LIMIT $3
       FOR UPDATE SKIP LOCKED
     ))`,
    [p.state, p.olderThanS, p.limit],
  );
  return res.rowCount ?? 0;
}

/** How many jobs purgeJobs would delete (for `purge --dry-run`). */
export async function countPurgeable(db: Queryable, p: { state: PurgeableState; olderThanS: number }): Promise<number> {
  const res = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM jobs WHERE state = $1::job_state AND finished_at < now() - make_interval(secs => $2::float8) AND ${DEPENDENTS_DONE}`,
    [p.state, p.olderThanS],
  );
  return res.rows[0]?.n ?? 0;
}
