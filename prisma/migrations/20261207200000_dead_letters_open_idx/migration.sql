-- Not expressible in schema.prisma (partial index). `dlq list` and the dashboard's DLQ page read the
-- entries not retried, newest first: without it each page sorted every entry ever written.
CREATE INDEX "dead_letters_open_idx" ON "dead_letters"("failed_at" DESC, "id" DESC) WHERE "retried_at" IS NULL;
