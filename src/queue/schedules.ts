/**
 * Cron schedules: each due tick of a schedule enqueues one job (SchedulerService in every worker
 * claims the tick; sql/schedules.ts advanceSchedule). This module adds, lists, pauses, resumes and
 * removes schedules for the CLI and the dashboard; cron.ts computes ticks and schedule-job.ts checks
 * a schedule's job, each loaded by what needs it.
 */
import type { AppContext } from "../db/context.js";
import { InvalidInputError, InvalidStateError, NotFoundError } from "../errors.js";
import { loadConfig } from "./config.js";
import type { JobSpec } from "./job-spec.js";
import { maskEnv, maskSecrets } from "./secrets.js";
import { checkEnvAllowed } from "./enqueue.js";
import { deleteSchedule, insertSchedule, listStoredSchedules, lockSchedule, notifySchedulesChanged, updateSchedulePaused, type StoredSchedule } from "./sql/schedules.js";
import { audited, type Actor } from "./audit.js";

type ScheduleContext = Pick<AppContext, "pool">;

/** Schedule names: like queue names, so that `name@tick` is a valid job id. */
export const SCHEDULE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export type MissedPolicy = "skip" | "catch-up";
export const MISSED_POLICIES: readonly MissedPolicy[] = ["skip", "catch-up"];
/** Default and ceiling of how many missed ticks `catch-up` enqueues at once (the most recent ones). */
export const DEFAULT_CATCH_UP_LIMIT = 10;
export const MAX_CATCH_UP_LIMIT = 1000;
/** Throws InvalidInputError unless `tz` is an IANA time zone this Node knows (e.g. Europe/Berlin). */
export function checkTimezone(tz: string): string {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
  } catch {
    throw new InvalidInputError(`unknown time zone '${tz}' (use an IANA name such as UTC or Europe/Berlin)`);
  }
  return tz;
}

/** The job id of one tick: deterministic, so one tick can never hold two jobs. */
export function tickJobId(name: string, tick: Date): string {
  return `${name}@${tick.toISOString()}`;
}

export interface ScheduleRow {
  name: string;
  cron: string;
  timezone: string;
  job: JobSpec;
  paused: boolean;
  missed: MissedPolicy;
  catch_up_limit: number;
  next_run_at: Date;
  last_run_at: Date | null;
  last_job_id: string | null;
  created_at: Date;
}

/** A schedule as sql/schedules.ts reads it back. */
function scheduleRow(s: StoredSchedule): ScheduleRow {
  return { ...s, job: s.job as JobSpec, missed: s.missed as MissedPolicy };
}


export interface AddScheduleParams {
  name: string;
  cron: string;
  timezone: string;
  job: JobSpec;
  missed: MissedPolicy;
  catchUpLimit: number;
}

/** Checks everything a user gives `schedule add`; throws InvalidInputError before any write. */
async function checkScheduleParams(p: AddScheduleParams): Promise<void> {
  const { checkCron } = await import("./cron.js");
  if (!SCHEDULE_NAME_PATTERN.test(p.name)) throw new InvalidInputError(`schedule name '${p.name}' must be 1-64 characters: letters, digits and . _ - (starting with a letter or digit)`);
  checkTimezone(p.timezone);
  checkCron(p.cron, p.timezone);
  if (!MISSED_POLICIES.includes(p.missed)) throw new InvalidInputError(`--missed must be one of ${MISSED_POLICIES.join(", ")} (got '${p.missed}')`);
}

/** Adds a schedule; its first tick is the first one after now. A taken name is InvalidInputError. Audited. */
export async function addSchedule(ctx: ScheduleContext, p: AddScheduleParams & { actor?: Actor }): Promise<ScheduleRow> {
  await checkScheduleParams(p);
  const { nextTick } = await import("./cron.js");
  checkEnvAllowed([p.job], (await loadConfig(ctx.pool)).env_allowlist);
  return audited(ctx.pool, { actor: p.actor, action: "schedule add", target: p.name }, async (client) => {
    const row = await insertSchedule(client, { ...p, nextRunAt: nextTick(p.cron, p.timezone, new Date()) });
    if (!row) throw new InvalidInputError(`schedule '${p.name}' already exists (remove it first: queuectl schedule remove ${p.name})`);
    await notifySchedulesChanged(client);
    const added = scheduleRow(row);
    return { result: added, after: auditedSchedule(added) };
  });
}

/** A schedule with its next runs (none while paused). */
export type ListedSchedule = ScheduleRow & { next_runs: Date[] };

/** Every schedule, by name, with its next `upcoming` runs (cron.ts is loaded only for more than one). */
export async function listSchedules(ctx: ScheduleContext, p: { upcoming?: number } = {}): Promise<ListedSchedule[]> {
  const upcoming = p.upcoming ?? 1;
  const rows = (await listStoredSchedules(ctx.pool)).map(scheduleRow);
  const cron = upcoming > 1 && rows.length > 0 ? await import("./cron.js") : undefined;
  return rows.map((s) => ({ ...s, next_runs: s.paused ? [] : cron ? cron.upcomingTicks(s, upcoming) : [s.next_run_at] }));
}

/** Removes a schedule (jobs it already enqueued stay). Unknown name: NotFoundError. Audited. */
export async function removeSchedule(ctx: ScheduleContext, p: { name: string; actor?: Actor }): Promise<void> {
  await audited(ctx.pool, { actor: p.actor, action: "schedule remove", target: p.name }, async (client) => {
    const removed = await deleteSchedule(client, p.name);
    if (!removed) throw new NotFoundError(`no schedule '${p.name}'`);
    return { result: undefined, before: auditedSchedule(scheduleRow(removed)) };
  });
}

/**
 * Pauses or resumes a schedule. Resuming starts again from the next tick after now: ticks that fell
 * in the pause are not run. Unknown name: NotFoundError; already in that state: InvalidStateError. Audited.
 */
export async function setSchedulePaused(ctx: ScheduleContext, p: { name: string; paused: boolean; actor?: Actor }): Promise<ScheduleRow> {
  return audited(ctx.pool, { actor: p.actor, action: p.paused ? "schedule pause" : "schedule resume", target: p.name }, async (client) => {
    const current = await lockSchedule(client, p.name);
    if (!current) throw new NotFoundError(`no schedule '${p.name}'`);
    if (current.paused === p.paused) throw new InvalidStateError(`schedule '${p.name}' is already ${p.paused ? "paused" : "running"}`);
    const nextRunAt = p.paused ? null : (await import("./cron.js")).nextTick(current.cron, current.timezone, new Date());
    const row = scheduleRow((await updateSchedulePaused(client, { name: p.name, paused: p.paused, nextRunAt }))!);
    await notifySchedulesChanged(client);
    return { result: row, before: { paused: current.paused }, after: { paused: row.paused, next_run_at: row.paused ? null : row.next_run_at.toISOString() } };
  });
}

/** A schedule as the audit trail keeps it: what defines it (audit.ts masks the job's secrets). */
function auditedSchedule(s: ScheduleRow): Record<string, unknown> {
  return { cron: s.cron, timezone: s.timezone, missed: s.missed, catch_up_limit: s.catch_up_limit, paused: s.paused, job: s.job };
}

/**
 * A schedule as JSON, for `schedule list --json` and the dashboard's /api/schedules alike: snake_case,
 * ISO times, the next runs listSchedules found (none while paused), and the job with secret-looking env values
 * masked, as `show` and `list` mask a job's.
 */
export function scheduleToJson(s: ListedSchedule): Record<string, unknown> {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    paused: s.paused,
    missed: s.missed,
    catch_up_limit: s.catch_up_limit,
    next_run_at: s.paused ? null : iso(s.next_run_at),
    next_runs: s.next_runs.map((d) => d.toISOString()),
    last_run_at: iso(s.last_run_at),
    last_job_id: s.last_job_id,
    job: { ...s.job, command: maskSecrets(s.job.command), ...(s.job.env ? { env: maskEnv(s.job.env) } : {}) },
    created_at: iso(s.created_at),
  };
}

