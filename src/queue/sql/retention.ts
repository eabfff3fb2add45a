/**
 * The retention statement every worker runs (worker/retention-service.ts): one call of the database
 * function queuectl_apply_retention (migration 20261207100000_roles_audit). The function runs with its
 * owner's rights and reads the ages from config itself, so a worker role keeps retention without the
 * right to delete jobs or audit rows of its choosing. Its job condition is purge.ts's: deletes in
 * SKIP LOCKED batches, never a job whose dependents have not completed.
 */
import type { Queryable } from "../../db/queryable.js";

export interface RetentionResult {
  jobs: number;
  audit: number;
}

/** Deletes up to `batch` expired completed jobs and up to `batch` expired audit rows. */
export async function applyRetention(db: Queryable, batch: number): Promise<RetentionResult> {
  const res = await db.query<{ jobs_deleted: number; audit_deleted: number }>(
    "SELECT jobs_deleted, audit_deleted FROM queuectl_apply_retention($1)",
    [batch],
  );
  const row = res.rows[0];
  return { jobs: row?.jobs_deleted ?? 0, audit: row?.audit_deleted ?? 0 };
}
