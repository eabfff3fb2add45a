-- Operator tools (issue 6): per-queue settings (concurrency limit, pause), unique jobs, retry rules by
-- exit code, and signals for running jobs delivered through the database. Mirrors prisma/schema.prisma.

-- One row per queue that has a setting; a queue without a row has no limit and is not paused.
CREATE TABLE "queues" (
    "name" TEXT NOT NULL,
    -- Jobs of this queue processing at once across every worker; NULL = no limit.
    "concurrency_limit" INTEGER,
    "paused" BOOLEAN NOT NULL DEFAULT false,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "queues_pkey" PRIMARY KEY ("name")
);

-- At most one active (pending, processing or failed-waiting-for-retry) job per unique_key.
ALTER TABLE "jobs" ADD COLUMN "unique_key" TEXT;
-- Exit codes that are retried (NULL = every exit code) and exit codes never retried.
ALTER TABLE "jobs" ADD COLUMN "retry_on" INTEGER[];
ALTER TABLE "jobs" ADD COLUMN "no_retry_on" INTEGER[];
-- `kill --signal`: a signal for the running command, taken (and cleared) by the worker holding the job.
ALTER TABLE "jobs" ADD COLUMN "signal_requested" TEXT;

-- Not expressible in schema.prisma (partial unique index). Enqueue inserts with
-- ON CONFLICT (unique_key) WHERE ... DO NOTHING: the index is the only arbiter, so two enqueuers
-- racing with one key end with one job, whatever their timing. Only rows with a key are indexed, so
-- the index stays small and the planner never mistakes it for a way to find runnable jobs.
CREATE UNIQUE INDEX "jobs_unique_key_active_idx" ON "jobs"("unique_key")
    WHERE "unique_key" IS NOT NULL AND "state" IN ('pending', 'processing', 'failed');
-- Not expressible in schema.prisma (partial index). Retention and purge delete finished jobs oldest
-- first. Partial, so enqueue (pending rows) never maintains it: only the move to a final state does.
CREATE INDEX "jobs_finished_idx" ON "jobs"("finished_at") WHERE "state" IN ('completed', 'cancelled', 'dead');

-- Output of running attempts, appended by the worker in batches (at most every 500 ms, only when
-- there is new output) so `logs --follow` can stream it from any host. Once an attempt finishes its
-- output lives in job_attempts.output and the worker deletes these rows.
CREATE TABLE "job_output" (
    "id" BIGSERIAL NOT NULL,
    "job_id" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "chunk" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "job_output_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "job_output_job_id_attempt_id_idx" ON "job_output"("job_id", "attempt", "id");
ALTER TABLE "job_output" ADD CONSTRAINT "job_output_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
