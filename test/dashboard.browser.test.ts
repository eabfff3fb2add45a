/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core (never a downloaded
 * browser). Each page is opened on known data and checked for what it shows; a DLQ entry is retried
 * by clicking; the overview is saved as test-artifacts/dashboard-overview.png.
 *
 * Skips, saying why, when /usr/bin/chromium is missing (install: apt-get install -y chromium).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "../src/db/prisma.js";
import { startDashboard, type RunningDashboard } from "../src/dashboard/server.js";
import type { QueueContext } from "../src/queue/context.js";
import { enqueueJobs } from "../src/queue/enqueue.js";
import { addSchedule } from "../src/queue/schedules.js";
import { useTestDatabase } from "./helpers/db.js";
import { seedDashboardData, seedHistory, stateOf, WORKER_ID } from "./helpers/dashboard.js";

const CHROMIUM = "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const ARTIFACTS = fileURLToPath(new URL("../test-artifacts/", import.meta.url));
/** Jobs seedHistory writes into queue `reports`. */
const HISTORY = 120;

if (!HAVE_CHROMIUM) {
  console.warn(`dashboard browser tests skipped: ${CHROMIUM} is missing (install it with: apt-get install -y chromium)`);
}

describe.skipIf(!HAVE_CHROMIUM)(`dashboard in chromium${HAVE_CHROMIUM ? "" : ` (skipped: ${CHROMIUM} is missing)`}`, () => {
  const db = useTestDatabase();
  let prisma: PrismaClient;
  let ctx: QueueContext;
  let dashboard: RunningDashboard;
  let browser: BrowserContext;
  let profile: string;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    prisma = createPrismaClient(db.pool);
    ctx = { pool: db.pool, prisma };
    await seedDashboardData(ctx);
    await seedHistory(db.pool, HISTORY);
    dashboard = await startDashboard({ ctx, port: 0 });
    profile = mkdtempSync(join(tmpdir(), "queuectl-chromium-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1360, height: 900 },
      colorScheme: "light",
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.setDefaultTimeout(10_000);
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      // Expected answers, not faults: 400 for the invalid config value, 401 for the wrong login token,
      // 404 for the missing job.
      if (msg.type() === "error" && !/status of (400|401|404)/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    // Every request must stay on this machine: the pages work offline (no CDN).
    page.on("request", (req) => {
      const url = new URL(req.url());
      if (url.protocol !== "data:" && url.hostname !== "127.0.0.1") problems.push(`external request: ${req.url()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await prisma?.$disconnect();
    if (profile) rmSync(profile, { recursive: true, force: true });
    expect(problems).toEqual([]);
  });

  const open = async (path: string) => {
    await page.goto(new URL(path, dashboard.url).toString());
  };

  it("overview: counts per state, DLQ, workers, average duration, throughput chart and queues", async () => {
    await open("/");
    await expect.poll(() => page.locator('.tile[data-state="completed"] .value').textContent()).toBe(String(3 + HISTORY));
    const tile = (state: string) => page.locator(`.tile[data-state="${state}"] .value`).textContent();
    expect(await tile("pending")).toBe("2");
    expect(await tile("processing")).toBe("1");
    expect(await tile("dead")).toBe("2");
    expect(await tile("failed")).toBe("0");
    expect(await page.locator("#stat-dlq").textContent()).toBe("2 jobs");
    expect(await page.locator("#stat-workers").textContent()).toBe("1");
    expect(await page.locator("#stat-avg").textContent()).toMatch(/^\d+(\.\d)?s$|^\d+ms$/);
    expect(await page.locator("#stat-lag").textContent()).toMatch(/^waiting /);
    expect(await page.locator("#dlq-badge").textContent()).toBe("2");
    expect(await page.locator(".chart svg g.slot").count()).toBe(60);
    expect(await page.locator(".chart .bar-completed").count()).toBeGreaterThan(30);
    const queues = await page.locator("section.card.flush tbody tr td:first-child").allTextContents();
    expect(queues).toEqual(["default", "emails", "reports"]);
    await expect.poll(() => page.locator("#live-text").textContent()).toMatch(/^live/);
    // The health card lists doctor's findings for this server, whatever they are, one per line.
    const health = await page.evaluate(async () => ((await (await fetch("/api/overview")).json()) as { health: { healthy: boolean; findings: Array<{ check: string }> } }).health);
    const checks = await page.locator("#health li.finding").evaluateAll((els) => els.map((e) => e.getAttribute("data-check")));
    expect(checks).toEqual(health.findings.map((f) => f.check));
    expect(await page.locator("#health h2").textContent()).toBe(health.healthy ? "Health" : "Health: problems found");

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-overview.png"), fullPage: true });
  });

  it("overview refreshes itself without reloading the page", async () => {
    await open("/");
    await expect.poll(() => page.locator('.tile[data-state="pending"] .value').textContent()).toBe("2");
    await page.evaluate(() => Object.assign(globalThis, { sameDocument: true }));
    await enqueueJobs(ctx, { specs: [{ id: "fresh-1", command: "echo new" }] });
    await expect.poll(() => page.locator('.tile[data-state="pending"] .value').textContent(), { timeout: 10_000 }).toBe("3");
    expect(await page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).toBe(true);
  });

  it("jobs: filters by state and queue, searches, and links to a job", async () => {
    await open("/jobs");
    const ids = () => page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-job-id")));
    await expect.poll(ids).toHaveLength(50);
    expect((await ids())[0]).toBe("fresh-1");
    await page.locator('select[name="state"]').selectOption("dead");
    await expect.poll(ids).toEqual(["dead-2", "dead-1"]);
    expect(page.url()).toMatch(/\/jobs\?state=dead$/);
    await page.locator('select[name="state"]').selectOption("");
    await page.locator('select[name="queue"]').selectOption("emails");
    await expect.poll(ids).toEqual(["pending-2", "dead-2", "ok-3"]);
    await page.locator('select[name="queue"]').selectOption("");
    await page.locator('input[name="q"]').fill("backup");
    await expect.poll(ids).toEqual(["ok-2"]);
    await page.locator('tr[data-job-id="ok-2"] a').click();
    await page.waitForURL(/\/jobs\/ok-2$/);
    await expect.poll(() => page.locator("pre.output").first().textContent()).toBe("dumped 42 tables\n");
  });

  it("jobs: pages through older jobs", async () => {
    await open("/jobs?queue=reports");
    const count = () => page.locator("tbody tr").count();
    await expect.poll(count).toBe(50);
    await page.getByRole("button", { name: "Older →" }).click();
    await expect.poll(() => page.locator(".pager span").first().textContent()).toBe("Showing 51–100");
    await page.getByRole("button", { name: "Older →" }).click();
    await expect.poll(count).toBe(HISTORY - 100);
    expect(await page.getByRole("button", { name: "Older →" }).isDisabled()).toBe(true);
    expect(page.url()).toMatch(/offset=100/);
  });

  it("job detail: fields, attempt history with captured output, and the DLQ entry", async () => {
    await open("/jobs/dead-1");
    await expect.poll(() => page.locator("pre.output").first().textContent()).toBe("boom: disk full\n");
    const fields = await page.locator(".fields").first().innerText();
    expect(fields).toContain("false && echo never");
    expect(fields).toContain("exit code 3");
    expect(fields).toContain(WORKER_ID);
    expect(await page.locator(".fields .badge").first().textContent()).toBe("dead");
    expect(await page.locator("#dead-letter").innerText()).toContain("failed 1 attempt");
    expect(await page.locator("details.attempt").count()).toBe(1);
    expect(await page.locator("details.attempt summary").innerText()).toMatch(/Attempt 1\s+failed/);
    expect(await page.locator("#retry-job").isVisible()).toBe(true);

    await open("/jobs/no-such-job");
    await expect.poll(() => page.locator(".error-box").textContent()).toBe("There is no job no-such-job (it may have been removed).");
  });

  it("DLQ: shows reason and last error; clicking Retry puts the job back to pending", async () => {
    await open("/dlq");
    const rows = () => page.locator("tbody tr").evaluateAll((r) => r.map((x) => x.getAttribute("data-job-id")));
    await expect.poll(rows).toEqual(["dead-2", "dead-1"]);
    const row = page.locator('tr[data-job-id="dead-1"]');
    expect(await row.innerText()).toContain("failed 1 attempt");
    expect(await row.innerText()).toContain("exit code 3");

    await row.getByRole("button", { name: "Retry" }).click();
    await expect.poll(() => page.locator(".flash.ok").textContent()).toBe("Job dead-1 is pending again (attempts reset to 0).");
    await expect.poll(rows).toEqual(["dead-2"]);
    expect(await stateOf(db.pool, "dead-1")).toBe("pending");

    await open("/jobs/dead-1");
    await expect.poll(() => page.locator(".fields .badge").first().textContent()).toBe("pending");
  });

  it("DLQ: Retry all, after confirming, empties it", async () => {
    await open("/dlq");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
    page.once("dialog", (d) => void d.accept());
    await page.locator("#retry-all").click();
    await expect.poll(() => page.locator(".empty").textContent()).toBe("The dead letter queue is empty.");
    expect(await stateOf(db.pool, "dead-2")).toBe("pending");
    await expect.poll(() => page.locator("#dlq-badge").isHidden()).toBe(true);
  });

  it("workers: host, pid, state, current job and heartbeat age", async () => {
    await open("/workers");
    const row = page.locator(`tr[data-worker-id="${WORKER_ID}"]`);
    await expect.poll(() => row.count()).toBe(1);
    const cells = await row.locator("td").allInnerTexts();
    expect(cells.slice(0, 4)).toEqual([WORKER_ID, "web-1", "4242", "running"]);
    expect(cells[5]).toBe("1/2");
    expect(cells[6]).toBe("running-1");
    expect(cells[7]).toMatch(/^\d+[smh] ago$/);
  });

  it("schedules and a job's dependency chain", async () => {
    await addSchedule(ctx, { name: "nightly", cron: "0 3 * * *", timezone: "UTC", job: { command: "backup" }, missed: "skip", catchUpLimit: 10 });
    await enqueueJobs(ctx, {
      specs: [
        { id: "pipe-a", command: "fetch", queue: "pipeline" },
        { id: "pipe-b", command: "build", queue: "pipeline", depends_on: ["pipe-a"], env: { API_KEY: "sekrit", MODE: "x" } },
        { id: "pipe-c", command: "ship", queue: "pipeline", depends_on: ["pipe-b"] },
      ],
    });
    await open("/schedules");
    const row = page.locator('tr[data-schedule="nightly"]');
    await expect.poll(() => row.count()).toBe(1);
    const cells = await row.locator("td").allInnerTexts();
    expect(cells.slice(0, 5)).toEqual(["nightly", "0 3 * * *", "UTC", "active", "skip"]);
    expect(cells[5]!.split("\n").filter((l) => l.trim())).toHaveLength(3);
    expect(cells[7]).toBe("backup");

    await open("/jobs/pipe-b");
    await expect.poll(() => page.locator("#dependencies li").count()).toBe(2);
    expect(await page.locator('#dependencies li[data-chain-id="pipe-a"] a').textContent()).toBe("pipe-a");
    expect(await page.locator('#dependencies li[data-chain-id="pipe-c"]').innerText()).toMatch(/pipe-c\s+pending\s+ship/);
    expect(await page.locator("#dependencies").innerText()).toContain("Waiting for 1 dependency to complete.");
    expect(await page.locator("#job-env").textContent()).toBe("API_KEY=***\nMODE=x");
  });

  it("config: shows values; rejects an invalid one with its reason; saves a valid one", async () => {
    await open("/config");
    const input = page.locator('input[name="max_retries"]');
    await expect.poll(() => input.inputValue()).toBe("3");
    await input.fill("lots");
    await page.locator('form[data-key="max_retries"] button').click();
    await expect.poll(() => page.locator('tr[data-key="max_retries"] .field-error').textContent()).toMatch(/^config max_retries: invalid value 'lots'/);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM config")).rows[0].n).toBe(0);

    await input.fill("7");
    await input.press("Enter");
    await expect.poll(() => page.locator('tr[data-key="max_retries"] .saved').textContent()).toBe("saved");
    expect((await db.pool.query("SELECT value FROM config WHERE key = 'max_retries'")).rows[0].value).toBe("7");
  });

  it("login: a token-protected dashboard asks for the token, then shows the page asked for", async () => {
    const locked = await startDashboard({ ctx, port: 0, token: "browser-test-token-0123456789" });
    try {
      await page.goto(`${locked.url}workers`);
      await page.waitForURL(/\/login\?next=%2Fworkers$/);
      await page.locator("#token").fill("wrong-token-wrong-token");
      await page.getByRole("button", { name: "Log in" }).click();
      await expect.poll(() => page.locator(".error-box").textContent()).toBe("That token is not right.");
      await page.locator("#token").fill("browser-test-token-0123456789");
      await page.getByRole("button", { name: "Log in" }).click();
      await page.waitForURL(`${locked.url}workers`);
      await expect.poll(() => page.locator(`tr[data-worker-id="${WORKER_ID}"]`).count()).toBe(1);
      await page.getByRole("button", { name: "Log out" }).click();
      await page.waitForURL(/\/login$/);
    } finally {
      await locked.close();
    }
  });

  it("a running job's progress report: a bar on the jobs page and on the job's page", async () => {
    await enqueueJobs(ctx, { specs: [{ id: "progress-1", command: "./copy-tables.sh" }] });
    await db.pool.query(
      `UPDATE jobs SET state = 'processing', worker_id = $1, lease_expires_at = now() + interval '1 hour',
              progress_pct = 40, progress_message = 'copying table 3/7', progress_at = now() WHERE id = 'progress-1'`,
      [WORKER_ID],
    );
    await open("/jobs");
    const row = page.locator('tr[data-job-id="progress-1"]');
    await expect.poll(() => row.locator("progress").getAttribute("value")).toBe("40");
    expect((await row.locator(".progress").innerText()).replace(/\s+/g, " ")).toBe("40% copying table 3/7");
    await open("/jobs/progress-1");
    await expect.poll(() => page.locator(".fields progress").getAttribute("value")).toBe("40");
    expect((await page.locator(".fields").first().innerText()).replace(/\s+/g, " ")).toContain("progress 40% copying table 3/7");
  });
});
