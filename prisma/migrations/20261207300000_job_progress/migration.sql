-- What a running command last reported through $QUEUECTL_PROGRESS: a percentage (null for a message
-- alone), a message, and when the worker stored it. Written by the worker's heartbeat, at most once a
-- beat, and cleared when an attempt starts. Mirrors prisma/schema.prisma.
ALTER TABLE "jobs" ADD COLUMN "progress_pct" SMALLINT;
ALTER TABLE "jobs" ADD COLUMN "progress_message" TEXT;
ALTER TABLE "jobs" ADD COLUMN "progress_at" TIMESTAMPTZ(3);

-- Not expressible in schema.prisma (check constraint).
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_progress_pct_check" CHECK ("progress_pct" BETWEEN 0 AND 100);
