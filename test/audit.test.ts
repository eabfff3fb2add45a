/**
 * The audit trail: one row per operator action, written with the action, saying who (role; OS user
 * and host from the CLI; session and client address from the dashboard), what, the target and the
 * values before and after; none for a refused action; `queuectl audit` and the dashboard's page list it.
 */
import { hostname, userInfo } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { Hono } from "hono";
import { createSecurity, type DashboardEnv } from "../src/dashboard/auth.js";
import { createDashboardApp } from "../src/dashboard/server.js";
import { createPool } from "../src/db/pool.js";
import { createPrismaClient, type PrismaClient } from "../src/db/prisma.js";
import type { AuditRow } from "../src/queue/sql/audit.js";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { useLoginRoles, urlAs } from "./helpers/roles.js";
import { startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const roles = useLoginRoles(db);
const TOKEN = "audit-test-token-0123456789";
const BASE = "http://127.0.0.1:3000";

/** A row as the tests read it (what sql/audit.ts's AuditRow has, but its id and time). */
type Row = Omit<AuditRow, "id" | "at">;

/** The rows written after mark(), oldest first. */
async function rowsSince(mark: string): Promise<Row[]> {
  return (await db.pool.query<Row>("SELECT db_role, source, os_user, host, session, client_addr, action, target, before, after FROM audit_log WHERE id > $1 ORDER BY id", [mark])).rows;
}
async function mark(): Promise<string> {
  return String((await db.pool.query("SELECT coalesce(max(id), 0) AS id FROM audit_log")).rows[0].id);
}

let owner: string;
beforeAll(async () => {
  owner = (await db.pool.query<{ u: string }>("SELECT current_user AS u")).rows[0]!.u;
  await db.pool.query(
    `INSERT INTO jobs (id, queue, command, state, max_retries, finished_at, last_attempt, attempts)
     VALUES ('p-1', 'default', 'echo p', 'pending', 0, NULL, 0, 0),
            ('c-1', 'default', 'echo c', 'completed', 0, now() - interval '1 hour', 1, 1),
            ('d-1', 'default', 'curl https://bob:hunter2@example.com/x', 'dead', 0, now() - interval '1 hour', 1, 1),
            ('d-2', 'default', 'exit 3', 'dead', 0, now() - interval '1 hour', 1, 1),
            ('d-3', 'default', 'exit 3', 'dead', 0, now() - interval '1 hour', 1, 1)`,
  );
  // A job some other host's worker runs (no such worker here: a kill is asked for, not delivered).
  await db.pool.query(
    `INSERT INTO jobs (id, queue, command, state, max_retries, worker_id, lease_expires_at, started_at, last_attempt, attempts)
     VALUES ('r-1', 'elsewhere', 'sleep 600', 'processing', 0, 'w-far', now() + interval '1 hour', now(), 1, 1)`,
  );
});

describe("from the CLI", () => {
  it("every operator command writes one row per target: role, OS user and host, action, target, before and after", async () => {
    const m = await mark();
    const steps: Array<[string[], Partial<Row>]> = [
      [["cancel", "p-1"], { action: "cancel", target: "p-1", before: { state: "pending" }, after: { state: "cancelled" } }],
      [["kill", "r-1", "--signal", "USR1"], { action: "kill", target: "r-1", before: null, after: { signal: "SIGUSR1", worker_id: "w-far" } }],
      [["requeue", "c-1"], { action: "requeue", target: "c-1", before: { state: "completed" }, after: { state: "pending" } }],
      [["dlq", "retry", "d-2", "d-3"], { action: "dlq retry", target: "d-2", before: { state: "dead" }, after: { state: "pending" } }],
      [[], { action: "dlq retry", target: "d-3" }],
      [
        ["dlq", "retry", "d-1", "--edit", '{"command":"curl https://bob:newpass@example.com/y","max_retries":2}'],
        {
          action: "dlq retry --edit",
          target: "d-1",
          // Secrets are masked in the trail, as everywhere a job is shown.
          before: { state: "dead", command: "curl https://bob:***@example.com/x", timeout_ms: null, max_retries: 0 },
          after: { state: "pending", command: "curl https://bob:***@example.com/y", timeout_ms: null, max_retries: 2 },
        },
      ],
      [["config", "set", "max_retries", "5"], { action: "config set", target: "max_retries", before: { value: null }, after: { value: "5" } }],
      [["config", "set", "max_retries", "6"], { action: "config set", target: "max_retries", before: { value: "5" }, after: { value: "6" } }],
      [["queue", "pause", "mail"], { action: "queue pause", target: "mail", before: { paused: false }, after: { paused: true } }],
      [["queue", "resume", "mail"], { action: "queue resume", target: "mail", before: { paused: true }, after: { paused: false } }],
      [["queue", "set-concurrency", "mail", "2"], { action: "queue set-concurrency", target: "mail", before: { concurrency_limit: null }, after: { concurrency_limit: 2 } }],
      [["schedule", "add", "nightly", "0 3 * * *", '{"command":"backup --password s3cr3t"}'], { action: "schedule add", target: "nightly", before: null }],
      [["schedule", "pause", "nightly"], { action: "schedule pause", target: "nightly", before: { paused: false } }],
      [["schedule", "resume", "nightly"], { action: "schedule resume", target: "nightly", before: { paused: true } }],
      [["schedule", "remove", "nightly"], { action: "schedule remove", target: "nightly", after: null }],
      [["purge", "--state", "cancelled", "--older-than", "0"], { action: "purge", target: "state=cancelled", after: { deleted: 1, older_than_s: 0 } }],
    ];
    for (const [args] of steps) {
      if (args.length === 0) continue;
      const res = await queuectl(args);
      expect(res.code, `${args.join(" ")}: ${res.stderr}`).toBe(0);
    }
    const rows = await rowsSince(m);
    expect(rows).toHaveLength(steps.length);
    steps.forEach(([, want], i) => expect(rows[i], `row ${i}`).toMatchObject({ ...want, db_role: owner, source: "cli", os_user: userInfo().username, host: hostname(), session: null, client_addr: null }));
    const schedule = rows.find((r) => r.action === "schedule add")!;
    expect(JSON.stringify(schedule.after)).toContain("--password ***");
    expect(JSON.stringify(rows)).not.toMatch(/hunter2|newpass|s3cr3t/);
  }, 240_000); // sixteen CLI runs one after the other: ~0.7 s each when quiet, three times that under load

  it("worker stop writes a row per worker asked; a refused action writes none", async () => {
    const worker = startWorkerProcess([], { QUEUECTL_LOG_LEVEL: "warn" });
    try {
      const id = await waitFor(async () => (await db.pool.query<{ id: string }>("SELECT id FROM workers WHERE state = 'running'")).rows[0]?.id, { what: "the worker to register" });
      const m = await mark();
      expect((await queuectl(["worker", "stop"])).code).toBe(0);
      await worker.exited;
      expect(await rowsSince(m)).toEqual([expect.objectContaining({ action: "worker stop", target: id, after: { stop_requested: true, timeout_ms: null } })]);
    } finally {
      worker.child.kill("SIGKILL");
    }
    await db.pool.query("INSERT INTO jobs (id, queue, command, state, max_retries) VALUES ('p-2', 'default', 'x', 'pending', 0)");
    const m = await mark();
    expect((await queuectl(["cancel", "p-2"])).code).toBe(0);
    expect((await queuectl(["cancel", "p-2"])).code).toBe(2); // now cancelled: refused
    expect((await queuectl(["requeue", "no-such-job"])).code).toBe(3);
    expect((await queuectl(["config", "set", "max_retries", "-1"])).code).toBe(2);
    expect((await rowsSince(m)).map((r) => r.action)).toEqual(["cancel"]);
  });

  it("queuectl audit lists them newest first, filters by --action and --since, and refuses an unknown action", async () => {
    const all = await queuectlJson<Row[]>(["audit"]);
    expect(all.length).toBeGreaterThan(10);
    expect(all[0]!.action).toBe("cancel");
    const dlq = await queuectlJson<Row[]>(["audit", "--action", "dlq"]);
    expect(new Set(dlq.map((r) => r.action))).toEqual(new Set(["dlq retry", "dlq retry --edit"]));
    const config = await queuectlJson<Row[]>(["audit", "--action", "config set", "--since", "1h"]);
    expect(config.map((r) => r.after)).toEqual([{ value: "6" }, { value: "5" }]);
    const table = await queuectl(["audit", "--action", "queue pause"]);
    expect(table.stdout).toMatch(/queue pause\s+mail\s+paused: false -> paused: true/);
    expect(table.stdout).toContain(`${owner} (${userInfo().username}@${hostname()})`);
    const bad = await queuectl(["audit", "--action", "reboot"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^queuectl: unknown action 'reboot'/);
    expect((await queuectl(["audit", "--since", "yesterday"])).stderr).toMatch(/--since 'yesterday' is not an age/);
  });
});

describe("from the dashboard", () => {
  let prisma: PrismaClient;
  let app: Hono<DashboardEnv>;
  beforeAll(async () => {
    prisma = createPrismaClient(db.pool);
    app = createDashboardApp({ ctx: { pool: db.pool, prisma }, security: createSecurity({ host: "0.0.0.0", token: TOKEN }) });
  });
  afterAll(async () => {
    await prisma.$disconnect();
  });

  /** Logs in through the form; returns a POST that carries the session cookie and the CSRF token. */
  async function login(): Promise<(path: string, body: unknown) => Promise<Response>> {
    const form = await app.request(`${BASE}/login`);
    const csrfCookie = form.headers.get("set-cookie")!.split(";")[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const ok = await app.request(`${BASE}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie, origin: BASE },
      body: new URLSearchParams({ _csrf: csrf, next: "/", token: TOKEN }).toString(),
    });
    const session = ok.headers.get("set-cookie")!.split(";")[0]!;
    const page = await app.request(`${BASE}/`, { headers: { cookie: session } });
    const cookies = [session, ...(page.headers.get("set-cookie") ?? "").split(/,(?=\s*\w+=)/).map((c) => c.split(";")[0]!.trim()).filter(Boolean)];
    const token = /name="csrf-token" content="([^"]+)"/.exec(await page.text())![1]!;
    return async (path, body) =>
      app.request(`${BASE}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie: cookies.join("; "), "x-csrf-token": token, origin: BASE, "sec-fetch-site": "same-origin" },
        body: JSON.stringify(body),
      });
  }

  it("each action writes a row naming the session and the client; the audit page's API lists them", async () => {
    await db.pool.query("INSERT INTO jobs (id, queue, command, state, max_retries, finished_at, last_attempt, attempts) VALUES ('dash-d', 'default', 'x', 'dead', 0, now(), 1, 1), ('dash-p', 'default', 'x', 'pending', 0, NULL, 0, 0)");
    const m = await mark();
    const bearer = async (path: string, body: unknown) =>
      app.request(`${BASE}${path}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect((await bearer("/api/jobs/dash-p/cancel", {})).status).toBe(200);
    const post = await login();
    expect((await post("/api/dlq/dash-d/retry", {})).status).toBe(200);
    expect((await post("/api/queues/mail/pause", {})).status).toBe(200);
    expect((await post("/api/queues/mail/resume", {})).status).toBe(200);
    expect((await post("/api/config/backoff_base", { value: 3 })).status).toBe(200);
    await db.pool.query("UPDATE jobs SET state = 'dead' WHERE id = 'dash-d'");
    expect((await post("/api/dlq/retry-all", { all: true })).status).toBe(200);
    const rows = await rowsSince(m);
    expect(rows.slice(0, 5).map((r) => [r.action, r.target])).toEqual([
      ["cancel", "dash-p"],
      ["dlq retry", "dash-d"],
      ["queue pause", "mail"],
      ["queue resume", "mail"],
      ["config set", "backoff_base"],
    ]);
    // Retry all: a row per job it retried (the other dead jobs of this file too).
    const retriedAll = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE state = 'pending' AND id IN (SELECT target FROM audit_log WHERE id > $1 AND action = 'dlq retry')", [m]);
    expect(rows.slice(5).map((r) => r.action)).toEqual(Array(rows.length - 5).fill("dlq retry"));
    expect(rows.slice(5).map((r) => r.target)).toContain("dash-d");
    expect(retriedAll.rows[0]!.n).toBeGreaterThanOrEqual(rows.length - 5);
    for (const r of rows) expect(r).toMatchObject({ source: "dashboard", db_role: owner, os_user: null, host: null, client_addr: "local" });
    expect(rows[0]!.session).toBe("bearer");
    const session = rows[1]!.session!;
    expect(session).toMatch(/^[0-9a-f]{12}$/);
    expect(new Set(rows.slice(1).map((r) => r.session))).toEqual(new Set([session]));
    // The reference names a stored session without giving its cookie away.
    expect((await db.pool.query("SELECT count(*)::int AS n FROM dashboard_sessions WHERE id LIKE $1 || '%'", [session])).rows[0].n).toBe(1);

    const api = await app.request(`${BASE}/api/audit`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await api.json()) as { entries: Row[] };
    expect(body.entries.slice(rows.length - 5, rows.length).map((e) => e.action)).toEqual(["config set", "queue resume", "queue pause", "dlq retry", "cancel"]);
  });

  it("a dashboard running as a viewer shows no action buttons and answers an action with 403, changing nothing", async () => {
    const viewer = await roles.create("dashviewer");
    expect((await queuectl(["db", "grant", viewer, "--as", "viewer"])).code).toBe(0);
    const pool = createPool(urlAs(db, viewer), { max: 2 });
    const viewerPrisma = createPrismaClient(pool);
    try {
      const viewerApp = createDashboardApp({ ctx: { pool, prisma: viewerPrisma }, security: createSecurity({ host: "127.0.0.1", token: undefined }) });
      const ownerPage = await (await app.request(`${BASE}/`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      expect(ownerPage).toContain('data-can-act="true"');
      const answer = await viewerApp.request(`${BASE}/dlq`);
      const cookie = answer.headers.get("set-cookie")!.split(";")[0]!;
      const page = await answer.text();
      expect(page).toContain('data-can-act="false"');
      const m = await mark();
      const res = await viewerApp.request(`${BASE}/api/queues/mail/pause`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: BASE, "sec-fetch-site": "same-origin", "x-csrf-token": /name="csrf-token" content="([^"]+)"/.exec(page)![1]!, cookie },
        body: "{}",
      });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toMatch(/^the dashboard's database role may not do this: permission denied for table queues/);
      expect(await rowsSince(m)).toEqual([]);
      expect((await db.pool.query("SELECT paused FROM queues WHERE name = 'mail'")).rows[0]?.paused ?? false).toBe(false);
    } finally {
      await viewerPrisma.$disconnect();
      await pool.end();
    }
  });
});

describe("the rows themselves", () => {
  it("cannot be forged: the server fills in the role and the time", async () => {
    const admin = await roles.create("auditadmin");
    expect((await queuectl(["db", "grant", admin, "--as", "admin"])).code).toBe(0);
    const client = new pg.Client({ connectionString: urlAs(db, admin) });
    await client.connect();
    try {
      await client.query("INSERT INTO audit_log (source, action, target) VALUES ('cli', 'cancel', 'by-hand')");
      await expect(client.query("INSERT INTO audit_log (source, action, target, at) VALUES ('cli', 'cancel', 'x', now() - interval '1 year')")).rejects.toMatchObject({ code: "42501" });
    } finally {
      await client.end();
    }
    const row = (await db.pool.query("SELECT db_role, at > now() - interval '1 minute' AS recent FROM audit_log WHERE target = 'by-hand'")).rows[0];
    expect(row).toEqual({ db_role: admin, recent: true });
  });
});
