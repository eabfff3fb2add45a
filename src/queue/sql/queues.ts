/** The statement behind `queue pause / resume / set-concurrency`. */
import type { Queryable } from "../../db/queryable.js";
import { JOBS_CHANNEL } from "./channels.js";
import { notifyControl } from "./control-messages.js";

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
