/**
 * What an operator does to single jobs: cancel, kill (send a signal), requeue a finished job, purge
 * old ones, and wait for jobs to finish. Each takes the context and one params object, checks the
 * job first (unknown id: NotFoundError, wrong state: InvalidStateError, nothing changed) and returns
 * plain data; rendering is the CLI's.
 */
import { constants } from "node:os";
import type pg from "pg";
import { InvalidInputError, InvalidStateError, NotFoundError } from "../errors.js";
import { settleFinishedJobs } from "./dependencies.js";
import { quoteJobId } from "./job-spec.js";
import { cancelJob, type CancelledJob } from "./sql/cancel.js";
import { countPurgeable, purgeJobs, type PurgeableState } from "./sql/purge.js";
import { jobSignalStatus, requestJobSignal } from "./sql/signals.js";
import { requeueJobs } from "./sql/requeue.js";
import { findUnsettledDependencies, reopenDependencies, type BlockingDependency } from "./sql/dependencies.js";
import { readJobState, readJobStates } from "./sql/job-reads.js";
import type { Queryable } from "../db/queryable.js";
import { audited, type Actor } from "./audit.js";
import type { JobState } from "./job.js";

type Db = pg.Pool;

async function stateOf(db: Queryable, id: string): Promise<JobState> {
  const state = await readJobState(db, id);
  if (state === undefined) throw new NotFoundError(`no job ${quoteJobId(id)}`);
  return state;
}

/**
 * Cancels a pending, failed or processing job (sql/cancel.ts cancelJob); any other state is
 * InvalidStateError. A processing job stays processing until its worker has ended the command: with
 * `waitMs`, this waits up to that long for it to become cancelled (polling, as `kill` does), and the
 * result's state says whether it did.
 */
export async function cancel(db: Db, p: { id: string; waitMs?: number; actor?: Actor }): Promise<CancelledJob> {
  const done = await audited(db, { actor: p.actor, action: "cancel", target: p.id }, async (client) => {
    const done = await cancelJob(client, p);
    if (!done) {
      const state = await stateOf(client, p.id);
      throw new InvalidStateError(`job '${p.id}' is ${state}: only pending, failed or processing jobs can be cancelled`);
    }
    return { result: done, before: { state: done.previous_state }, after: { state: done.state === "processing" ? "processing (stopping)" : done.state } };
  });
  if (done.state === "cancelled") {
    // Jobs waiting for this one are cancelled now, not at the rescuer's next sweep.
    await settleFinishedJobs(db, [p.id]);
    return done;
  }
  const deadline = Date.now() + (p.waitMs ?? 0);
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const state = await stateOf(db, p.id);
    if (state !== "processing") return { ...done, state };
  }
  return done;
}

/** Signal names `kill --signal` accepts: SIGTERM, TERM, 15 ... */
export function parseSignal(raw: string): NodeJS.Signals {
  const signals = constants.signals as Record<string, number>;
  const upper = raw.trim().toUpperCase();
  const name = /^\d+$/.test(upper)
    ? Object.keys(signals).find((k) => signals[k] === Number(upper))
    : upper.startsWith("SIG") ? upper : `SIG${upper}`;
  if (!name || signals[name] === undefined) throw new InvalidInputError(`unknown signal '${raw}' (e.g. TERM, INT, HUP, USR1, KILL or a number)`);
  return name as NodeJS.Signals;
}

export interface KillResult {
  worker_id: string;
  /** Whether the worker took the signal within the wait; false = it will at its next heartbeat (or it was dropped). */
  delivered: boolean;
  /** The job went back to the queue before its command started (it had been claimed ahead): nothing was signalled. */
  dropped: boolean;
}

/**
 * Asks the worker running the job, on whichever host, to send `signal` to the command's process
 * group, and waits up to `waitMs` for it to take the request.
 */
export async function kill(db: Db, p: { id: string; signal: NodeJS.Signals; waitMs?: number; actor?: Actor }): Promise<KillResult> {
  const asked = await audited(db, { actor: p.actor, action: "kill", target: p.id }, async (client) => {
    const asked = await requestJobSignal(client, p);
    if (!asked) {
      const state = await stateOf(client, p.id);
      throw new InvalidStateError(`job '${p.id}' is ${state}, not running: nothing to signal`);
    }
    return { result: asked, after: { signal: p.signal, worker_id: asked.worker_id } };
  });
  const deadline = Date.now() + (p.waitMs ?? 3000);
  while (Date.now() < deadline) {
    const status = await jobSignalStatus(db, { id: p.id, startedAt: asked.started_at });
    if (status !== "waiting") return { worker_id: asked.worker_id, delivered: status === "taken", dropped: status === "dropped" };
    await new Promise((r) => setTimeout(r, 50));
  }
  return { worker_id: asked.worker_id, delivered: false, dropped: false };
}

/**
 * Runs completed or cancelled jobs again with the same spec; checks every id first. In the same
 * transaction each waits again for its dependencies that have not completed (reopenDependencies); a
 * dependency that ended dead or cancelled is InvalidStateError, and nothing is requeued. A job being
 * cancelled is still processing (its command is stopping) and cannot be requeued until it has stopped.
 */
export async function requeue(db: Db, p: { ids: readonly string[]; actor?: Actor }): Promise<string[]> {
  const ids = [...new Set(p.ids)];
  // One read for every id: the checks below, and the audit row's "before".
  const stateById = new Map((await readJobStates(db, ids)).map((r) => [r.id, r.state]));
  for (const id of ids) {
    const state = stateById.get(id);
    if (state === undefined) throw new NotFoundError(`no job ${quoteJobId(id)}`);
    if (state === "dead") throw new InvalidStateError(`job '${id}' is dead: use queuectl dlq retry ${id}`);
    if (state === "processing") throw new InvalidStateError(`job '${id}' is processing (a cancel may still be stopping its command): requeue it once it has finished`);
    if (state !== "completed" && state !== "cancelled") throw new InvalidStateError(`job '${id}' is ${state}: only completed or cancelled jobs can be requeued`);
  }
  try {
    return await audited(db, { actor: p.actor, action: "requeue", target: ids }, async (client) => {
      const done = await requeueJobs(client, { ids });
      const missed = ids.filter((id) => !done.includes(id));
      if (missed.length > 0) throw new InvalidStateError(`job '${missed[0]}' changed state while requeueing it`);
      refuseBlocked(await reopenDependencies(client, done), "requeue");
      const before = [...new Set(stateById.values())];
      return { result: done, before: { state: before.length === 1 ? before[0] : before }, after: { state: "pending" } };
    });
  } catch (err) {
    throw uniqueKeyConflict(err) ?? err;
  }
}

/** Throws InvalidStateError for the first job that could never run after its dependencies. */
export function refuseBlocked(blocked: readonly BlockingDependency[], verb: string): void {
  const b = blocked[0];
  if (!b) return;
  throw new InvalidStateError(
    `job '${b.job_id}' runs after '${b.depends_on}', which is ${b.state}: ${b.state === "dead" ? "retry" : "requeue"} '${b.depends_on}' first (or in the same ${verb}); nothing was changed`,
  );
}

/** A unique_violation on the unique-key index, as the error a user can act on. */
export function uniqueKeyConflict(err: unknown): InvalidStateError | null {
  const e = err as { code?: string; constraint?: string; detail?: string };
  if (e.code !== "23505" || e.constraint !== "jobs_unique_key_active_idx") return null;
  const key = /\(unique_key\)=\((.*)\) already exists/.exec(e.detail ?? "")?.[1];
  return new InvalidStateError(`another active job holds unique key '${key ?? "?"}'; nothing was changed`);
}

export const PURGEABLE_STATES: readonly PurgeableState[] = ["completed", "cancelled", "dead"];

/** Rows deleted per statement by purge. */
export const PURGE_BATCH = 1000;

/**
 * Deletes jobs in a finished state older than `olderThanS` seconds, in batches of PURGE_BATCH (one
 * short statement each). `dryRun` only counts. A finished job whose dependents are not settled yet is
 * settled first (what the rescuer's sweep would do a moment later), then deleted like the others; one
 * that finished while this runs may be left for the next purge. Returns how many were (or would be)
 * deleted.
 */
export async function purge(db: Db, p: { state: PurgeableState; olderThanS: number; dryRun?: boolean; actor?: Actor }): Promise<number> {
  await settleFinishedJobs(db, await findUnsettledDependencies(db, PURGE_BATCH));
  if (p.dryRun) return countPurgeable(db, p);
  let total = 0;
  // Each batch is its own short transaction with its own audit row (the rows deleted by that batch).
  for (;;) {
    const n = await audited(db, { actor: p.actor, action: "purge", target: `state=${p.state}` }, async (client) => {
      const n = await purgeJobs(client, { state: p.state, olderThanS: p.olderThanS, limit: PURGE_BATCH });
      return { result: n, after: { deleted: n, older_than_s: p.olderThanS } };
    });
    total += n;
    if (n < PURGE_BATCH) return total;
  }
}

/** Parses `7d`, `12h`, `30m`, `90s` or a number of seconds into seconds; `option` names it in the error. */
export function parseAge(raw: string, option = "--older-than"): number {
  const m = /^\s*(\d+)\s*(s|m|h|d|w)?\s*$/i.exec(raw);
  if (!m) throw new InvalidInputError(`${option} '${raw}' is not an age: use e.g. 90s, 30m, 12h, 7d, 2w`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[(m[2] ?? "s").toLowerCase() as "s"]!;
}

export interface WaitedJob {
  id: string;
  state: JobState;
  exit_code: number | null;
  /** What its command last reported ($QUEUECTL_PROGRESS). */
  progress_pct: number | null;
  progress_message: string | null;
}

/**
 * Polls until every job is finished (completed, dead or cancelled) or `timeoutMs` passes; calls
 * `onProgress` after each poll. Returns the jobs as last seen. Unknown ids: NotFoundError, before waiting.
 */
export async function waitForJobs(
  db: Db,
  p: { ids: readonly string[]; timeoutMs: number | null; pollMs?: number; onProgress?: (jobs: WaitedJob[]) => void },
): Promise<{ jobs: WaitedJob[]; timedOut: boolean }> {
  const ids = [...new Set(p.ids)];
  const deadline = p.timeoutMs === null ? Infinity : Date.now() + p.timeoutMs;
  for (;;) {
    const byId = new Map((await readJobStates(db, ids)).map((r) => [r.id, r]));
    const missing = ids.find((id) => !byId.has(id));
    if (missing !== undefined) throw new NotFoundError(`no job ${quoteJobId(missing)}`);
    const jobs = ids.map((id) => byId.get(id)!);
    p.onProgress?.(jobs);
    const finished = jobs.every((j) => j.state === "completed" || j.state === "dead" || j.state === "cancelled");
    if (finished) return { jobs, timedOut: false };
    if (Date.now() >= deadline) return { jobs, timedOut: true };
    await new Promise((r) => setTimeout(r, Math.min(p.pollMs ?? 200, Math.max(1, deadline - Date.now()))));
  }
}
