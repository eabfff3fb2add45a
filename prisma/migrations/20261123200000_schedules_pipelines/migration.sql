-- Schedules (cron), dependencies between jobs, and each job's run environment (working directory and
-- environment variables). Mirrors prisma/schema.prisma; test/db.migrate.test.ts round-trips the models.

-- A job with dependencies waits while deps_pending > 0; the statement that settles a dependency
-- (sql.ts settleDependencies) decrements it. `dependents` counts the jobs waiting on this one, so a
-- completion knows whether there is anything to settle without reading job_dependencies.
ALTER TABLE "jobs" ADD COLUMN "deps_pending" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "jobs" ADD COLUMN "dependents" INTEGER NOT NULL DEFAULT 0;
-- Working directory and environment variables ({"NAME": "value"}) the command runs with.
ALTER TABLE "jobs" ADD COLUMN "cwd" TEXT;
ALTER TABLE "jobs" ADD COLUMN "env" JSONB;

CREATE TABLE "job_dependencies" (
    "job_id" TEXT NOT NULL,
    "depends_on" TEXT NOT NULL,
    -- Set once the dependency finished and the dependent was updated for it (exactly once per edge).
    "settled_at" TIMESTAMPTZ(3),
    CONSTRAINT "job_dependencies_pkey" PRIMARY KEY ("job_id", "depends_on")
);
CREATE INDEX "job_dependencies_depends_on_idx" ON "job_dependencies"("depends_on");
ALTER TABLE "job_dependencies" ADD CONSTRAINT "job_dependencies_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "job_dependencies" ADD CONSTRAINT "job_dependencies_depends_on_fkey" FOREIGN KEY ("depends_on") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE TABLE "schedules" (
    "name" TEXT NOT NULL,
    "cron" TEXT NOT NULL,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    -- The job JSON each tick enqueues (validated like `enqueue`'s; no id: each tick gets name@tick).
    "job" JSONB NOT NULL,
    "paused" BOOLEAN NOT NULL DEFAULT false,
    -- What happens to ticks missed while no worker ran: 'skip' (only the latest runs) or 'catch-up'.
    "missed" TEXT NOT NULL DEFAULT 'skip',
    "catch_up_limit" INTEGER NOT NULL DEFAULT 10,
    "next_run_at" TIMESTAMPTZ(3) NOT NULL,
    "last_run_at" TIMESTAMPTZ(3),
    "last_job_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "schedules_pkey" PRIMARY KEY ("name")
);

-- Not expressible in schema.prisma (partial indexes).
-- A job still waiting for dependencies is not runnable: the claim index leaves it out, so waiting jobs
-- cost the claim nothing however many there are.
DROP INDEX "jobs_claim_idx";
CREATE INDEX "jobs_claim_idx" ON "jobs"("priority" DESC, "run_at", "seq") WHERE "state" IN ('pending', 'failed') AND "deps_pending" = 0;
-- Edges whose dependency has not finished yet: what the rescuer's sweep looks at.
CREATE INDEX "job_dependencies_unsettled_idx" ON "job_dependencies"("depends_on") WHERE "settled_at" IS NULL;
-- Schedulers read the due, unpaused schedules in tick order.
CREATE INDEX "schedules_due_idx" ON "schedules"("next_run_at") WHERE NOT "paused";
