/**
 * A worker cut off from the database by a network fault: it runs in a network namespace of its own,
 * reaching a private PostgreSQL over a veth pair (a /30 of its own), and the link is taken down while
 * it runs two long jobs. After the lease another worker takes the jobs over and completes them; when
 * the link comes back, the cut-off worker learns it lost the leases, stops their commands, and its
 * results are refused. Needs root and `ip netns`; skipped with a message otherwise.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../helpers/cli.js";
import { startPrivateServer, type PrivateServer } from "../helpers/private-server.js";
import { enqueue, startWorkerProcess, waitFor, type WorkerProcess } from "../helpers/workers.js";

function netnsAvailable(): string | null {
  if (process.getuid?.() !== 0) return "not root";
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    return null;
  } catch (err) {
    return `ip netns unavailable (${(err as Error).message.split("\n")[0]})`;
  }
}
const skipReason = netnsAvailable();
if (skipReason) console.warn(`network-cut faults skipped: ${skipReason}`);

const tag = `q${process.pid % 100000}`;
const ns = `qctl-${tag}`;
const hostIf = `${tag}h`;
const nsIf = `${tag}n`;
// A /30 of our own, only on this veth pair: .1 the host side (PostgreSQL), .2 the namespace.
const octet = 16 + (process.pid % 200);
const hostAddr = `10.213.${octet}.1`;
const nsAddr = `10.213.${octet}.2`;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: "pipe" });
}

let server: PrivateServer;
let pool: pg.Pool;
const dir = mkdtempSync(join(tmpdir(), "queuectl-netcut-"));

describe.skipIf(skipReason !== null)("a worker cut off by the network", () => {
  beforeAll(async () => {
    ip("netns", "add", ns);
    ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
    ip("link", "set", nsIf, "netns", ns);
    ip("addr", "add", `${hostAddr}/30`, "dev", hostIf);
    ip("link", "set", hostIf, "up");
    ip("netns", "exec", ns, "ip", "addr", "add", `${nsAddr}/30`, "dev", nsIf);
    ip("netns", "exec", ns, "ip", "link", "set", nsIf, "up");
    ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
    server = await startPrivateServer({ listen: ["127.0.0.1", hostAddr], hba: [`${nsAddr}/32`] });
    process.env.DATABASE_URL = server.url();
    pool = new pg.Pool({ connectionString: server.url(), max: 4 });
    pool.on("error", () => {});
  });

  afterAll(async () => {
    await pool?.end().catch(() => {});
    await server?.destroy();
    try {
      ip("link", "del", hostIf);
    } catch {
      // gone with the namespace
    }
    try {
      ip("netns", "del", ns);
    } catch {
      // never created
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("its jobs are taken over after the lease; back online it stops their commands and its results are refused", async () => {
    await pool.query("INSERT INTO config (key, value) VALUES ('lease_ms', '2000'), ('backoff_base', '1')");
    const runs = join(dir, "runs");
    const command = `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then echo $$ > ${dir}/$QUEUECTL_JOB_ID.pid; exec sleep 60; fi; echo "$QUEUECTL_JOB_ID $QUEUECTL_ATTEMPT" >> ${runs}`;
    await enqueue(pool, [{ id: "cut-a", command }, { id: "cut-b", command }]);

    const child = spawn("ip", ["netns", "exec", ns, process.execPath, CLI, "worker", "start", "--foreground", "--concurrency", "2"], {
      env: { ...process.env, DATABASE_URL: server.url(hostAddr) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    child.stdout.on("data", (c: Buffer) => (log += c.toString()));
    child.stderr.on("data", (c: Buffer) => (log += c.toString()));
    const cutExited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
    let rescuer: WorkerProcess | undefined;
    try {
      await waitFor(() => ["cut-a", "cut-b"].every((id) => existsSync(`${dir}/${id}.pid`) && readFileSync(`${dir}/${id}.pid`, "utf8").trim() !== ""), { timeoutMs: 20_000, what: `both jobs running in the namespace (log: ${log})` });
      const pids = ["cut-a", "cut-b"].map((id) => Number(readFileSync(`${dir}/${id}.pid`, "utf8").trim()));
      const held = await pool.query("SELECT DISTINCT worker_id FROM jobs WHERE state = 'processing'");
      expect(held.rows).toHaveLength(1);
      const cutId = held.rows[0].worker_id as string;

      ip("link", "set", hostIf, "down");
      rescuer = startWorkerProcess(["--concurrency", "2"]);
      await waitFor(async () => (await pool.query("SELECT count(*)::int AS n FROM jobs WHERE state = 'completed'")).rows[0].n === 2, { timeoutMs: 30_000, what: "both jobs completed by the other worker" });
      const done = await pool.query("SELECT id, attempts, worker_id FROM jobs ORDER BY id");
      for (const row of done.rows) {
        expect(row.attempts).toBe(2);
        expect(row.worker_id).not.toBe(cutId);
      }

      ip("link", "set", hostIf, "up");
      await waitFor(() => pids.every((pid) => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }), { timeoutMs: 60_000, everyMs: 200, what: `the cut-off worker to stop its commands (log: ${log})` });
      await new Promise((r) => setTimeout(r, 1000));
      expect(await pool.query("SELECT id, state, attempts FROM jobs ORDER BY id").then((r) => r.rows)).toEqual([
        { id: "cut-a", state: "completed", attempts: 2 },
        { id: "cut-b", state: "completed", attempts: 2 },
      ]);
      expect(readFileSync(runs, "utf8").trim().split("\n").sort()).toEqual(["cut-a 2", "cut-b 2"]);
      const history = await pool.query("SELECT job_id, attempt, worker_id, error FROM job_attempts ORDER BY job_id, attempt");
      expect(history.rows).toHaveLength(4);
      for (const h of history.rows.filter((r) => r.attempt === 1)) {
        expect(h.worker_id).toBe(cutId);
        expect(h.error).toMatch(/^lease expired/);
      }
    } finally {
      child.kill("SIGTERM");
      rescuer?.child.kill("SIGTERM");
      await Promise.race([Promise.all([cutExited, rescuer?.exited]), new Promise((r) => setTimeout(r, 20_000))]);
      child.kill("SIGKILL");
    }
  });
});
