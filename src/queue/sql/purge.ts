/** Statements that delete finished jobs: `purge` and the retention service. */
import type { Queryable } from "../../db/queryable.js";

/** States purge may delete: finished ones only. */
export type PurgeableState = "completed" | "cancelled" | "dead";

/**
 * What makes a finished job deletable besides its state and age: none of its dependents still waits
 * for it to be settled. A job that has just finished is settled by a second statement (its worker's
 * settleDependencies, or the rescuer's sweep); deleting it in between took its edges with it (ON
 * DELETE CASCADE) and left each dependent counting a dependency that no longer existed, pending for
 * ever. Such a job is left for a later batch, by when it has been settled. Read from the deleting
 * statement's snapshot: an edge settled after it is seen by the next batch, and no statement re-opens
 * the edge of a completed job (reopenDependencies leaves those settled).
 */
const SETTLED = `NOT EXISTS (SELECT 1 FROM job_dependencies d WHERE d.depends_on = jobs.id AND d.settled_at IS NULL)`;

/**
 * Deletes up to `limit` jobs in `state` that finished more than `olderThanS` seconds ago and whose
 * dependents are settled (SETTLED); their history and DLQ entries go with them (ON DELETE CASCADE).
 * One short statement per batch, SKIP LOCKED: a row someone else is touching (a requeue) is left for
 * the next batch, and no batch holds locks for long. Returns how many were deleted.
 */
export async function purgeJobs(db: Queryable, p: { state: PurgeableState; olderThanS: number; limit: number }): Promise<number> {
  const res = await db.query(
    // = ANY(ARRAY(...)): the batch's ids are looked up by primary key (with IN the planner may hash
    // the batch and scan the whole table for it).
    `DELETE FROM jobs WHERE id = ANY(ARRAY(
       SELECT id FROM jobs
       WHERE state = $1::job_state AND finished_at < now() - make_interval(secs => $2::float8) AND ${SETTLED}
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
    `SELECT count(*)::int AS n FROM jobs WHERE state = $1::job_state AND finished_at < now() - make_interval(secs => $2::float8) AND ${SETTLED}`,
    [p.state, p.olderThanS],
  );
  return res.rows[0]?.n ?? 0;
}
