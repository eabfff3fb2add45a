/**
 * The JSON API under /api/ that the pages poll. Shapes follow the CLI's JSON, documented in
 * docs/cli-contract.md: snake_case, ISO 8601 times, jobs as `show --json` prints them (the same
 * jobToJson). Every answer carries `now`, the database clock, so pages show ages ("3s ago") by the
 * clock that wrote the timestamps, not the browser's.
 */
import { Hono, type Context } from "hono";
import { InvalidInputError, NotFoundError } from "../../errors.js";
import { CONFIG_KEY_NAMES, CONFIG_KEYS, isConfigKey, loadConfig, setConfigValue } from "../../queue/config.js";
import type { QueueContext } from "../../queue/context.js";
import { listDeadLetters, openDeadLetter, retryDead } from "../../queue/dlq.js";
import { jobToJson } from "../../queue/job-json.js";
import { getJob, listJobs, searchJobs } from "../../queue/job-reads.js";
import { JOB_STATES, type JobState } from "../../queue/job.js";
import { listSchedules, scheduleToJson } from "../../queue/schedules.js";
import { cancel } from "../../queue/operator.js";
import { parseQueueName, setQueuePaused } from "../../queue/queues.js";
import { countJobsByQueueAndState, databaseNow, listQueueNames, throughputByMinute } from "../../queue/sql/dashboard-reads.js";
import { listQueues } from "../../queue/sql/queues.js";
import { listWorkers } from "../../queue/sql/workers.js";
import { queueStatus } from "../../queue/status.js";
import { listAudit, type Actor } from "../../queue/audit.js";
import type { DashboardEnv } from "../auth.js";
import { clientAddress } from "./login.js";
import type { HealthRead } from "../health-read.js";
import { sharedRead } from "../shared-read.js";
import { configBody, dlqQuery, jobIdSchema, jobsQuery, parseInput, retryAllBody, workersQuery } from "../validate.js";

/** Rows the audit page shows: the latest actions (`queuectl audit` filters and goes further back). */
const AUDIT_PAGE_ROWS = 200;

/** How long a cancel from the dashboard waits for a running job's command to end before answering. */
const CANCEL_WAIT_MS = 5000;

/** How long one overview read serves other tabs, in ms (pages poll every 3 s). */
export const OVERVIEW_SHARE_MS = 1000;

/** Who acts, for the audit trail: this request's session and client address. */
function actorOf(c: Context<DashboardEnv>): Actor {
  return { source: "dashboard", session: c.get("session") ?? null, clientAddr: clientAddress(c) };
}

/** Reads the JSON body of a POST; a missing or malformed body is invalid input (400), not a crash. */
async function jsonBody(c: Context<DashboardEnv>): Promise<unknown> {
  if (!/^application\/json\b/i.test(c.req.header("content-type") ?? "")) {
    throw new InvalidInputError("send a JSON body (Content-Type: application/json)");
  }
  try {
    return await c.req.json();
  } catch {
    throw new InvalidInputError("the request body is not valid JSON");
  }
}

export function apiRoutes(ctx: QueueContext, health: HealthRead): Hono<DashboardEnv> {
  const api = new Hono<DashboardEnv>();

  // Every open overview tab polls this; tabs asking within a second share one set of queries.
  const readOverview = sharedRead(
    () =>
      Promise.all([
        queueStatus(ctx),
        countJobsByQueueAndState(ctx.pool),
        throughputByMinute(ctx.pool, { minutes: 60 }),
        databaseNow(ctx.pool),
        listQueues(ctx.pool),
        // The health card must not take the overview down with it: a failed read shows as "unavailable".
        health().catch(() => null),
      ]),
    { ttlMs: OVERVIEW_SHARE_MS },
  );

  api.get("/overview", async (c) => {
    const [status, byQueue, throughput, now, settings, report] = await readOverview();
    const settingOf = new Map(settings.map((q) => [q.name, q]));
    const queues = new Map<string, Record<JobState, number>>();
    for (const r of byQueue) {
      const counts = queues.get(r.queue) ?? (Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>);
      counts[r.state] = r.count;
      queues.set(r.queue, counts);
    }
    return c.json({
      now,
      jobs: status.jobs,
      total: JOB_STATES.reduce((n, s) => n + status.jobs[s], 0),
      workers: status.workers,
      dlq: status.dlq,
      avg_duration_ms: status.avgDurationMs,
      oldest_runnable_age_ms: status.oldestRunnableAgeMs,
      queues: [...queues].map(([queue, counts]) => ({
        queue,
        counts,
        total: JOB_STATES.reduce((n, s) => n + counts[s], 0),
        concurrency_limit: settingOf.get(queue)?.concurrency_limit ?? null,
        paused: settingOf.get(queue)?.paused ?? false,
      })),
      throughput,
      health: report === null ? null : { healthy: report.healthy, findings: report.findings },
    });
  });

  api.get("/jobs", async (c) => {
    const q = parseInput(jobsQuery, c.req.query());
    const filter = { state: q.state, queue: q.queue, limit: q.limit, offset: q.offset };
    const [page, queues, now] = await Promise.all([
      q.q ? searchJobs(ctx, { ...filter, text: q.q }) : listJobs(ctx, filter),
      listQueueNames(ctx.pool),
      databaseNow(ctx.pool),
    ]);
    return c.json({ now, jobs: page.jobs.map(jobToJson), more: page.more, limit: q.limit, offset: q.offset, queues });
  });

  api.get("/jobs/:id", async (c) => {
    const parsed = jobIdSchema.safeParse(c.req.param("id"));
    if (!parsed.success) throw new NotFoundError("no such job");
    const id = parsed.data;
    const [detail, deadLetter, now] = await Promise.all([getJob(ctx, { id }), openDeadLetter(ctx, { jobId: id }), databaseNow(ctx.pool)]);
    return c.json({
      now,
      job: jobToJson(detail.job),
      upstream: detail.upstream,
      downstream: detail.downstream,
      history: detail.history.map((a) => ({
        ...a,
        duration_ms: a.finished_at ? a.finished_at.getTime() - a.started_at.getTime() : null,
      })),
      dead_letter: deadLetter,
    });
  });

  api.get("/dlq", async (c) => {
    const q = parseInput(dlqQuery, c.req.query());
    const [page, now] = await Promise.all([listDeadLetters(ctx, q), databaseNow(ctx.pool)]);
    return c.json({ now, entries: page.entries, total: page.total, limit: q.limit, offset: q.offset });
  });

  api.post("/dlq/retry-all", async (c) => {
    parseInput(retryAllBody, await jsonBody(c));
    const retried = await retryDead(ctx, { all: true, actor: actorOf(c) });
    return c.json({ retried });
  });

  api.post("/dlq/:id/retry", async (c) => {
    const id = parseInput(jobIdSchema, c.req.param("id"));
    const retried = await retryDead(ctx, { ids: [id], actor: actorOf(c) });
    return c.json({ retried });
  });

  api.post("/jobs/:id/cancel", async (c) => {
    const id = parseInput(jobIdSchema, c.req.param("id"));
    // A running job stays processing until its worker has ended the command: wait a little for that.
    return c.json(await cancel(ctx.pool, { id, waitMs: CANCEL_WAIT_MS, actor: actorOf(c) }));
  });

  for (const [verb, paused] of [["pause", true], ["resume", false]] as const) {
    api.post(`/queues/:name/${verb}`, async (c) => {
      const name = parseQueueName(c.req.param("name"));
      await setQueuePaused(ctx.pool, { name, paused, actor: actorOf(c) });
      return c.json({ queue: name, paused });
    });
  }

  api.get("/schedules", async (c) => {
    const [schedules, now] = await Promise.all([listSchedules(ctx, { upcoming: 3 }), databaseNow(ctx.pool)]);
    return c.json({
      now,
      schedules: schedules.map((s) => scheduleToJson(s)),
    });
  });

  api.get("/workers", async (c) => {
    const q = parseInput(workersQuery, c.req.query());
    const config = await loadConfig(ctx.pool);
    const all = q.all === "1" || q.all === "true";
    const [workers, now] = await Promise.all([listWorkers(ctx.pool, { leaseMs: config.lease_ms, all }), databaseNow(ctx.pool)]);
    return c.json({
      now,
      lease_ms: config.lease_ms,
      workers: workers.map((w) => ({ ...w, heartbeat_age_ms: Math.max(0, now.getTime() - w.heartbeat_at.getTime()) })),
    });
  });

  api.get("/audit", async (c) => {
    const [entries, now] = await Promise.all([listAudit(ctx.pool, { sinceS: null, action: null, limit: AUDIT_PAGE_ROWS }), databaseNow(ctx.pool)]);
    return c.json({ now, entries });
  });

  api.get("/config", async (c) => {
    const [config, now] = await Promise.all([loadConfig(ctx.pool), databaseNow(ctx.pool)]);
    return c.json({
      now,
      config: CONFIG_KEY_NAMES.map((key) => ({ key, value: config[key], default: CONFIG_KEYS[key].default, help: CONFIG_KEYS[key].help })),
    });
  });

  api.post("/config/:key", async (c) => {
    const key = c.req.param("key");
    if (!isConfigKey(key)) throw new NotFoundError(`unknown config key '${key.slice(0, 100)}'`);
    const body = parseInput(configBody, await jsonBody(c));
    // setConfigValue validates with the same schema workers read with (range, integer, ...).
    const value = await setConfigValue(ctx.pool, key, String(body.value), actorOf(c));
    return c.json({ key, value });
  });

  return api;
}
