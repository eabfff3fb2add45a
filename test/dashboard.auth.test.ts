/**
 * Who may reach the dashboard: the bind/token rule (also through the real CLI), the bearer header,
 * the login form and its cookie, the Host check against DNS rebinding, CSRF on forms, security
 * headers, and a clean stop on SIGTERM.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../src/db/prisma.js";
import { createSecurity, safeNextPath, SESSION_COOKIE } from "../src/dashboard/auth.js";
import { createDashboardApp } from "../src/dashboard/server.js";
import { FAILED_LOGIN_DELAY_MS } from "../src/dashboard/login-throttle.js";
import { InvalidInputError } from "../src/errors.js";
import type { QueueContext } from "../src/queue/context.js";
import { CLI, queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";

const db = useTestDatabase();
let prisma: PrismaClient;
let ctx: QueueContext;
const TOKEN = "s3cret-token-for-tests-0123456789";
const BASE = "http://dash.internal:3000";

beforeAll(() => {
  prisma = createPrismaClient(db.pool);
  ctx = { pool: db.pool, prisma };
});
afterAll(async () => {
  await prisma.$disconnect();
});

function protectedApp() {
  return createDashboardApp({ ctx, security: createSecurity({ host: "0.0.0.0", token: TOKEN }) });
}

describe("binding", () => {
  it("refuses a non-loopback address without a token, and tokens shorter than 16 characters", () => {
    expect(() => createSecurity({ host: "0.0.0.0", token: undefined })).toThrow(InvalidInputError);
    expect(() => createSecurity({ host: "0.0.0.0", token: "" })).toThrow(/QUEUECTL_DASHBOARD_TOKEN/);
    expect(() => createSecurity({ host: "10.1.2.3", token: "short" })).toThrow(/at least 16 characters/);
    for (const host of ["127.0.0.1", "localhost", "::1", "127.0.0.2"]) {
      expect(createSecurity({ host, token: undefined }).token).toBeNull();
    }
    expect(createSecurity({ host: "0.0.0.0", token: TOKEN }).token).toBe(TOKEN);
  });

  it("the CLI exits 2 with one line when asked to bind elsewhere without a token", async () => {
    const res = await queuectl(["dashboard", "--host", "0.0.0.0", "--port", "0"], { env: { DATABASE_URL: db.url } });
    expect(res.code).toBe(2);
    expect(res.stdout).toBe("");
    expect(res.stderr.trim().split("\n")).toHaveLength(1);
    expect(res.stderr).toMatch(/^queuectl: refusing to listen on 0\.0\.0\.0 without a token: set QUEUECTL_DASHBOARD_TOKEN/);
    const badPort = await queuectl(["dashboard", "--port", "http"], { env: { DATABASE_URL: db.url } });
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/--port must be a whole number/);
  });
});

describe("token", () => {
  it("answers API and metrics requests without the token with 401, and with the bearer token normally", async () => {
    const app = protectedApp();
    const denied = await app.request(`${BASE}/api/overview`);
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await app.request(`${BASE}/metrics`)).status).toBe(401);
    expect((await app.request(`${BASE}/api/overview`, { headers: { authorization: "Bearer wrong-token-wrong-token" } })).status).toBe(401);
    expect((await app.request(`${BASE}/api/overview`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await app.request(`${BASE}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    // Scripts holding the token may POST without a browser's CSRF token.
    const post = await app.request(`${BASE}/api/dlq/retry-all`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ all: true }),
    });
    expect(post.status).toBe(200);
    // The health check stays open for load balancers; it tells nothing about the queue.
    expect(await (await app.request(`${BASE}/healthz`)).json()).toEqual({ ok: true });
  });

  it("sends browsers to the login form, which sets a session cookie for the right token only", async () => {
    const app = protectedApp();
    const page = await app.request(`${BASE}/dlq?offset=50`);
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/login?next=%2Fdlq%3Foffset%3D50");

    const login = await app.request(`${BASE}/login?next=%2Fdlq`);
    expect(login.status).toBe(200);
    const csrfCookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const html = await login.text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    expect(html).toContain('name="next" value="/dlq"');

    const submit = (token: string, extra: Record<string, string> = {}) =>
      app.request(`${BASE}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie, origin: BASE, ...extra },
        body: new URLSearchParams({ _csrf: csrf, next: "/dlq", token }).toString(),
      });

    const wrong = await submit("not-the-token");
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toContain("That token is not right.");
    expect(wrong.headers.get("set-cookie") ?? "").not.toContain(SESSION_COOKIE);

    const crossSite = await submit(TOKEN, { "sec-fetch-site": "cross-site" });
    expect(crossSite.status).toBe(403);

    const ok = await submit(TOKEN);
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/dlq");
    const setCookie = ok.headers.get("set-cookie")!;
    expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).not.toContain(TOKEN);
    const session = setCookie.split(";")[0]!;

    const inside = await app.request(`${BASE}/dlq`, { headers: { cookie: session } });
    expect(inside.status).toBe(200);
    expect(await inside.text()).toContain("Log out");
    expect((await app.request(`${BASE}/api/dlq`, { headers: { cookie: session } })).status).toBe(200);
  });

  it("keeps the login redirect on this site, whatever a browser would make of it", async () => {
    expect(safeNextPath("/jobs?state=dead")).toBe("/jobs?state=dead");
    expect(safeNextPath("//evil.example/x")).toBe("/");
    expect(safeNextPath("/\\evil.example")).toBe("/");
    expect(safeNextPath("https://evil.example")).toBe("/");
    expect(safeNextPath(undefined)).toBe("/");
    // Browsers drop tabs and newlines from a URL and read \ as /: each of these led to evil.example.
    for (const raw of ["/\t/evil.example/x", "/\t\\evil.example", "/\n/evil.example", "/\r\n/evil.example", "/%09/evil.example"]) {
      expect(new URL(safeNextPath(raw), "http://127.0.0.1:3000").host).toBe("127.0.0.1:3000");
    }
    // Through the login page itself: the query is decoded once, then judged; never a 500.
    const app = protectedApp();
    for (const next of ["/%09/evil.example/x", "/%09%5C", "/%0A/evil.example", "/%0D%0ASet-Cookie:%20x=1"]) {
      const res = await app.request(`${BASE}/login?next=${next}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('name="next" value="/"');
    }
  });

  it("throttles wrong tokens per client: 10 guesses sent at once take 10 delays, not one", async () => {
    const app = protectedApp();
    const login = await app.request(`${BASE}/login`);
    const csrfCookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.text())![1]!;
    const guess = () =>
      app.request(`${BASE}/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie, origin: BASE },
        body: new URLSearchParams({ _csrf: csrf, next: "/", token: "x".repeat(20) }).toString(),
      });
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 10 }, guess));
    expect(answers.every((r) => r.status === 401)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(10 * FAILED_LOGIN_DELAY_MS - 50);
  });

  it("logging out ends the session: the same cookie no longer opens anything", async () => {
    const app = protectedApp();
    const login = await app.request(`${BASE}/login`);
    const csrfCookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.text())![1]!;
    const ok = await app.request(`${BASE}/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie, origin: BASE },
      body: new URLSearchParams({ _csrf: csrf, next: "/", token: TOKEN }).toString(),
    });
    const session = ok.headers.get("set-cookie")!.split(";")[0]!;
    expect((await app.request(`${BASE}/api/dlq`, { headers: { cookie: session } })).status).toBe(200);
    // Another dashboard process over the same database honours it too.
    expect((await protectedApp().request(`${BASE}/api/dlq`, { headers: { cookie: session } })).status).toBe(200);
    const out = await app.request(`${BASE}/logout`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: `${csrfCookie}; ${session}`, origin: BASE },
      body: new URLSearchParams({ _csrf: csrf }).toString(),
    });
    expect(out.status).toBe(303);
    expect((await app.request(`${BASE}/api/dlq`, { headers: { cookie: session } })).status).toBe(401);
    expect((await protectedApp().request(`${BASE}/api/dlq`, { headers: { cookie: session } })).status).toBe(401);
    // A session opened under another token is not honoured either.
    const other = createDashboardApp({ ctx, security: createSecurity({ host: "0.0.0.0", token: "another-token-of-20-chars" }) });
    expect((await other.request(`${BASE}/api/dlq`, { headers: { cookie: session } })).status).toBe(401);
  });
});

describe("without a token (loopback)", () => {
  const open = () => createDashboardApp({ ctx, security: createSecurity({ host: "127.0.0.1", token: undefined }) });

  it("answers only requests addressed to a loopback name (no DNS rebinding)", async () => {
    const app = open();
    expect((await app.request("http://127.0.0.1:3000/api/config")).status).toBe(200);
    expect((await app.request("http://localhost:3000/api/config")).status).toBe(200);
    expect((await app.request("http://[::1]:3000/api/config")).status).toBe(200);
    expect((await app.request("http://attacker.example:3000/api/config")).status).toBe(421);
  });

  it("refuses POSTs with no Origin and no Sec-Fetch-Site (no browser, no token)", async () => {
    const res = await open().request("http://127.0.0.1:3000/api/dlq/retry-all", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ all: true }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toMatch(/^request refused/);
  });

  it("sends security headers: a strict CSP, no framing, no sniffing", async () => {
    const res = await open().request("http://127.0.0.1:3000/");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    const html = await res.text();
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
  });
});

describe("the dashboard command", () => {
  it("serves on the port it prints and stops cleanly on SIGTERM", async () => {
    const child = spawn(process.execPath, [CLI, "dashboard", "--port", "0"], { env: { ...process.env, DATABASE_URL: db.url }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${out} ${err}`)), 20_000);
        child.stdout.on("data", () => {
          const m = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      expect((await fetch(`${url}api/overview`)).status).toBe(200);
      // Search and a job's page read through Prisma Client, which the command loads beside its own
      // bundled pg: the adapter must take the command's pool as a pool.
      await db.pool.query(`INSERT INTO jobs (id, command, max_retries) VALUES ('search-me', 'backup --target s3', 3)`);
      const search = await fetch(`${url}api/jobs?q=backup`);
      expect(search.status).toBe(200);
      expect(((await search.json()) as { jobs: Array<{ id: string }> }).jobs.map((j) => j.id)).toEqual(["search-me"]);
      expect((await fetch(`${url}api/jobs/search-me`)).status).toBe(200);
      // A kept-alive connection must not hold the process open.
      expect((await fetch(`${url}healthz`, { keepalive: true })).status).toBe(200);
      const started = Date.now();
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(out).toContain("stopping the dashboard (SIGTERM)");
      expect(err).toBe("");
    } finally {
      child.kill("SIGKILL");
    }
  });
});
