/**
 * `worker start --foreground --health-port`: /healthz and /readyz of a real worker process, while it
 * runs and while it drains after SIGTERM; the flag's refusals. (Losing the database for longer than a
 * lease, on a server of the test's own: test/faults/worker-health.test.ts.)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { setConfigValue } from "../src/queue/config.js";
import { liveness, readiness } from "../src/worker/health-server.js";
import { queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { healthPort, probe } from "./helpers/health.js";
import { enqueue, jobState, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-health-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the verdicts", () => {
  const running = { state: "running" as const, lastHeartbeatAt: 10_000, leaseMs: 30_000 };
  it("alive while the last accepted heartbeat is at most a lease old; ready only while not draining", () => {
    expect(liveness(running, 10_000 + 30_000)).toMatchObject({ ok: true, body: { status: "ok", heartbeat_age_ms: 30_000 } });
    const late = liveness(running, 10_000 + 30_001);
    expect(late.ok).toBe(false);
    expect(late.body.reason).toMatch(/^no heartbeat reached the database for 30 s \(lease 30 s\)/);
    expect(readiness(running, 10_000 + 30_001).ok).toBe(false);
    expect(liveness({ ...running, state: "stopping" }, 11_000).ok).toBe(true);
    expect(readiness({ ...running, state: "stopping" }, 11_000)).toMatchObject({ ok: false, body: { status: "stopping" } });
    expect(liveness({ state: "starting", lastHeartbeatAt: undefined, leaseMs: 0 }, 0)).toMatchObject({ ok: false, body: { status: "starting" } });
    expect(liveness({ ...running, state: "stopped" }, 11_000)).toMatchObject({ ok: false, body: { status: "stopped" } });
  });
});

describe("worker start --health-port", () => {
  it("answers 200 on /healthz and /readyz with the heartbeat's age while the worker runs; other paths 404, other methods 405", async () => {
    const worker = startWorkerProcess(["--health-port", "0"]);
    try {
      const port = await healthPort(worker);
      // The health server listens before the worker registers: until then it is not alive yet.
      await waitFor(async () => (await probe(port, "/healthz")).status === 200, { what: "/healthz 200" });
      const live = await probe(port, "/healthz");
      expect(live.body).toMatchObject({ status: "ok", state: "running", lease_ms: 30_000 });
      expect(live.body.heartbeat_age_ms).toBeLessThan(30_000);
      expect(await probe(port, "/readyz")).toMatchObject({ status: 200, body: { status: "ok" } });
      expect(await probe(port, "/healthz", "HEAD")).toMatchObject({ status: 200, body: {} });
      expect(await probe(port, "/metrics")).toMatchObject({ status: 404, body: { error: "no such endpoint: /metrics (GET /healthz or /readyz)" } });
      expect(await probe(port, "/readyz", "POST")).toMatchObject({ status: 405 });
    } finally {
      worker.child.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
    }
  });

  it("after SIGTERM /readyz answers 503 (draining) while /healthz stays 200 for as long as the running job takes, past a lease", async () => {
    // A short lease: the drain below outlasts it, so /healthz staying 200 shows the heartbeats go on.
    const leaseMs = 1500;
    await setConfigValue(db.pool, "lease_ms", String(leaseMs));
    const release = join(dir, "release");
    const [id] = await enqueue(db.pool, [{ command: `while [ ! -e ${release} ]; do sleep 0.05; done` }]);
    const worker = startWorkerProcess(["--health-port", "0"]);
    try {
      const port = await healthPort(worker);
      await waitFor(async () => (await jobState(db.pool, id!))?.state === "processing", { what: "the job running" });
      expect((await probe(port, "/readyz")).status).toBe(200);

      worker.child.kill("SIGTERM");
      const draining = await waitFor(async () => {
        const r = await probe(port, "/readyz");
        return r.status === 503 ? r : undefined;
      }, { what: "/readyz 503 after SIGTERM" });
      expect(draining!.body).toMatchObject({ status: "stopping", reason: "draining: finishing the running jobs, taking no new ones" });

      const until = performance.now() + 2 * leaseMs;
      const seen = { live: new Set<number>(), ready: new Set<number>(), maxAge: 0 };
      while (performance.now() < until) {
        const [live, ready] = await Promise.all([probe(port, "/healthz"), probe(port, "/readyz")]);
        seen.live.add(live.status);
        seen.ready.add(ready.status);
        seen.maxAge = Math.max(seen.maxAge, live.body.heartbeat_age_ms ?? 0);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect([...seen.live]).toEqual([200]);
      expect([...seen.ready]).toEqual([503]);
      expect(seen.maxAge).toBeLessThan(leaseMs);

      writeFileSync(release, "");
      expect(await worker.exited).toBe(0);
      expect((await jobState(db.pool, id!))?.state).toBe("completed");
      await expect(probe(port, "/healthz")).rejects.toThrow();
    } finally {
      worker.child.kill("SIGKILL");
      await setConfigValue(db.pool, "lease_ms", "30000");
    }
  });

  it("is refused without --foreground, in one line (exit 2)", async () => {
    const res = await queuectl(["worker", "start", "--health-port", "8080"]);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split("\n")).toEqual([
      "queuectl: --health-port needs --foreground: it answers for one worker (run one per container); background workers show their heartbeats in `queuectl worker list`",
    ]);
    const range = await queuectl(["worker", "start", "--foreground", "--health-port", "70000"]);
    expect(range.code).toBe(2);
  });

  it("a port in use fails the worker in one line (exit 1) before it registers or claims a job", async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const [id] = await enqueue(db.pool, [{ command: "true" }]);
      const workersBefore = (await db.pool.query("SELECT count(*)::int AS n FROM workers")).rows[0].n;
      const worker = startWorkerProcess(["--health-port", String(port)]);
      expect(await worker.exited).toBe(1);
      expect(worker.log().trim().split("\n")).toEqual([`queuectl: port ${port} on every interface is already in use (choose another with --health-port)`]);
      expect(await jobState(db.pool, id!)).toMatchObject({ state: "pending", attempts: 0 });
      expect((await db.pool.query("SELECT count(*)::int AS n FROM workers")).rows[0].n).toBe(workersBefore);
      await db.pool.query("DELETE FROM jobs WHERE id = $1", [id]);
    } finally {
      busy.close();
    }
  });
});
