-- queuectl initial schema. Mirrors prisma/schema.prisma; test/db.schema.test.ts round-trips every
-- model through Prisma Client to keep the two in step.

CREATE TYPE "job_state" AS ENUM ('pending', 'processing', 'completed', 'failed', 'dead', 'cancelled');

CREATE TABLE "jobs" (
    "id" TEXT NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "queue" TEXT NOT NULL DEFAULT 'default',
    "command" TEXT NOT NULL,
    "state" "job_state" NOT NULL DEFAULT 'pending',
    "priority" INTEGER NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "max_retries" INTEGER NOT NULL,
    "timeout_ms" INTEGER,
    "run_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "worker_id" TEXT,
    "lease_expires_at" TIMESTAMPTZ(3),
    "exit_code" INTEGER,
    "last_error" TEXT,
    "duration_ms" INTEGER,
    CONSTRAINT "jobs_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "job_attempts" (
    "id" BIGSERIAL NOT NULL,
    "job_id" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "worker_id" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),
    "exit_code" INTEGER,
    "error" TEXT,
    "output" TEXT,
    CONSTRAINT "job_attempts_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "dead_letters" (
    "id" BIGSERIAL NOT NULL,
    "job_id" TEXT NOT NULL,
    "queue" TEXT NOT NULL,
    "command" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "last_error" TEXT,
    "attempts" INTEGER NOT NULL,
    "failed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retried_at" TIMESTAMPTZ(3),
    CONSTRAINT "dead_letters_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "workers" (
    "id" TEXT NOT NULL,
    "host" TEXT NOT NULL,
    "pid" INTEGER NOT NULL,
    "queues" TEXT[],
    "concurrency" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "state" TEXT NOT NULL DEFAULT 'running',
    "stop_requested" BOOLEAN NOT NULL DEFAULT false,
    "stop_deadline" TIMESTAMPTZ(3),
    "stopped_at" TIMESTAMPTZ(3),
    CONSTRAINT "workers_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "config" (
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "config_pkey" PRIMARY KEY ("key")
);

CREATE INDEX "jobs_state_queue_idx" ON "jobs"("state", "queue");
CREATE INDEX "jobs_created_at_seq_idx" ON "jobs"("created_at" DESC, "seq" DESC);
CREATE INDEX "job_attempts_job_id_attempt_idx" ON "job_attempts"("job_id", "attempt");
CREATE INDEX "job_attempts_finished_at_idx" ON "job_attempts"("finished_at");
CREATE INDEX "dead_letters_job_id_idx" ON "dead_letters"("job_id");

ALTER TABLE "job_attempts" ADD CONSTRAINT "job_attempts_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "dead_letters" ADD CONSTRAINT "dead_letters_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Not expressible in schema.prisma (partial indexes). The claim walks this index in claim order and
-- touches only runnable rows, so it stays fast however many finished rows the table holds.
CREATE INDEX "jobs_claim_idx" ON "jobs"("priority" DESC, "run_at", "seq") WHERE "state" IN ('pending', 'failed');
-- The rescuer looks only at processing rows, ordered by when their lease runs out.
CREATE INDEX "jobs_lease_idx" ON "jobs"("lease_expires_at") WHERE "state" = 'processing';
