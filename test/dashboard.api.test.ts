/**
 * The dashboard's JSON API and /metrics against a real database with known data, driven through
 * app.request() (no socket): what each endpoint returns, that input is validated, and that state
 * changes (DLQ retry, config) happen only through POST with a CSRF token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hono } from "hono";
import { createPrismaClient, type PrismaClient } from "../src/db/prisma.js";
import { createSecurity, type DashboardEnv } from "../src/dashboard/auth.js";
import { createDashboardApp } from "../src/dashboard/server.js";
import type { QueueContext } from "../src/queue/context.js";
import { useTestDatabase } from "./helpers/db.js";
import { SEED, seedDashboardData, stateOf, WORKER_ID } from "./helpers/dashboard.js";

const db = useTestDatabase();
let prisma: PrismaClient;
let ctx: QueueContext;
let app: Hono<DashboardEnv>;
const BASE = "http://127.0.0.1:3000";

beforeAll(async () => {
  prisma = createPrismaClient(db.pool);
  ctx = { pool: db.pool, prisma };
  await seedDashboardData(ctx);
  app = createDashboardApp({ ctx, security: createSecurity({ host: "127.0.0.1", token: undefined }) });
});
afterAll(async () => {
  await prisma.$disconnect();
});

/** app.request() on BASE; always a promise (Hono's type allows a plain Response). */
async function request(path: string, init?: RequestInit): Promise<Response> {
  return app.request(`${BASE}${path}`, init);
}

async function getJson(path: string): Promise<{ status: number; body: any }> {
  const res = await request(path);
  return { status: res.status, body: await res.json() };
}

/** A browser's view: the CSRF cookie and token a page hands out, sent back on POST. */
async function browser(): Promise<{ post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response> }> {
  const page = await request("/");
  const cookie = page.headers.get("set-cookie")!.split(";")[0]!;
  const token = /name="csrf-token" content="([^"]+)"/.exec(await page.text())![1]!;
  return {
    post: (path, body, headers = {}) =>
      request(path, {
        method: "POST",
        headers: { "content-type": "application/json", cookie, "x-csrf-token": token, origin: BASE, "sec-fetch-site": "same-origin", ...headers },
        body: JSON.stringify(body),
      }),
  };
}

describe("GET /api/overview", () => {
  it("counts jobs per state and queue, the DLQ, live workers and the last hour's attempts", async () => {
    const { status, body } = await getJson("/api/overview");
    expect(status).toBe(200);
    expect(body.jobs).toEqual({ pending: 2, processing: 1, completed: 3, failed: 0, dead: 2, cancelled: 0 });
    expect(body.total).toBe(8);
    expect(body.dlq).toBe(2);
    expect(body.workers).toBe(1);
    expect(body.avg_duration_ms).toBe(120);
    expect(body.oldest_runnable_age_ms).toBeGreaterThanOrEqual(0);
    expect(body.queues).toEqual([
      { queue: "default", counts: { pending: 1, processing: 1, completed: 2, failed: 0, dead: 1, cancelled: 0 }, total: 5, concurrency_limit: null, paused: false },
      { queue: "emails", counts: { pending: 1, processing: 0, completed: 1, failed: 0, dead: 1, cancelled: 0 }, total: 3, concurrency_limit: null, paused: false },
    ]);
    expect(body.throughput).toHaveLength(60);
    const last = body.throughput.at(-1);
    expect(last).toMatchObject({ completed: 3, failed: 2 });
    expect(Date.parse(body.now)).toBeGreaterThan(Date.parse(last.at));
    expect(res404Free(body)).toBe(true);
  });
});

/** No endpoint leaks internals such as stack traces. */
function res404Free(body: unknown): boolean {
  return !JSON.stringify(body).includes("    at ");
}

describe("GET /api/jobs", () => {
  it("lists newest first with the job JSON of the CLI, and the queue names for the filter", async () => {
    const { body } = await getJson("/api/jobs");
    expect(body.jobs.map((j: { id: string }) => j.id)).toEqual(["pending-2", "pending-1", "running-1", "dead-2", "dead-1", "ok-3", "ok-2", "ok-1"]);
    expect(Object.keys(body.jobs[0]).sort()).toEqual(
      ["attempts", "last_attempt", "command", "created_at", "duration_ms", "exit_code", "finished_at", "id", "last_error", "max_retries", "priority", "queue", "run_at", "started_at", "state", "timeout_ms", "updated_at", "worker_id", "deps_pending", "cwd", "env", "progress_pct", "progress_message", "progress_at"].sort(),
    );
    expect(body.queues).toEqual(SEED.queues);
    expect(body.more).toBe(false);
  });

  it("filters by state and queue, and pages", async () => {
    expect((await getJson("/api/jobs?state=dead")).body.jobs.map((j: { id: string }) => j.id)).toEqual(["dead-2", "dead-1"]);
    expect((await getJson("/api/jobs?state=completed&queue=emails")).body.jobs.map((j: { id: string }) => j.id)).toEqual(["ok-3"]);
    const first = (await getJson("/api/jobs?limit=3")).body;
    expect(first.jobs.map((j: { id: string }) => j.id)).toEqual(["pending-2", "pending-1", "running-1"]);
    expect(first.more).toBe(true);
    const last = (await getJson("/api/jobs?limit=3&offset=6")).body;
    expect(last.jobs.map((j: { id: string }) => j.id)).toEqual(["ok-2", "ok-1"]);
    expect(last.more).toBe(false);
    // An empty filter field (an unselected <select>) means no filter.
    expect((await getJson("/api/jobs?state=&queue=&q=")).body.jobs).toHaveLength(8);
  });

  it("searches ids and command text, case-insensitively, with LIKE wildcards taken literally", async () => {
    expect((await getJson("/api/jobs?q=MAIL")).body.jobs.map((j: { id: string }) => j.id)).toEqual(["dead-2", "ok-3"]);
    expect((await getJson("/api/jobs?q=ok-")).body.jobs.map((j: { id: string }) => j.id)).toEqual(["ok-3", "ok-2", "ok-1"]);
    expect((await getJson("/api/jobs?q=nobody&state=dead")).body.jobs.map((j: { id: string }) => j.id)).toEqual(["dead-2"]);
    expect((await getJson("/api/jobs?q=%25")).body.jobs).toEqual([]);
    expect((await getJson("/api/jobs?q=o_-")).body.jobs).toEqual([]);
    expect((await getJson("/api/jobs?q=%5C")).body.jobs).toEqual([]);
    expect((await getJson("/api/jobs?q=%26%26")).body.jobs.map((j: { id: string }) => j.id)).toEqual(["dead-1"]);
  });

  it("rejects invalid filters with 400 and one line naming the field", async () => {
    const bad = await getJson("/api/jobs?state=exploded");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^state: /);
    expect((await getJson("/api/jobs?limit=0")).status).toBe(400);
    expect((await getJson("/api/jobs?limit=abc")).status).toBe(400);
    expect((await getJson("/api/jobs?offset=-1")).status).toBe(400);
    expect((await getJson(`/api/jobs?q=${"x".repeat(201)}`)).status).toBe(400);
  });
});

describe("GET /api/jobs/:id", () => {
  it("answers 404 for what is not a job id (a NUL byte, a control character), 400 for a bad filter, never 500", async () => {
    for (const path of ["/api/jobs/%00", "/api/jobs/a%0Ab", "/api/jobs/%FF%FE"]) expect((await getJson(path)).status, path).toBe(404);
    for (const path of ["/api/jobs?queue=%00", "/api/jobs?q=%00"]) expect((await getJson(path)).status, path).toBe(400);
  });

  it("returns the job, its attempts with captured output, and its DLQ entry", async () => {
    const { status, body } = await getJson("/api/jobs/dead-1");
    expect(status).toBe(200);
    expect(body.job).toMatchObject({ id: "dead-1", state: "dead", attempts: 1, exit_code: 3, last_error: "exit code 3", worker_id: WORKER_ID });
    expect(body.history).toHaveLength(1);
    expect(body.history[0]).toMatchObject({ attempt: 1, worker_id: WORKER_ID, exit_code: 3, error: "exit code 3", output: "boom: disk full\n" });
    expect(body.history[0].duration_ms).toBeGreaterThanOrEqual(0);
    expect(body.dead_letter).toMatchObject({ reason: "failed 1 attempt", last_error: "exit code 3" });

    const ok = (await getJson("/api/jobs/ok-1")).body;
    expect(ok.history[0]).toMatchObject({ exit_code: 0, error: null, output: "hello from ok-1\n" });
    expect(ok.dead_letter).toBeNull();
    const running = (await getJson("/api/jobs/running-1")).body;
    expect(running.history[0]).toMatchObject({ finished_at: null, output: null, duration_ms: null });
  });

  it("answers 404 with one line for an unknown job", async () => {
    const { status, body } = await getJson("/api/jobs/no-such-job");
    expect(status).toBe(404);
    expect(body).toEqual({ error: "no job 'no-such-job'" });
  });
});

describe("GET /api/workers and /api/config", () => {
  it("lists workers with host, pid, state, current jobs and heartbeat age", async () => {
    const { body } = await getJson("/api/workers");
    expect(body.workers).toHaveLength(1);
    expect(body.workers[0]).toMatchObject({ id: WORKER_ID, host: "web-1", pid: 4242, state: "running", concurrency: 2, queues: ["default", "emails"], current_jobs: ["running-1"] });
    expect(body.workers[0].heartbeat_age_ms).toBeGreaterThanOrEqual(0);
    expect(body.workers[0].heartbeat_age_ms).toBeLessThan(60_000);
    expect(body.lease_ms).toBe(30_000);
  });

  it("shows every config key with its value, default and meaning", async () => {
    const { body } = await getJson("/api/config");
    expect(body.config.map((c: { key: string }) => c.key)).toEqual(["max_retries", "backoff_base", "backoff_max_s", "job_timeout_ms", "poll_interval_ms", "lease_ms", "output_limit_bytes", "backoff_jitter", "retention_completed", "retention_audit", "vacuum_dead_rows", "env_allowlist", "pass_env"]);
    expect(body.config[0]).toMatchObject({ key: "max_retries", value: 3, default: 3 });
    expect(body.config[0].help).toMatch(/retries/);
  });
});

describe("POST /api/config/:key", () => {
  it("saves a valid value, as `config set` would", async () => {
    const b = await browser();
    const res = await b.post("/api/config/max_retries", { value: "5" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ key: "max_retries", value: 5 });
    expect((await db.pool.query("SELECT value FROM config WHERE key = 'max_retries'")).rows[0].value).toBe("5");
  });

  it("rejects invalid values (400) and unknown keys (404), changing nothing", async () => {
    const b = await browser();
    const bad = await b.post("/api/config/max_retries", { value: "-1" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^config max_retries: invalid value '-1'/);
    expect((await b.post("/api/config/max_retries", { value: "" })).status).toBe(400);
    expect((await b.post("/api/config/max_retries", { value: "5", extra: 1 })).status).toBe(400);
    expect((await b.post("/api/config/nope", { value: "1" })).status).toBe(404);
    const notJson = await b.post("/api/config/max_retries", "x", { "content-type": "text/plain" });
    expect(notJson.status).toBe(400);
    expect((await db.pool.query("SELECT value FROM config WHERE key = 'max_retries'")).rows[0].value).toBe("5");
  });
});

describe("DLQ", () => {
  it("lists dead jobs with reason and last error, newest first", async () => {
    const { body } = await getJson("/api/dlq");
    expect(body.total).toBe(2);
    expect(body.entries.map((e: { job_id: string }) => e.job_id)).toEqual(["dead-2", "dead-1"]);
    expect(body.entries[1]).toMatchObject({ job_id: "dead-1", queue: "default", command: "false && echo never", attempts: 1, reason: "failed 1 attempt", last_error: "exit code 3" });
  });

  it("refuses a retry without the CSRF token or from another site, and leaves the job dead", async () => {
    const b = await browser();
    const noToken = await request("/api/dlq/dead-1/retry", { method: "POST", headers: { "content-type": "application/json", origin: BASE }, body: "{}" });
    expect(noToken.status).toBe(403);
    expect(await b.post("/api/dlq/dead-1/retry", {}, { "sec-fetch-site": "cross-site", origin: "https://evil.example" }).then((r) => r.status)).toBe(403);
    expect(await b.post("/api/dlq/dead-1/retry", {}, { "x-csrf-token": "forged" }).then((r) => r.status)).toBe(403);
    expect((await request("/api/dlq/dead-1/retry")).status).toBe(404);
    expect(await stateOf(db.pool, "dead-1")).toBe("dead");
  });

  it("retries one job: pending again with attempts reset, gone from the DLQ", async () => {
    const b = await browser();
    const res = await b.post("/api/dlq/dead-1/retry", {});
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ retried: ["dead-1"] });
    expect(await stateOf(db.pool, "dead-1")).toBe("pending");
    expect((await getJson("/api/dlq")).body.total).toBe(1);
    // A second retry of the same job is a conflict, not a crash.
    const again = await b.post("/api/dlq/dead-1/retry", {});
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toBe("job 'dead-1' is not in the DLQ (it is pending)");
    expect((await b.post("/api/dlq/ghost/retry", {})).status).toBe(404);
  });

  it("retries all only with an explicit {all: true}", async () => {
    const b = await browser();
    expect((await b.post("/api/dlq/retry-all", {})).status).toBe(400);
    const res = await b.post("/api/dlq/retry-all", { all: true });
    expect(await res.json()).toEqual({ retried: ["dead-2"] });
    expect((await getJson("/api/dlq")).body.total).toBe(0);
  });
});

describe("GET /metrics", () => {
  it("reports jobs, lag, workers, attempt counters and the duration histogram from the database", async () => {
    const res = await request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toContain("# TYPE queuectl_jobs gauge");
    expect(text).toContain('queuectl_jobs{queue="default",state="completed"} 2');
    expect(text).toContain('queuectl_jobs{queue="emails",state="cancelled"} 0');
    expect(text).toContain("queuectl_workers_alive 1");
    expect(text).toContain("queuectl_dead_letter_queue_jobs 0");
    expect(text).toMatch(/queuectl_queue_lag_seconds\{queue="default"\} \d/);
    expect(text).toContain("# TYPE queuectl_job_attempts_total counter");
    expect(text).toContain('queuectl_job_attempts_total{queue="default",outcome="completed"} 2');
    expect(text).toContain('queuectl_job_attempts_total{queue="emails",outcome="failed"} 1');
    expect(text).toContain('queuectl_jobs_dead_lettered_total{queue="emails"} 1');
    expect(text).toContain("# TYPE queuectl_job_attempt_duration_seconds histogram");
    expect(text).toMatch(/queuectl_job_attempt_duration_seconds_bucket\{queue="default",outcome="completed",le="\+Inf"\} 2/);
    expect(text).toMatch(/queuectl_job_attempt_duration_seconds_count\{queue="emails",outcome="completed"\} 1/);
    // Buckets are cumulative: never decreasing along le.
    const buckets = [...text.matchAll(/queuectl_job_attempt_duration_seconds_bucket\{queue="default",outcome="completed",le="[^"]+"\} (\d+)/g)].map((m) => Number(m[1]));
    expect(buckets.length).toBe(15);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it("gives concurrent scrapes the same snapshot", async () => {
    const texts = await Promise.all([1, 2, 3].map(async () => (await request("/metrics")).text()));
    expect(new Set(texts).size).toBe(1);
  });
});

describe("errors", () => {
  it("answers unknown endpoints with 404 JSON and unknown pages with an HTML page", async () => {
    const api = await request("/api/nope");
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: "no such endpoint: GET /api/nope" });
    const page = await request("/nope");
    expect(page.status).toBe(404);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
  });

  it("hides unexpected errors behind one generic line (no stack, no SQL)", async () => {
    const broken = createDashboardApp({
      ctx: { pool: { query: async () => { throw new Error("relation \"jobs\" does not exist"); } } as never, prisma },
      security: createSecurity({ host: "127.0.0.1", token: undefined }),
    });
    const res = await broken.request(`${BASE}/api/overview`);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "internal error (see the dashboard's log)" });
  });

  it("rejects bodies larger than the limit", async () => {
    const b = await browser();
    const res = await b.post("/api/config/max_retries", { value: "1".repeat(20_000) });
    expect(res.status).toBe(413);
  });
});

describe("operator actions", () => {
  it("pauses and resumes a queue (shown on the overview), only with the CSRF token", async () => {
    const b = await browser();
    expect(await b.post("/api/queues/emails/pause", {}, { "x-csrf-token": "forged" }).then((r) => r.status)).toBe(403);
    const res = await b.post("/api/queues/emails/pause", {});
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ queue: "emails", paused: true });
    await new Promise((r) => setTimeout(r, 1100)); // the overview read is shared for a second
    const paused = (await getJson("/api/overview")).body.queues.find((q: { queue: string }) => q.queue === "emails");
    expect(paused).toMatchObject({ paused: true, concurrency_limit: null });
    expect((await b.post("/api/queues/emails/resume", {})).status).toBe(200);
    expect((await b.post("/api/queues/bad%20name/pause", {})).status).toBe(400);
  });

  it("cancels a pending job; a second cancel is a conflict and an unknown job is 404", async () => {
    const b = await browser();
    const res = await b.post("/api/jobs/pending-1/cancel", {});
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: "pending-1", previous_state: "pending", state: "cancelled", worker_id: null });
    expect(await stateOf(db.pool, "pending-1")).toBe("cancelled");
    const again = await b.post("/api/jobs/pending-1/cancel", {});
    expect(again.status).toBe(409);
    expect((await b.post("/api/jobs/ghost/cancel", {})).status).toBe(404);
  });
});
