/**
 * The dashboard's HTTP server: a Hono app (pages, /api/, /metrics, assets) behind security middleware,
 * served by @hono/node-server. createDashboardApp builds the app (tests call app.request() on it);
 * startDashboard listens and returns a handle whose close() ends every connection.
 *
 * Why Hono: its built-in middleware covers what this needs (cookies, secure headers, body limit,
 * ETags, HTML escaping in hono/html) with no further packages, handlers are plain
 * Request -> Response functions that tests drive without a socket, and it is small and well kept.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { etag } from "hono/etag";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { pino, type Logger } from "pino";
import { describeDbError } from "../db/pool.js";
import { InvalidStateError, NotFoundError, OperationalError, PermissionDeniedError, QueuectlError } from "../errors.js";
import { readSessionRole } from "../queue/sql/roles.js";
import { isPermissionDenied, permissionDeniedMessage } from "../db/errors.js";
import { listenOn } from "../listen.js";
import type { QueueContext } from "../queue/context.js";
import { clientModules } from "./page-script.js";
import { FAVICON_SVG } from "./assets/favicon.js";
import { STYLE_CSS } from "./assets/style.js";
import { authGuard, createSecurity, csrfGuard, hostGuard, isMachinePath, type DashboardEnv, type DashboardSecurity } from "./auth.js";
import { createHealthRead } from "./health-read.js";
import { createMetrics } from "./metrics.js";
import { apiRoutes } from "./routes/api.js";
import { loginRoutes } from "./routes/login.js";
import { pageRoutes } from "./routes/pages.js";
import { SessionStore } from "./sessions.js";
import { errorPage } from "./views/layout.js";

/** Largest request body accepted, in bytes: config values and retry requests are tiny. */
export const MAX_BODY_BYTES = 16 * 1024;

export interface DashboardAppParams {
  ctx: QueueContext;
  security: DashboardSecurity;
  /** Where unexpected errors are logged (with their stack; the browser only gets a one-line message). */
  logger?: Logger;
}

/** HTTP status for an error the queue code threw on purpose. */
function statusFor(err: QueuectlError): 400 | 403 | 404 | 409 | 500 | 503 {
  if (err instanceof PermissionDeniedError) return 403;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof InvalidStateError) return 409;
  if (err instanceof OperationalError) return 503;
  return err.exitCode === 2 ? 400 : 500;
}

/** A statement the dashboard's role may not run (a viewer's dashboard asked to act). */
function refusedByDatabase(err: unknown): PermissionDeniedError | undefined {
  if (!isPermissionDenied(err)) return undefined;
  return new PermissionDeniedError(`the dashboard's database role may not do this: ${permissionDeniedMessage(err)}`);
}

export function createDashboardApp(p: DashboardAppParams): Hono<DashboardEnv> {
  const logger = p.logger ?? pino({ level: "silent" });
  const health = createHealthRead(p.ctx.pool);
  const metrics = createMetrics({ pool: p.ctx.pool, health });
  const sessions = p.security.token === null ? null : new SessionStore(p.ctx.pool, p.security.token);
  const app = new Hono<DashboardEnv>();

  app.use(
    secureHeaders({
      // Pages load only their own script and stylesheet; nothing inline, nothing from elsewhere.
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
      referrerPolicy: "same-origin",
    }),
  );
  app.use(hostGuard(p.security));
  app.use(authGuard(p.security, sessions));
  app.use(bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ error: `request body larger than ${MAX_BODY_BYTES} bytes` }, 413) }));
  app.use(csrfGuard(p.security));
  app.use("/api/*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });

  app.use("/assets/*", etag());
  const asset = (type: string, body: string) => (c: Context) => {
    c.header("Content-Type", type);
    c.header("Cache-Control", "no-cache");
    return c.body(body);
  };
  // The page script: ES modules (assets/client/), each at its own address so their relative imports resolve.
  for (const [name, body] of clientModules()) app.get(`/assets/client/${name}`, asset("text/javascript; charset=utf-8", body));
  app.get("/assets/style.css", asset("text/css; charset=utf-8", STYLE_CSS));
  app.get("/assets/favicon.svg", asset("image/svg+xml", FAVICON_SVG));

  app.get("/healthz", async (c) => {
    await p.ctx.pool.query("SELECT 1");
    return c.json({ ok: true });
  });
  app.get("/metrics", async (c) => {
    const text = await metrics.render();
    c.header("Content-Type", metrics.contentType);
    c.header("Cache-Control", "no-store");
    return c.body(text);
  });
  app.route("/api", apiRoutes(p.ctx, health));
  app.route("/", loginRoutes(p.security, sessions));
  app.route("/", pageRoutes(p.security, async () => (await readSessionRole(p.ctx.pool)).can_act));

  app.notFound((c) =>
    isMachinePath(c.req.path)
      ? c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404)
      : c.html(errorPage({ status: 404, message: "There is no such page." }), 404),
  );

  // Expected errors become their one-line message; anything else is logged here with its stack and
  // the browser gets a generic line (no stack trace ever reaches a browser; the log has it).
  app.onError((err, c) => {
    if (err instanceof HTTPException) return err.getResponse();
    const known = err instanceof QueuectlError ? err : (describeDbError(err) ?? refusedByDatabase(err));
    let status: 400 | 403 | 404 | 409 | 500 | 503 = 500;
    let message = "internal error (see the dashboard's log)";
    if (known) {
      status = statusFor(known);
      message = known.message;
    } else {
      logger.error({ err, method: c.req.method, path: c.req.path }, "dashboard request failed");
    }
    return isMachinePath(c.req.path) ? c.json({ error: message }, status) : c.html(errorPage({ status, message }), status);
  });

  return app;
}

export interface StartDashboardParams {
  ctx: QueueContext;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 3000. */
  port?: number;
  /** The access token (QUEUECTL_DASHBOARD_TOKEN); required unless host is a loopback address. */
  token?: string;
  logger?: Logger;
}

export interface RunningDashboard {
  /** Where to open it, e.g. http://127.0.0.1:3000/ */
  url: string;
  port: number;
  host: string;
  /** Whether a token protects it. */
  protected: boolean;
  /** Stops listening and ends open connections (keep-alive ones at once, busy ones after their request). */
  close(): Promise<void>;
}

/**
 * Checks the bind address against the token (InvalidInputError before anything listens), then
 * listens. A port in use is an OperationalError naming it.
 */
export async function startDashboard(p: StartDashboardParams): Promise<RunningDashboard> {
  const host = p.host ?? "127.0.0.1";
  const security = createSecurity({ host, token: p.token });
  const app = createDashboardApp({ ctx: p.ctx, security, logger: p.logger });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;

  await listenOn(server, { port: p.port ?? 3000, host, option: "--port" });

  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost}:${port}/`,
    port,
    host,
    protected: security.token !== null,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // A request still running gets a moment to finish; then its connection is cut too.
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      });
      return closing;
    },
  };
}
