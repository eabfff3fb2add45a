/**
 * Named queues as `queue list` and the dashboard show them (pending, running, limit, paused), and the
 * per-queue settings `queue set-concurrency`, `queue pause` and `queue resume` change. The limit and
 * the pause are enforced by the claim statements in sql/claim.ts, across every worker.
 */
import type pg from "pg";
import { InvalidInputError } from "../errors.js";
import { QUEUE_NAME_PATTERN } from "./job-spec.js";
import { setQueueSettings } from "./sql/queues.js";

export interface QueueInfo {
  name: string;
  /** Runnable now or later: pending, and failed jobs waiting for their retry. */
  pending: number;
  /** Processing now, on any worker. */
  running: number;
  /** null = no limit. */
  concurrency_limit: number | null;
  paused: boolean;
}

/** Every queue that has unfinished jobs or a setting (a limit, or paused), by name. */
export async function listQueues(db: pg.Pool): Promise<QueueInfo[]> {
  const res = await db.query<QueueInfo>(
    `WITH counts AS (
       SELECT queue AS name,
              count(*) FILTER (WHERE state IN ('pending', 'failed'))::int AS pending,
              count(*) FILTER (WHERE state = 'processing')::int AS running
       FROM jobs WHERE state IN ('pending', 'failed', 'processing') GROUP BY queue
     )
     SELECT coalesce(c.name, q.name) AS name, coalesce(c.pending, 0) AS pending, coalesce(c.running, 0) AS running,
            q.concurrency_limit, coalesce(q.paused, false) AS paused
     FROM counts c FULL JOIN (SELECT * FROM queues WHERE paused OR concurrency_limit IS NOT NULL) q ON q.name = c.name
     ORDER BY 1`,
  );
  return res.rows;
}

export function parseQueueName(raw: string): string {
  if (!QUEUE_NAME_PATTERN.test(raw)) throw new InvalidInputError(`'${raw}' is not a queue name (1-64 characters: letters, digits and . _ -)`);
  return raw;
}

/** Largest concurrency limit accepted. */
export const MAX_CONCURRENCY_LIMIT = 100_000;

/** `limit` null removes the limit. */
export async function setQueueConcurrency(db: pg.Pool, p: { name: string; limit: number | null }): Promise<void> {
  await setQueueSettings(db, { name: parseQueueName(p.name), concurrencyLimit: p.limit });
}

export async function setQueuePaused(db: pg.Pool, p: { name: string; paused: boolean }): Promise<void> {
  await setQueueSettings(db, { name: parseQueueName(p.name), paused: p.paused });
}
