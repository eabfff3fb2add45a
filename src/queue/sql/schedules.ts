/** Statements for cron schedules: adding, pausing and removing them; reading due ticks and claiming them. */
import type { Queryable } from "../../db/queryable.js";
import { notifyControl } from "./control-messages.js";

export interface DueSchedule {
  name: string;
  cron: string;
  timezone: string;
  job: unknown;
  missed: "skip" | "catch-up";
  catch_up_limit: number;
  next_run_at: Date;
  /** The database's clock when read: ticks are computed against it, not the worker host's. */
  db_now: Date;
}

/** Unpaused schedules whose next tick has come, earliest first. A plain read: claiming is advanceSchedule. */
export async function dueSchedules(db: Queryable, limit: number): Promise<DueSchedule[]> {
  const res = await db.query<DueSchedule>(
    `SELECT name, cron, timezone, job, missed, catch_up_limit, next_run_at, now() AS db_now
     FROM schedules WHERE NOT paused AND next_run_at <= now()
     ORDER BY next_run_at LIMIT $1`,
    [limit],
  );
  return res.rows;
}

/**
 * Claims a schedule's due tick(s) by moving next_run_at from the value the caller read (`from`) to
 * the tick after them (`to`). Run in the transaction that inserts the tick's jobs.
 *
 * Safe under concurrency: every scheduler that read the same next_run_at issues this UPDATE; the
 * first takes the row lock, the others wait, re-check `next_run_at = from` against the committed row
 * (READ COMMITTED re-check), find it moved, and update nothing, so they insert no job. Exactly one
 * scheduler enqueues each tick however many workers run. A pause committed in between also wins
 * (NOT paused is re-checked the same way). Tick jobs also carry a deterministic id (name@tick), so
 * even a clock or logic slip could not insert one tick twice.
 */
export async function advanceSchedule(db: Queryable, p: { name: string; from: Date; to: Date; lastJobId: string | null }): Promise<boolean> {
  const res = await db.query(
    `UPDATE schedules SET next_run_at = $3, last_run_at = CASE WHEN $4::text IS NULL THEN last_run_at ELSE now() END,
            last_job_id = coalesce($4, last_job_id), updated_at = now()
     WHERE name = $1 AND next_run_at = $2 AND NOT paused`,
    [p.name, p.from, p.to, p.lastJobId],
  );
  return (res.rowCount ?? 0) > 0;
}

/** When the earliest unpaused schedule is next due (null: none), so schedulers sleep exactly until then. */
export async function nextScheduleAt(db: Queryable): Promise<{ next: Date | null; dbNow: Date }> {
  const res = await db.query<{ next: Date | null; db_now: Date }>(
    `SELECT min(next_run_at) AS next, now() AS db_now FROM schedules WHERE NOT paused`,
  );
  return { next: res.rows[0]?.next ?? null, dbNow: res.rows[0]!.db_now };
}

/** Tells every worker's scheduler that schedules changed (add, pause, resume), so it re-reads them now. */
export async function notifySchedulesChanged(db: Queryable): Promise<void> {
  await db.query(`SELECT ${notifyControl("schedules", {})}`);
}

/** The columns a schedule is read back with (queue/schedules.ts ScheduleRow has the same names). */
const SCHEDULE_COLUMNS = "name, cron, timezone, job, paused, missed, catch_up_limit, next_run_at, last_run_at, last_job_id, created_at";

export interface StoredSchedule {
  name: string;
  cron: string;
  timezone: string;
  job: unknown;
  paused: boolean;
  missed: string;
  catch_up_limit: number;
  next_run_at: Date;
  last_run_at: Date | null;
  last_job_id: string | null;
  created_at: Date;
}

/** Adds a schedule; null when the name is taken (ON CONFLICT: two adds of one name, the first wins). */
export async function insertSchedule(
  db: Queryable,
  p: { name: string; cron: string; timezone: string; job: unknown; missed: string; catchUpLimit: number; nextRunAt: Date },
): Promise<StoredSchedule | null> {
  const res = await db.query<StoredSchedule>(
    `INSERT INTO schedules (name, cron, timezone, job, missed, catch_up_limit, next_run_at)
     VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)
     ON CONFLICT (name) DO NOTHING
     RETURNING ${SCHEDULE_COLUMNS}`,
    [p.name, p.cron, p.timezone, JSON.stringify(p.job), p.missed, p.catchUpLimit, p.nextRunAt],
  );
  return res.rows[0] ?? null;
}

/** One schedule, locked until the transaction ends (FOR UPDATE: a pause and a resume at once serialise). */
export async function lockSchedule(db: Queryable, name: string): Promise<StoredSchedule | null> {
  const res = await db.query<StoredSchedule>(`SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE name = $1 FOR UPDATE`, [name]);
  return res.rows[0] ?? null;
}

/** Pauses or resumes a schedule; `nextRunAt` (on resume) is the next tick after now. */
export async function updateSchedulePaused(db: Queryable, p: { name: string; paused: boolean; nextRunAt: Date | null }): Promise<StoredSchedule | null> {
  const res = await db.query<StoredSchedule>(
    `UPDATE schedules SET paused = $2, next_run_at = coalesce($3, next_run_at), updated_at = now()
     WHERE name = $1 RETURNING ${SCHEDULE_COLUMNS}`,
    [p.name, p.paused, p.nextRunAt],
  );
  return res.rows[0] ?? null;
}

/** Every schedule, by name. */
export async function listStoredSchedules(db: Queryable): Promise<StoredSchedule[]> {
  const res = await db.query<StoredSchedule>(`SELECT ${SCHEDULE_COLUMNS} FROM schedules ORDER BY name`);
  return res.rows;
}

/** Removes a schedule; returns it as it was, or null when there was none. */
export async function deleteSchedule(db: Queryable, name: string): Promise<StoredSchedule | null> {
  const res = await db.query<StoredSchedule>(`DELETE FROM schedules WHERE name = $1 RETURNING ${SCHEDULE_COLUMNS}`, [name]);
  return res.rows[0] ?? null;
}
