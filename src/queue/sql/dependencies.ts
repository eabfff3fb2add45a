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

/** A dependency that stops a job from being sent back to pending: it ended without completing. */
export interface BlockingDependency {
  job_id: string;
  depends_on: string;
  state: "dead" | "cancelled";
}

/**
 * For jobs just sent back to pending (requeue, dlq retry), in that same transaction: each waits again
 * for its dependencies that have not completed, so a job never runs before all of them have. A
 * dependency that is pending, processing or failed re-opens its edge (settled_at NULL, counted in
 * deps_pending), and that dependency's completion settles it as usual; a completed one stays settled.
 * Returns the dependencies that ended dead or cancelled: the job could never run after them, and the
 * caller rolls the transaction back and says so.
 *
 * Safe against a dependency finishing at the same moment: its row is locked (FOR NO KEY UPDATE, id
 * order, as lockDependencies at enqueue), so the dependency's completion either committed before (this
 * statement sees it completed and leaves the edge settled) or waits for this transaction, and then its
 * `dependents` count (never lowered) makes its worker settle the re-opened edge. Any edge left open on
 * a finished dependency is settled by the rescuer's sweep (findUnsettledDependencies).
 */
export async function reopenDependencies(db: Queryable, ids: readonly string[]): Promise<BlockingDependency[]> {
  if (ids.length === 0) return [];
  const res = await db.query<BlockingDependency>(
    `WITH deps AS (
       SELECT j.id, j.state FROM jobs j
       WHERE j.id IN (SELECT depends_on FROM job_dependencies WHERE job_id = ANY ($1::text[]))
       ORDER BY j.id
       FOR NO KEY UPDATE
     ), reopened AS (
       UPDATE job_dependencies d
       SET settled_at = CASE WHEN deps.state = 'completed' THEN coalesce(d.settled_at, now()) END
       FROM deps WHERE d.job_id = ANY ($1::text[]) AND d.depends_on = deps.id
       RETURNING d.job_id, d.depends_on, deps.state
     ), counted AS (
       UPDATE jobs j SET deps_pending = (SELECT count(*) FROM reopened r WHERE r.job_id = j.id AND r.state <> 'completed')
       WHERE j.id = ANY ($1::text[])
     )
     SELECT job_id, depends_on, state::text AS state FROM reopened WHERE state IN ('dead', 'cancelled')
     ORDER BY job_id, depends_on`,
    [ids],
  );
  return res.rows;
}

/** A job the sweep found waiting on dependencies that no longer exist, and cancelled. */
export interface StrandedJob {
  id: string;
  /** Jobs that depend on this one: they are settled (cancelled) in turn. */
  dependents: number;
}

/**
 * The repair half of the rescuer's sweep: pending jobs whose deps_pending counts more dependencies
 * than they have open edges. Nothing in queuectl leaves one behind (purgeJobs keeps unsettled
 * dependencies), but a dependency deleted by hand, or by a build older than that rule, took its edge
 * with it and left its dependent waiting on nothing for ever. Such a job is cancelled, with
 * last_error naming why: whether the deleted dependency had completed cannot be known, and a job
 * never runs before its dependencies completed. `requeue` runs it anyway (its remaining edges decide).
 *
 * Looks at `limit` waiting jobs after `afterSeq` (jobs_waiting_idx), so repeated sweeps walk every
 * waiting job however many there are; returns where to continue (0: start over). Safe beside a
 * settle: the open edges are counted in this statement's snapshot, where a settle not yet visible still
 * counts its edge as open, while deps_pending is re-read under the row lock; a settle can only lower
 * both, so a job is never counted as stranded by a settle in flight.
 */
export async function cancelStrandedJobs(db: Queryable, p: { afterSeq: number; limit: number }): Promise<{ cancelled: StrandedJob[]; nextSeq: number }> {
  const res = await db.query<{ id: string | null; dependents: number | null; last_seq: number | null }>(
    `WITH waiting AS (
       SELECT id, seq FROM jobs WHERE deps_pending > 0 AND seq > $1 ORDER BY seq LIMIT $2
     ), counted AS (
       SELECT w.id, (SELECT count(*) FROM job_dependencies d WHERE d.job_id = w.id AND d.settled_at IS NULL)::int AS open
       FROM waiting w
     ), stranded AS (
       SELECT j.id FROM jobs j JOIN counted c ON c.id = j.id
       WHERE j.state = 'pending' AND j.deps_pending > c.open
       ORDER BY j.id
       FOR UPDATE OF j SKIP LOCKED
     ), fixed AS (
       UPDATE jobs j SET state = 'cancelled', deps_pending = c.open, finished_at = now(), updated_at = now(),
              last_error = 'cancelled: ' || (j.deps_pending - c.open) || ' of its dependencies were deleted before they were settled; requeue it to run it anyway'
       FROM stranded s JOIN counted c ON c.id = s.id
       WHERE j.id = s.id AND j.state = 'pending' AND j.deps_pending > c.open
       RETURNING j.id, j.dependents
     )
     SELECT f.id, f.dependents, (SELECT max(seq) FROM waiting) AS last_seq FROM (SELECT 1) one LEFT JOIN fixed f ON true`,
    [p.afterSeq, p.limit],
  );
  const cancelled = res.rows.filter((r) => r.id !== null).map((r) => ({ id: r.id!, dependents: r.dependents ?? 0 }));
  const lastSeq = res.rows[0]?.last_seq ?? null;
  const looked = lastSeq === null ? 0 : lastSeq;
  return { cancelled, nextSeq: looked };
}
