/** Statements for dependencies between jobs (`enqueue --after`). */
import type { JobState } from "../job.js";
import type { Queryable } from "../../db/queryable.js";
import { JOBS_CHANNEL } from "./channels.js";

//
// A job with dependencies is inserted with deps_pending = the number of its dependencies not yet
// completed, and stays out of the claim (and its index) until that reaches 0. Each edge in
// job_dependencies is settled exactly once (settled_at set) by settleDependencies, which decrements
// the dependent, or cancels it when the dependency ended dead or cancelled.
//
// The race between enqueueing a dependent and finishing its dependency: both write the dependency's
// row (lockDependencies bumps `dependents`, the completion sets the state), so they serialise on it.
// If the enqueue wins, the completion's UPDATE re-reads the row and returns dependents > 0, and the
// caller's settleDependencies (a new statement, a new snapshot) sees the committed edge. If the
// completion wins, lockDependencies returns the dependency as completed and the edge is inserted
// already settled. A worker that dies between the two statements leaves edges unsettled: the
// rescuer's sweep (findUnsettledDependencies) settles them.

export interface LockedDependency {
  id: string;
  state: JobState;
}

/**
 * Enqueue side: locks the named dependencies in id order (two enqueuers never deadlock), adds the new
 * dependents to their `dependents` count, and returns their current states. A missing id is absent
 * from the result. Runs inside the enqueue transaction.
 */
export async function lockDependencies(db: Queryable, counts: ReadonlyMap<string, number>): Promise<LockedDependency[]> {
  if (counts.size === 0) return [];
  const ids = [...counts.keys()];
  const res = await db.query<LockedDependency>(
    `WITH locked AS (
       SELECT id FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE
     ), bumped AS (
       UPDATE jobs j SET dependents = j.dependents + c.n
       FROM locked, unnest($1::text[], $2::int[]) AS c(id, n)
       WHERE j.id = locked.id AND c.id = j.id
       RETURNING j.id, j.state
     )
     SELECT id, state::text AS state FROM bumped`,
    [ids, ids.map((id) => counts.get(id)!)],
  );
  return res.rows;
}

export interface NewDependency {
  jobId: string;
  dependsOn: string;
  /** The dependency had completed already: the edge counts for nothing. */
  settled: boolean;
}

/** Inserts dependency edges (in the enqueue transaction, after the jobs themselves). */
export async function insertDependencies(db: Queryable, edges: readonly NewDependency[]): Promise<void> {
  if (edges.length === 0) return;
  await db.query(
    `INSERT INTO job_dependencies (job_id, depends_on, settled_at)
     SELECT job_id, depends_on, CASE WHEN settled THEN now() END
     FROM unnest($1::text[], $2::text[], $3::bool[]) AS t(job_id, depends_on, settled)`,
    [edges.map((e) => e.jobId), edges.map((e) => e.dependsOn), edges.map((e) => e.settled)],
  );
}

export interface SettleResult {
  /** Dependents whose last dependency completed: runnable now. */
  released: string[];
  /** Dependents cancelled because a dependency ended dead or cancelled (settle them in turn). */
  cancelled: string[];
}

/**
 * Settles the unsettled edges whose dependency (one of `ids`) has finished: completed decrements the
 * dependent's deps_pending (runnable at 0, and workers are woken); dead or cancelled cancels a
 * pending dependent, naming the dependency in last_error. Dependencies not finished are ignored.
 *
 * Safe under concurrency: each edge is locked (FOR UPDATE, re-checked settled_at IS NULL after the
 * wait) and marked settled by exactly one statement, so two statements settling the same dependency
 * apply it once. Two dependencies of one job completing at the same instant each settle their own
 * edge, then both update the dependent's row: the second waits for the first and re-reads the row
 * (READ COMMITTED re-check), so deps_pending goes 2 -> 1 -> 0 and the job is released exactly once.
 * Edges and then dependents are locked in key order, so concurrent settles cannot deadlock.
 */
export async function settleDependencies(db: Queryable, ids: readonly string[]): Promise<SettleResult> {
  if (ids.length === 0) return { released: [], cancelled: [] };
  const res = await db.query<{ id: string; state: JobState; deps_pending: number; killed: boolean }>(
    `WITH finished AS (
       SELECT id, state FROM jobs WHERE id = ANY($1::text[]) AND state IN ('completed', 'dead', 'cancelled')
     ), open_edges AS (
       SELECT d.job_id, d.depends_on, f.state
       FROM job_dependencies d JOIN finished f ON f.id = d.depends_on
       WHERE d.settled_at IS NULL
       ORDER BY d.job_id, d.depends_on
       FOR UPDATE OF d
     ), edges AS (
       UPDATE job_dependencies d SET settled_at = now()
       FROM open_edges o
       WHERE d.job_id = o.job_id AND d.depends_on = o.depends_on AND d.settled_at IS NULL
       RETURNING d.job_id, d.depends_on, o.state
     ), per_job AS (
       SELECT job_id, count(*)::int AS settled,
              (array_agg(depends_on ORDER BY depends_on) FILTER (WHERE state <> 'completed'))[1] AS failed_dep,
              (array_agg(state::text ORDER BY depends_on) FILTER (WHERE state <> 'completed'))[1] AS failed_state
       FROM edges GROUP BY job_id
     ), locked AS (
       SELECT j.id FROM jobs j WHERE j.id IN (SELECT job_id FROM per_job) ORDER BY j.id FOR UPDATE
     ), changed AS (
       UPDATE jobs j SET
         deps_pending = greatest(j.deps_pending - p.settled, 0),
         state = CASE WHEN p.failed_dep IS NOT NULL AND j.state = 'pending' THEN 'cancelled'::job_state ELSE j.state END,
         last_error = CASE WHEN p.failed_dep IS NOT NULL AND j.state = 'pending'
                           THEN 'cancelled: dependency ' || p.failed_dep || ' ended ' || p.failed_state ELSE j.last_error END,
         finished_at = CASE WHEN p.failed_dep IS NOT NULL AND j.state = 'pending' THEN now() ELSE j.finished_at END,
         updated_at = now()
       FROM per_job p, locked l
       WHERE j.id = p.job_id AND l.id = p.job_id
       RETURNING j.id, j.queue, j.state, j.deps_pending, (p.failed_dep IS NOT NULL) AS killed
     ), woken AS (
       SELECT pg_notify('${JOBS_CHANNEL}', queue)
       FROM (SELECT DISTINCT queue FROM changed WHERE state = 'pending' AND deps_pending = 0) q
     )
     SELECT id, state::text AS state, deps_pending, killed FROM changed, (SELECT count(*) FROM woken) w`,
    [ids],
  );
  return {
    released: res.rows.filter((r) => r.state === "pending" && r.deps_pending === 0).map((r) => r.id),
    cancelled: res.rows.filter((r) => r.killed && r.state === "cancelled").map((r) => r.id),
  };
}

/**
 * Finished jobs (completed, dead, cancelled) that still have unsettled edges: left behind when a
 * worker died between its completion and settleDependencies, or when a job was ended by a statement
 * that does not settle (a cancel). Reads the small partial index of unsettled edges only.
 */
export async function findUnsettledDependencies(db: Queryable, limit: number): Promise<string[]> {
  const res = await db.query<{ id: string }>(
    `SELECT DISTINCT d.depends_on AS id
     FROM job_dependencies d JOIN jobs j ON j.id = d.depends_on
     WHERE d.settled_at IS NULL AND j.state IN ('completed', 'dead', 'cancelled')
     LIMIT $1`,
    [limit],
  );
  return res.rows.map((r) => r.id);
}
