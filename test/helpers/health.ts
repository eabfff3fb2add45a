/** `worker start --health-port` for tests: where a worker process listens, and what it answers. */
import type { WorkerProcess } from "./workers.js";
import { waitFor } from "./workers.js";

/** The port a worker started with `--health-port 0` logged. */
export async function healthPort(worker: WorkerProcess): Promise<number> {
  return waitFor(
    () => {
      const line = worker.log().split("\n").find((l) => l.includes('"health endpoints listening"'));
      return line ? (JSON.parse(line) as { port: number }).port : 0;
    },
    { what: "the worker's health endpoints to listen" },
  );
}

export interface HealthAnswer {
  status: number;
  body: { status?: string; reason?: string; state?: string; heartbeat_age_ms?: number; lease_ms?: number; error?: string };
  /** How long the request took, in ms. */
  ms: number;
}

/** One request to the worker's health server. */
export async function probe(port: number, path: "/healthz" | "/readyz" | string, method = "GET"): Promise<HealthAnswer> {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  const text = await res.text();
  return { status: res.status, body: text === "" ? {} : (JSON.parse(text) as HealthAnswer["body"]), ms: performance.now() - t0 };
}
