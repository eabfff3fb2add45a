/**
 * Who may use the dashboard, and which requests may change state.
 *
 * - Binding: loopback by default. Any other address needs QUEUECTL_DASHBOARD_TOKEN (checked before
 *   listening), and then every request needs the token: `Authorization: Bearer <token>` (scripts,
 *   Prometheus) or the session cookie the login form sets. The cookie holds a random secret of a
 *   server-side session (sessions.ts), never the token: logging out ends it everywhere.
 * - Without a token (loopback only) the Host header must name the loopback address, so a web page
 *   whose domain an attacker re-points at 127.0.0.1 (DNS rebinding) cannot read or drive it.
 * - Every state change is a POST and passes two checks: the browser's own word on where the request
 *   comes from (Sec-Fetch-Site / Origin must be this origin), and a CSRF token (an HMAC, under a
 *   per-process secret, of a random per-browser cookie) that pages embed and scripts send back in the
 *   X-CSRF-Token header (forms: the _csrf field). A request authenticated by the bearer header is not
 *   a browser's ambient credential and needs no CSRF token.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { InvalidInputError } from "../errors.js";
import { SESSION_MAX_AGE_S, type SessionStore } from "./sessions.js";

/** The environment variable holding the dashboard's access token. */
import { TOKEN_ENV } from "./token-env.js";

export { TOKEN_ENV };
/** Shortest token accepted: long enough that guessing it over HTTP is hopeless. */
export const MIN_TOKEN_LENGTH = 16;

export const SESSION_COOKIE = "queuectl_session";
export const CSRF_COOKIE = "queuectl_csrf";

/** How a request proved who it is; set by authGuard for the handlers after it. */
export type AuthMethod = "bearer" | "cookie" | "open";

/** Hono environment of the dashboard app: what middleware hands to handlers. */
export interface DashboardEnv {
  /**
   * `session`: how the audit trail names who acted — the first 12 hex digits of the session's id (the
   * SHA-256 of its cookie, as dashboard_sessions stores it: not a secret), or "bearer" / "open".
   */
  Variables: { auth: AuthMethod; session: string };
}

export interface DashboardSecurity {
  /** Null when the dashboard is open to whoever reaches it (loopback binding, no token set). */
  token: string | null;
  /** Keys CSRF tokens; random per process, so a restart asks open pages to reload. */
  csrfSecret: Buffer;
  /** Host names accepted in the Host header when no token protects the dashboard; null = any. */
  allowedHosts: ReadonlySet<string> | null;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);

/** Whether an address (or host name) only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Decides the security settings for a bind address, refusing unsafe ones: a non-loopback address
 * without a token, or a token too short to resist guessing. Throws InvalidInputError (exit code 2).
 */
export function createSecurity(p: { host: string; token: string | undefined }): DashboardSecurity {
  const token = p.token && p.token.length > 0 ? p.token : null;
  if (token === null && !isLoopbackHost(p.host)) {
    throw new InvalidInputError(
      `refusing to listen on ${p.host} without a token: set ${TOKEN_ENV} (or keep the default --host 127.0.0.1)`,
    );
  }
  if (token !== null && token.length < MIN_TOKEN_LENGTH) {
    throw new InvalidInputError(`${TOKEN_ENV} must be at least ${MIN_TOKEN_LENGTH} characters long`);
  }
  return {
    token,
    csrfSecret: randomBytes(32),
    allowedHosts: token === null ? new Set([...LOOPBACK_NAMES, p.host.toLowerCase()]) : null,
  };
}

function hmac(key: string | Buffer, message: string): string {
  return createHmac("sha256", key).update(message).digest("base64url");
}

/** Compares secrets in constant time (HMACs first, so lengths never leak either). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHmac("sha256", "queuectl-compare").update(a).digest();
  const hb = createHmac("sha256", "queuectl-compare").update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** The CSRF token pages must send back, derived from the browser's CSRF cookie. */
export function csrfTokenFor(sec: DashboardSecurity, nonce: string): string {
  return hmac(sec.csrfSecret, `csrf:${nonce}`);
}

/**
 * The CSRF token for this browser, creating its CSRF cookie on first visit. Pages call this when they
 * render and embed the result.
 */
export function issueCsrfToken(c: Context, sec: DashboardSecurity): string {
  let nonce = getCookie(c, CSRF_COOKIE);
  if (!nonce || !/^[A-Za-z0-9_-]{20,100}$/.test(nonce)) {
    nonce = randomBytes(24).toString("base64url");
    setCookie(c, CSRF_COOKIE, nonce, { httpOnly: true, sameSite: "Lax", path: "/" });
  }
  return csrfTokenFor(sec, nonce);
}

/** Sets the login cookie (the secret of a session just opened) after a correct token. */
export function setSessionCookie(c: Context, secret: string): void {
  setCookie(c, SESSION_COOKIE, secret, {
    httpOnly: true,
    sameSite: "Lax",
    path: "/",
    maxAge: SESSION_MAX_AGE_S,
    secure: new URL(c.req.url).protocol === "https:",
  });
}

export function clearSessionCookie(c: Context): void {
  setCookie(c, SESSION_COOKIE, "", { httpOnly: true, sameSite: "Lax", path: "/", maxAge: 0 });
}

/** Paths anyone may fetch: the login page itself, static assets, and the health check. */
function isPublicPath(path: string): boolean {
  return path === "/login" || path === "/healthz" || path.startsWith("/assets/");
}

/** Paths that answer machines (JSON or text): 401 there, a redirect to the login page elsewhere. */
export function isMachinePath(path: string): boolean {
  return path === "/api" || path.startsWith("/api/") || path === "/metrics" || path === "/healthz";
}

/** Rejects requests whose Host header is not a loopback name while no token protects the dashboard. */
export function hostGuard(sec: DashboardSecurity): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    if (sec.allowedHosts === null) return next();
    // The adapter builds the request URL from the Host header (HTTP/2: :authority).
    const host = new URL(c.req.url).hostname.toLowerCase();
    if (!sec.allowedHosts.has(host)) {
      return c.text("queuectl dashboard: unexpected Host header (open it as http://127.0.0.1:PORT/)\n", 421);
    }
    return next();
  };
}

/** Requires the token (bearer header or an open session's cookie) when one is configured. */
export function authGuard(sec: DashboardSecurity, sessions: SessionStore | null): MiddlewareHandler<DashboardEnv> {
  return async (c, next) => {
    if (sec.token === null) {
      c.set("auth", "open");
      c.set("session", "open");
      return next();
    }
    const header = c.req.header("authorization");
    const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    if (bearer !== undefined && safeEqual(bearer, sec.token)) {
      c.set("auth", "bearer");
      c.set("session", "bearer");
      return next();
    }
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie !== undefined && sessions !== null && (await sessions.valid(cookie))) {
      c.set("auth", "cookie");
      c.set("session", sessions.reference(cookie));
      return next();
    }
    if (isPublicPath(c.req.path)) return next();
    if (isMachinePath(c.req.path)) {
      c.header("WWW-Authenticate", 'Bearer realm="queuectl"');
      return c.json({ error: `authentication required: send Authorization: Bearer <${TOKEN_ENV}> or log in at /login` }, 401);
    }
    const url = new URL(c.req.url);
    return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

const NEXT_BASE = "http://dashboard.invalid";

/**
 * A local path to return to after login; anything else becomes "/". Browsers drop tabs and newlines
 * from a URL and read a backslash as a slash, so `/\t/evil.example` or `/\\evil.example` would take
 * them to another site: a path with any control character or backslash is refused outright, and what
 * is left must resolve to this origin. The result is the parsed path, so a control character can
 * never reach the Location header either.
 */
export function safeNextPath(raw: string | undefined): string {
  if (!raw || raw.length > 2048 || !raw.startsWith("/") || raw.startsWith("//")) return "/";
  if (/[\u0000-\u001f\u007f\\]/.test(raw)) return "/";
  let url: URL;
  try {
    url = new URL(raw, NEXT_BASE);
  } catch {
    return "/";
  }
  if (url.origin !== NEXT_BASE) return "/";
  return url.pathname + url.search + url.hash;
}

/** Refuses state-changing requests from other sites (see the top of this file). */
export function csrfGuard(sec: DashboardSecurity): MiddlewareHandler<DashboardEnv> {
  const refuse = (c: Context, why: string) =>
    isMachinePath(c.req.path)
      ? c.json({ error: `request refused: ${why}` }, 403)
      : c.text(`queuectl dashboard: request refused: ${why}\n`, 403);
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();

    const site = c.req.header("sec-fetch-site");
    if (site !== undefined && site !== "same-origin") return refuse(c, `cross-site request (Sec-Fetch-Site: ${site})`);
    const origin = c.req.header("origin");
    if (origin !== undefined) {
      let originHost: string | null = null;
      try {
        originHost = new URL(origin).host;
      } catch {
        originHost = null;
      }
      // Host only, not scheme: behind a TLS-terminating proxy the browser says https, we see http.
      if (originHost === null || originHost.toLowerCase() !== new URL(c.req.url).host.toLowerCase()) {
        return refuse(c, "cross-origin request");
      }
    }

    if (c.get("auth") === "bearer") return next();
    if (site === undefined && origin === undefined) return refuse(c, "no Origin header (scripts: use the bearer token)");

    const nonce = getCookie(c, CSRF_COOKIE);
    let sent = c.req.header("x-csrf-token");
    if (sent === undefined && /^application\/x-www-form-urlencoded|^multipart\/form-data/i.test(c.req.header("content-type") ?? "")) {
      const form = await c.req.parseBody();
      sent = typeof form._csrf === "string" ? form._csrf : undefined;
    }
    if (!nonce || !sent || !safeEqual(sent, csrfTokenFor(sec, nonce))) {
      return refuse(c, "missing or stale CSRF token (reload the page)");
    }
    return next();
  };
}
