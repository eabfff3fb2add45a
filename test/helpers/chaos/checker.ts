/**
 * The randomized checker's invariants, over the recorded runs (history.ts), what the driver did
 * (driver.ts) and the tables at the end. Each violation names the job and carries the part of the
 * history that shows it.
 */
import type pg from "pg";
import type { ChaosDriver, QueueEvent } from "./driver.js";
import type { History, Run } from "./history.js";

export interface Violation {
  rule: string;
  job?: string;
  detail: string;
}

/** How long after a pause or a lowered limit a run may still start: a claim in flight, a job claimed ahead. */
const SETTLE_MS = 1000;

/** No two runs of one job at the same time: what the runs themselves saw, and their recorded times. */
export function checkNoOverlap(h: History): Violation[] {
  const out: Violation[] = h.overlaps.map((o) => ({
    rule: "no two runs of one job at once",
    job: o.job,
    detail: `attempt ${o.attempt} (pid ${o.pid}) started while pid ${o.otherPid} of an earlier run was alive`,
  }));
  const byJob = new Map<string, Run[]>();
  for (const r of h.runs) byJob.set(r.job, [...(byJob.get(r.job) ?? []), r]);
  for (const [job, runs] of byJob) {
    const sorted = [...runs].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      // lastAlive is a lower bound of when the earlier run ended: past it is proof of overlap.
      if (sorted[i]!.start < prev.lastAlive) {
        out.push({ rule: "no two runs of one job at once", job, detail: `attempt ${sorted[i]!.attempt} started at ${sorted[i]!.start} while attempt ${prev.attempt} was alive until ${prev.lastAlive}` });
      }
    }
  }
  return out;
}

/** Each (job, attempt) started once: attempt numbers are never reused. */
export function checkAttemptNumbers(h: History): Violation[] {
  const seen = new Set<string>();
  const out: Violation[] = [];
  for (const r of h.runs) {
    const key = `${r.job}#${r.attempt}`;
    if (seen.has(key)) out.push({ rule: "attempt numbers unique per job", job: r.job, detail: `attempt ${r.attempt} started twice` });
    seen.add(key);
  }
  return out;
}

/** Every run of a job started after a run of each of its dependencies ended with exit 0. */
export function checkDependencies(h: History, d: ChaosDriver): Violation[] {
  const successes = new Map<string, number[]>();
  for (const r of h.runs) if (r.exit === 0 && r.end !== undefined) successes.set(r.job, [...(successes.get(r.job) ?? []), r.end]);
  const out: Violation[] = [];
  for (const r of h.runs) {
    for (const dep of d.jobs.get(r.job)?.dependsOn ?? []) {
      if (!(successes.get(dep) ?? []).some((end) => end <= r.start)) {
        out.push({ rule: "never before its dependencies completed", job: r.job, detail: `attempt ${r.attempt} started at ${r.start}, before any run of ${dep} had succeeded` });
      }
    }
  }
  return out;
}

/**
 * No job's first run started before the run_at it was enqueued with (10 ms for the clocks' grain),
 * unless a requeue or dlq retry had sent it back to pending, to run now, before that run.
 */
export function checkRunAt(h: History, d: ChaosDriver): Violation[] {
  const out: Violation[] = [];
  const first = new Map<string, Run>();
  for (const r of h.runs) if (!first.has(r.job) || r.start < first.get(r.job)!.start) first.set(r.job, r);
  for (const [job, r] of first) {
    const info = d.jobs.get(job);
    if (info?.runAt === undefined || (info.requeuedAt !== undefined && info.requeuedAt <= r.start)) continue;
    if (r.start < info.runAt - 10) out.push({ rule: "never before its run_at", job, detail: `started at ${r.start}, run_at ${info.runAt}` });
  }
  return out;
}

/** A queue's pause and limit as they stood at `t` (events before t), and since when. */
function queueStateAt(events: readonly QueueEvent[], queue: string, t: number): { paused: boolean; pausedSince: number; limit: number | null; limitSince: number } {
  const state = { paused: false, pausedSince: 0, limit: null as number | null, limitSince: 0 };
  for (const e of events) {
    if (e.queue !== queue || e.at > t) continue;
    if (e.paused !== undefined && e.paused !== state.paused) {
      state.paused = e.paused;
      state.pausedSince = e.at;
    }
    if (e.limit !== undefined && e.limit !== state.limit) {
      state.limit = e.limit;
      state.limitSince = e.at;
    }
  }
  return state;
}

/**
 * No run starts in a paused queue, and no queue runs more than its limit: counted over runs that
 * started after the limit was set (earlier ones may finish), once the limit has stood SETTLE_MS.
 * A run's end is when it was last seen alive, so a run is never counted longer than it ran.
 */
export function checkQueues(h: History, d: ChaosDriver): Violation[] {
  const out: Violation[] = [];
  for (const r of h.runs) {
    const queue = d.queueOf(r.job);
    if (!queue) continue;
    const s = queueStateAt(d.queueEvents, queue, r.start);
    if (s.paused && r.start > s.pausedSince + SETTLE_MS) out.push({ rule: "no run in a paused queue", job: r.job, detail: `attempt ${r.attempt} started in ${queue}, paused since ${s.pausedSince}` });
    if (s.limit !== null && r.start > s.limitSince + SETTLE_MS) {
      const running = h.runs.filter((o) => d.queueOf(o.job) === queue && o.start > s.limitSince && o.start <= r.start && o.lastAlive > r.start);
      if (running.length > s.limit) out.push({ rule: "a queue never runs more than its limit", job: r.job, detail: `${running.length} runs in ${queue} at ${r.start} under a limit of ${s.limit}: ${running.map((o) => `${o.job}#${o.attempt}`).join(", ")}` });
    }
  }
  return out;
}

/**
 * The tables at the end, every worker stopped: each job final, or waiting for a reason that can be
 * named (a run_at to come, a dependency that is not final); counters match their edges; the DLQ
 * matches the dead jobs; no attempt number twice in the history table.
 */
export async function checkTables(pool: pg.Pool): Promise<Violation[]> {
  const out: Violation[] = [];
  const unexplained = await pool.query<{ id: string; state: string; why: string }>(
    `SELECT j.id, j.state::text AS state,
            CASE WHEN j.state = 'processing' THEN 'processing with every worker stopped'
                 WHEN j.deps_pending <> (SELECT count(*) FROM job_dependencies d WHERE d.job_id = j.id AND d.settled_at IS NULL)
                   THEN 'deps_pending ' || j.deps_pending || ' but ' || (SELECT count(*) FROM job_dependencies d WHERE d.job_id = j.id AND d.settled_at IS NULL) || ' open edges'
                 WHEN j.deps_pending > 0 AND NOT EXISTS (SELECT 1 FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on
                                                         WHERE d.job_id = j.id AND d.settled_at IS NULL AND p.state NOT IN ('completed', 'dead', 'cancelled'))
                   THEN 'waiting on dependencies that are all final'
                 WHEN j.deps_pending = 0 AND j.run_at <= now() - interval '5 seconds' THEN 'runnable but never run'
            END AS why
     FROM jobs j WHERE j.state NOT IN ('completed', 'dead', 'cancelled')`,
  );
  for (const r of unexplained.rows) if (r.why) out.push({ rule: "every job ends final or waits for a reason", job: r.id, detail: `${r.state}: ${r.why}` });
  const dlq = await pool.query<{ id: string; state: string; open: number }>(
    `SELECT j.id, j.state::text AS state, (SELECT count(*)::int FROM dead_letters d WHERE d.job_id = j.id AND d.retried_at IS NULL) AS open
     FROM jobs j`,
  );
  for (const r of dlq.rows) {
    const want = r.state === "dead" ? 1 : 0;
    if (r.open !== want) out.push({ rule: "the DLQ holds exactly the dead jobs", job: r.id, detail: `${r.state} with ${r.open} open DLQ entries` });
  }
  const twice = await pool.query<{ job_id: string; attempt: number }>(`SELECT job_id, attempt FROM job_attempts GROUP BY job_id, attempt HAVING count(*) > 1`);
  for (const r of twice.rows) out.push({ rule: "attempt numbers unique per job", job: r.job_id, detail: `attempt ${r.attempt} has two history rows` });
  return out;
}

/** Processing jobs whose lease ran out long ago: the rescuer must have taken them (sampled during the run). */
export async function stuckJobs(pool: pg.Pool, graceMs: number): Promise<Violation[]> {
  const res = await pool.query<{ id: string; late_ms: number }>(
    `SELECT id, (extract(epoch FROM now() - lease_expires_at) * 1000)::int AS late_ms FROM jobs
     WHERE state = 'processing' AND lease_expires_at < now() - make_interval(secs => $1::float8 / 1000)`,
    [graceMs],
  );
  return res.rows.map((r) => ({ rule: "the rescuer keeps rescuing", job: r.id, detail: `processing ${r.late_ms} ms past its lease` }));
}
