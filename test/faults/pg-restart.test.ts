/**
 * PostgreSQL restarted while 4 workers run 2000 jobs, on a private server (never the shared one):
 * workers reconnect and carry on, every job completes exactly once, and CLI commands during the
 * outage fail with exit code 1 and one clear line within 5 s instead of hanging.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queuectl } from "../helpers/cli.js";
import { startPrivateServer, type PrivateServer } from "../helpers/private-server.js";
import { countByState, enqueue, startWorkerProcess, waitFor, type WorkerProcess } from "../helpers/workers.js";

let server: PrivateServer;
let pool: pg.Pool;
const dir = mkdtempSync(join(tmpdir(), "queuectl-pg-restart-"));

beforeAll(async () => {
  server = await startPrivateServer();
  process.env.DATABASE_URL = server.url();
  pool = new pg.Pool({ connectionString: server.url(), max: 4 });
  pool.on("error", () => {});
});

afterAll(async () => {
  await pool?.end().catch(() => {});
  await server?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function completedCount(): Promise<number> {
  try {
    return (await countByState(pool)).completed ?? 0;
  } catch {
    return -1;
  }
}

describe("PostgreSQL restarts under load", () => {
  it("4 workers x 2000 jobs through a fast and an immediate restart: each job completes exactly once", async () => {
    const out = join(dir, "ran");
    const ids = await enqueue(pool, Array.from({ length: 2000 }, (_, i) => ({ id: `job-${i}`, command: `echo $QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT >> ${out}` })));
    const workers: WorkerProcess[] = Array.from({ length: 4 }, () => startWorkerProcess(["--concurrency", "4"]));
    try {
      const outages: Array<{ mode: "fast" | "immediate"; cliMs: number; stderr: string }> = [];
      for (const [mode, after] of [["fast", 400], ["immediate", 1200]] as const) {
        await waitFor(async () => (await completedCount()) >= after, { timeoutMs: 60_000, what: `${after} jobs completed` });
        await server.stop(mode);
        const t0 = Date.now();
        const res = await queuectl(["status"], { env: { DATABASE_URL: server.url() }, timeoutMs: 20_000 });
        const cliMs = Date.now() - t0;
        expect(res.code, res.stderr).toBe(1);
        expect(res.stdout).toBe("");
        expect(res.stderr.trim().split("\n")).toHaveLength(1);
        expect(res.stderr).toMatch(/^queuectl: database unavailable: /);
        expect(cliMs).toBeLessThan(5000);
        outages.push({ mode, cliMs, stderr: res.stderr.trim() });
        // Down long enough for every worker to notice: claims, heartbeats and LISTEN all fail.
        await new Promise((r) => setTimeout(r, 1500));
        await server.start();
      }
      console.log("CLI during the outage:", JSON.stringify(outages));

      await waitFor(async () => (await completedCount()) === 2000, { timeoutMs: 120_000, everyMs: 250, what: "all 2000 jobs completed after the restarts" });
      expect(await countByState(pool)).toEqual({ completed: 2000 });
      // A claim can commit while its answer is lost in the restart; the worker gives such jobs back
      // uncounted instead of leaving them to wait out their lease and count a failed attempt.
      const unanswered = await pool.query("SELECT count(*)::int AS n FROM job_attempts WHERE error LIKE 'released: the worker never got the answer%'");
      console.log(`claims whose answer was lost and that were given back: ${unanswered.rows[0].n}`);
      const attempts = await pool.query("SELECT count(*)::int AS n FROM jobs WHERE attempts <> 1");
      expect(attempts.rows[0].n).toBe(0);
      const lines = readFileSync(out, "utf8").trim().split("\n");
      const ran = lines.map((l) => l.split(" ")[0]!);
      expect(new Set(ran).size).toBe(2000);
      expect(ran.length).toBe(2000);
      expect([...new Set(ran)].sort()).toEqual([...ids].sort());
      // Every worker is still alive and registered after reconnecting.
      for (const w of workers) expect(w.child.exitCode).toBeNull();
    } finally {
      for (const w of workers) w.child.kill("SIGTERM");
      const codes = await Promise.all(workers.map((w) => w.exited));
      expect(codes).toEqual([0, 0, 0, 0]);
    }
  });
});
