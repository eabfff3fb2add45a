/**
 * `worker start --foreground --health-port P`: a small HTTP server that answers whether this worker
 * is alive and whether it is ready, for Kubernetes probes (deploy/kubernetes/) or any monitor.
 *
 * - `GET /healthz` (liveness): 200 while the database accepted one of this worker's heartbeats (its
 *   registration counts as the first) less than a lease (`lease_ms`) ago. Past that the worker's
 *   leases have run out: other workers may take its jobs, and its command hosts have killed its
 *   commands. An answer at all means the event loop runs; a blocked loop answers nothing and the
 *   probe times out.
 * - `GET /readyz` (readiness): the same, and not draining. After SIGTERM (or `worker stop`) a worker
 *   takes no new jobs while it finishes the running ones: 503, while /healthz stays 200 so the drain is
 *   not cut short. Workers pull jobs, so no traffic is routed by readiness; it tells a rollout and a
 *   PodDisruptionBudget which workers count as available.
 *
 * A 503 carries one line of JSON with the reason. Plain node:http: two read-only endpoints need no
 * framework, and the worker stays free of the dashboard's.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { listenOn } from "../listen.js";
import type { WorkerHealth } from "./worker.js";

export interface HealthVerdict {
  ok: boolean;
  body: Record<string, unknown>;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** Liveness: a heartbeat the database accepted within the lease. `now` is performance.now(). */
export function liveness(h: WorkerHealth, now: number): HealthVerdict {
  if (h.state === "starting" || h.lastHeartbeatAt === undefined) {
    return { ok: false, body: { status: "starting", reason: "the worker has not registered with the database yet" } };
  }
  if (h.state === "stopped") return { ok: false, body: { status: "stopped", reason: "the worker has stopped and is exiting" } };
  const age = Math.max(0, Math.round(now - h.lastHeartbeatAt));
  if (age > h.leaseMs) {
    return {
      ok: false,
      body: {
        status: "unhealthy",
        reason: `no heartbeat reached the database for ${seconds(age)} (lease ${seconds(h.leaseMs)}): other workers may take this worker's jobs`,
        heartbeat_age_ms: age,
        lease_ms: h.leaseMs,
      },
    };
  }
  return { ok: true, body: { status: "ok", state: h.state, heartbeat_age_ms: age, lease_ms: h.leaseMs } };
}

/** Readiness: alive, and not draining. */
export function readiness(h: WorkerHealth, now: number): HealthVerdict {
  const live = liveness(h, now);
  if (!live.ok) return live;
  if (h.state === "stopping") {
    return { ok: false, body: { status: "stopping", reason: "draining: finishing the running jobs, taking no new ones", heartbeat_age_ms: live.body.heartbeat_age_ms } };
  }
  return live;
}

export interface HealthServerParams {
  /** TCP port; 0 picks a free one (the handle says which). */
  port: number;
  /** Address to bind; default every interface (IPv6 and IPv4), as a kubelet probes the pod's address. */
  host?: string;
  /** What the worker knows now; read on every request. */
  health: () => WorkerHealth;
}

export interface RunningHealthServer {
  port: number;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

const ROUTES: Record<string, (h: WorkerHealth, now: number) => HealthVerdict> = { "/healthz": liveness, "/readyz": readiness };

function answer(res: ServerResponse, status: number, body: Record<string, unknown>, head: boolean, extra: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store", "Content-Length": Buffer.byteLength(text), ...extra });
  res.end(head ? undefined : text);
}

function handle(req: IncomingMessage, res: ServerResponse, health: () => WorkerHealth): void {
  const path = (req.url ?? "/").split("?")[0]!;
  const route = ROUTES[path];
  if (!route) return answer(res, 404, { error: `no such endpoint: ${path} (GET /healthz or /readyz)` }, req.method === "HEAD");
  if (req.method !== "GET" && req.method !== "HEAD") return answer(res, 405, { error: `${req.method} is not allowed: GET ${path}` }, false, { Allow: "GET, HEAD" });
  const verdict = route(health(), performance.now());
  answer(res, verdict.ok ? 200 : 503, verdict.body, req.method === "HEAD");
}

/** Listens (an OperationalError naming the port when it cannot) and answers until closed. */
export async function startHealthServer(p: HealthServerParams): Promise<RunningHealthServer> {
  const server: Server = createServer((req, res) => handle(req, res, p.health));
  // Probes are tiny and answered at once; a client that sends nothing gets its socket closed.
  server.requestTimeout = 5_000;
  server.headersTimeout = 5_000;
  await listenOn(server, { port: p.port, host: p.host, option: "--health-port" });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
