/**
 * One-job forms of the worker's claim statement, for tests that drive the queue step by step: claim
 * some jobs, record one success. The worker itself always sends completeAndClaimJobs.
 */
import type { Queryable } from "../../src/db/queryable.js";
import { completeAndClaimJobs, type ClaimedJob, type ClaimJobsParams, type CompletedJob } from "../../src/queue/sql/claim.js";
import type { AttemptOutcome } from "../../src/queue/sql/outcomes.js";

/** Claims up to `limit` runnable jobs (completeAndClaimJobs with nothing to complete). */
export async function claimJobs(db: Queryable, p: ClaimJobsParams): Promise<ClaimedJob[]> {
  return (await completeAndClaimJobs(db, { ...p, completions: [] })).claimed;
}

/** Records one success, claiming nothing; null when the fence refuses it. */
export async function completeJob(db: Queryable, o: AttemptOutcome): Promise<CompletedJob | null> {
  const { completed } = await completeAndClaimJobs(db, {
    workerId: o.workerId,
    queues: [],
    limit: 0,
    leaseMs: 0,
    completions: [{ jobId: o.jobId, attempt: o.attempt, exitCode: o.exitCode ?? 0, output: o.output, durationMs: o.durationMs }],
  });
  return completed.get(o.jobId) ?? null;
}
