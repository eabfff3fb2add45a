/**
 * `worker start --health-port` when the worker loses its database: on a PostgreSQL server of the
 * test's own, stopped for longer than a lease, /healthz and /readyz turn 503 once a lease has passed
 * since the last heartbeat the database accepted (not before: a missed heartbeat or two is no
 * failure), and 200 again once the server is back. Bounds come from the lease and from what a
 * request and a connection cost on this machine, measured here.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setConfigValue } from "../../src/queue/config.js";
import { healthPort, probe, type HealthAnswer } from "../helpers/health.js";
import { startPrivateServer, type PrivateServer } from "../helpers/private-server.js";
import { startWorkerProcess, waitFor } from "../helpers/workers.js";

const LEASE_MS = 1500;
/** The worker's heartbeat interval for that lease (heartbeat-service.ts: lease_ms / 3). */
const BEAT_MS = Math.floor(LEASE_MS / 3);
const EVERY_MS = 25;

let server: PrivateServer;

beforeAll(async () => {
  server = await startPrivateServer();
  const pool = new pg.Pool({ connectionString: server.url(), max: 1 });
  await setConfigValue(pool, "lease_ms", String(LEASE_MS));
  await pool.end();
});

afterAll(async () => {
  await server?.destroy();
});

/** Polls /healthz every EVERY_MS until `until` holds; returns when (performance.now()) and the answer. */
async function pollHealthz(port: number, until: (a: HealthAnswer) => boolean, seen: HealthAnswer[]): Promise<{ at: number; answer: HealthAnswer }> {
  for (;;) {
    const answer = await probe(port, "/healthz");
    seen.push(answer);
    if (until(answer)) return { at: performance.now(), answer };
    await new Promise((r) => setTimeout(r, EVERY_MS));
  }
}

describe("a worker that loses its database for longer than a lease", () => {
  it("turns /healthz and /readyz 503 a lease after its last heartbeat, and 200 again once the server is back", async () => {
    const worker = startWorkerProcess(["--health-port", "0"], { DATABASE_URL: server.url() });
    try {
      const port = await healthPort(worker);
      await waitFor(async () => (await probe(port, "/healthz")).status === 200, { what: "/healthz 200" });

      // What things cost here, with the database up: a health request, and the heartbeat's sawtooth.
      const before: HealthAnswer[] = [];
      const end = performance.now() + 3 * BEAT_MS;
      while (performance.now() < end) {
        before.push(await probe(port, "/healthz"));
        await new Promise((r) => setTimeout(r, EVERY_MS));
      }
      expect(before.every((a) => a.status === 200)).toBe(true);
      const requestMs = Math.max(...before.map((a) => a.ms));
      const maxAge = Math.max(...before.map((a) => a.body.heartbeat_age_ms ?? 0));
      expect(maxAge).toBeLessThan(LEASE_MS);

      await server.stop("fast");
      const stoppedAt = performance.now();
      const during: HealthAnswer[] = [];
      const down = await pollHealthz(port, (a) => a.status === 503, during);
      const downAfter = down.at - stoppedAt;
      console.log(`stop -> 503 after ${Math.round(downAfter)} ms (lease ${LEASE_MS}, heartbeat age up to ${maxAge} ms, request up to ${Math.round(requestMs)} ms)`);
      expect(down.answer.body).toMatchObject({ status: "unhealthy", lease_ms: LEASE_MS });
      expect(down.answer.body.reason).toMatch(/^no heartbeat reached the database for [\d.]+ s \(lease 1\.5 s\)/);
      // Not before: when the server stopped, the last heartbeat was at most about maxAge old.
      expect(downAfter).toBeGreaterThan(LEASE_MS - maxAge - BEAT_MS / 2);
      // Not much after: the last accepted heartbeat came before the stop, so a lease after the stop at
      // the latest, plus noticing it (one poll, one request), and a heartbeat interval for late timers.
      expect(downAfter).toBeLessThan(LEASE_MS + EVERY_MS + 3 * requestMs + BEAT_MS);
      expect((await probe(port, "/readyz")).status).toBe(503);
      expect(worker.child.exitCode).toBeNull();

      // Down for a while longer: still 503, still running.
      await new Promise((r) => setTimeout(r, BEAT_MS));
      expect((await probe(port, "/healthz")).status).toBe(503);

      await server.start();
      const startedAt = performance.now();
      // What a fresh connection costs now, as the worker's next heartbeat opens one.
      const c0 = performance.now();
      const client = new pg.Client({ connectionString: server.url() });
      await client.connect();
      await client.query("SELECT 1");
      await client.end();
      const connectMs = performance.now() - c0;
      const up = await pollHealthz(port, (a) => a.status === 200, []);
      const upAfter = up.at - startedAt;
      console.log(`server back -> 200 after ${Math.round(upAfter)} ms (connection ${Math.round(connectMs)} ms)`);
      // The next heartbeat comes within an interval of a failed one, and takes a connection and two statements.
      expect(upAfter).toBeLessThan(BEAT_MS + 3 * connectMs + EVERY_MS + 3 * requestMs + BEAT_MS);
      expect(up.answer.body).toMatchObject({ status: "ok", state: "running" });
      expect((await probe(port, "/readyz")).status).toBe(200);
    } finally {
      worker.child.kill("SIGTERM");
      expect(await worker.exited).toBe(0);
    }
  });
});
