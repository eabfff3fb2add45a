/** Statements for named queues: `queue list`, and `queue pause / resume / set-concurrency`. */
import type { Queryable } from "../../db/queryable.js";
import { JOBS_CHANNEL } from "./channels.js";
import { notifyControl } from "./control-messages.js";

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

/**
 * Every queue that has unfinished jobs or a setting (a limit, or paused), by name: job counts and
 * settings joined in one statement, so they come from one snapshot.
 */
export async function listQueues(db: Queryable): Promise<QueueInfo[]> {
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

/** A queue's stored settings, or null when it has no row (no limit, not paused). */
export async function readQueueSettings(db: Queryable, name: string): Promise<{ concurrency_limit: number | null; paused: boolean } | null> {
  const res = await db.query<{ concurrency_limit: number | null; paused: boolean }>("SELECT concurrency_limit, paused FROM queues WHERE name = $1", [name]);
  return res.rows[0] ?? null;
}

/**
 * Sets a queue's concurrency limit (null = none) and/or paused flag, creating its row. Wakes workers
 * (a resumed queue or a raised limit has runnable jobs) and tells them to re-read queue settings;
 * the claim statements read the queues table themselves, so the NOTIFY is only a hint.
 */
export async function setQueueSettings(db: Queryable, p: { name: string; concurrencyLimit?: number | null; paused?: boolean }): Promise<void> {
  await db.query(
    `WITH upserted AS (
       INSERT INTO queues (name, concurrency_limit, paused, updated_at)
       VALUES ($1, CASE WHEN $2::boolean THEN $3::int END, coalesce($4::boolean, false), now())
       ON CONFLICT (name) DO UPDATE SET
         concurrency_limit = CASE WHEN $2::boolean THEN $3::int ELSE queues.concurrency_limit END,
         paused = coalesce($4::boolean, queues.paused), updated_at = now()
       RETURNING name
     )
     SELECT ${notifyControl("queue", { queue: "name" })}, pg_notify('${JOBS_CHANNEL}', name) FROM upserted`,
    [p.name, p.concurrencyLimit !== undefined, p.concurrencyLimit ?? null, p.paused ?? null],
  );
}
