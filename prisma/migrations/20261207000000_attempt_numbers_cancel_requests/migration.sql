-- Attempt numbers that are never reused, cancels that wait for the command to end, a lease on every
-- processing row, dashboard sessions that can be revoked, and an index for the sweep that finds jobs
-- waiting on nothing. Mirrors prisma/schema.prisma.

-- The number of the job's latest attempt: every claim adds one and nothing takes it back, so a
-- (job, attempt) pair names one run for ever (the completion fence, the history, QUEUECTL_ATTEMPT).
-- `attempts` keeps counting what the retry budget counts: it goes back to 0 on requeue and dlq retry,
-- and a claim given back unrun takes its count back.
ALTER TABLE "jobs" ADD COLUMN "last_attempt" INTEGER NOT NULL DEFAULT 0;
UPDATE "jobs" j SET "last_attempt" = greatest(j."attempts",
    coalesce((SELECT max(a."attempt") FROM "job_attempts" a WHERE a."job_id" = j."id"), 0));

-- `cancel` of a running job: the row stays processing (and leased) until the worker has ended the
-- command's process group, so no other run of the job can start while one may still be alive.
ALTER TABLE "jobs" ADD COLUMN "cancel_requested_at" TIMESTAMPTZ(3);

-- A processing row without a lease or holder could never be rescued. None is written by queuectl;
-- this makes one impossible whatever writes the table.
UPDATE "jobs" SET "lease_expires_at" = now() WHERE "state" = 'processing' AND "lease_expires_at" IS NULL;
UPDATE "jobs" SET "worker_id" = 'unknown' WHERE "state" = 'processing' AND "worker_id" IS NULL;
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_processing_leased_check"
    CHECK ("state" <> 'processing' OR ("lease_expires_at" IS NOT NULL AND "worker_id" IS NOT NULL));

-- Not expressible in schema.prisma (partial index). Jobs still waiting for dependencies: the
-- rescuer's sweep checks each against its open edges, so a count left behind by a deleted edge is found.
CREATE INDEX "jobs_waiting_idx" ON "jobs"("seq") WHERE "deps_pending" > 0;

-- Dashboard logins. The cookie holds a random secret; only its SHA-256 is stored, so reading this
-- table does not give a session away. Logging out deletes the row, which ends that session everywhere.
CREATE TABLE "dashboard_sessions" (
    "id" TEXT NOT NULL,
    -- SHA-256 of the token the session was opened with: a new token ends every older session.
    "token_digest" TEXT NOT NULL,
    "client" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "dashboard_sessions_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "dashboard_sessions_expires_at_idx" ON "dashboard_sessions"("expires_at");
