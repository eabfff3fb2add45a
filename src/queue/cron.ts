/**
 * Cron expressions through cron-parser (five fields, or six with seconds first): checking one, and
 * the ticks a schedule runs at. Apart from schedules.ts because loading cron-parser (and its date
 * library) costs ~30 ms: `schedule list` shows the next run from the database and loads this only
 * for `--next` above 1.
 */
import { CronExpressionParser } from "cron-parser";
import { InvalidInputError } from "../errors.js";
import type { MissedPolicy, ScheduleRow } from "./schedules.js";

/**
 * With the `skip` policy a tick still runs when a scheduler gets to it at most this late (a busy
 * machine, a worker restarting); ticks later than this were missed and are skipped.
 */
export const SKIP_GRACE_MS = 60_000;

/** Validates a cron expression in a time zone; throws InvalidInputError naming the problem. */
export function checkCron(expr: string, tz: string): void {
  try {
    CronExpressionParser.parse(expr, { tz, strict: false }).next();
  } catch (err) {
    throw new InvalidInputError(`invalid cron expression '${expr}': ${(err as Error).message}`);
  }
}

/** The first tick strictly after `after`. */
export function nextTick(expr: string, tz: string, after: Date): Date {
  return CronExpressionParser.parse(expr, { tz, currentDate: after }).next().toDate();
}

/**
 * The ticks to enqueue for a schedule due at `due` (its next_run_at) when the clock reads `now`, by
 * policy: `skip` gives the latest due tick if it is at most SKIP_GRACE_MS late (else none);
 * `catch-up` gives every due tick, the most recent `limit` of them, oldest first.
 */
export function ticksToRun(p: { cron: string; timezone: string; due: Date; now: Date; missed: MissedPolicy; limit: number }): Date[] {
  const back = CronExpressionParser.parse(p.cron, { tz: p.timezone, currentDate: new Date(p.now.getTime() + 1) });
  const want = p.missed === "skip" ? 1 : Math.max(1, p.limit);
  const ticks: Date[] = [];
  while (ticks.length < want) {
    const t = back.prev().toDate();
    if (t.getTime() < p.due.getTime()) break;
    ticks.push(t);
  }
  if (p.missed === "skip" && ticks[0] && p.now.getTime() - ticks[0].getTime() > SKIP_GRACE_MS) return [];
  return ticks.reverse();
}

/** The schedule's next `count` ticks, from its next_run_at (for `schedule list --next`). */
export function upcomingTicks(s: Pick<ScheduleRow, "cron" | "timezone" | "next_run_at">, count: number): Date[] {
  const ticks = [s.next_run_at];
  const it = CronExpressionParser.parse(s.cron, { tz: s.timezone, currentDate: s.next_run_at });
  while (ticks.length < count) ticks.push(it.next().toDate());
  return ticks;
}
