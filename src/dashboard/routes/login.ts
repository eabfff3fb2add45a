/** Logging in with the dashboard token (a form that opens a session) and logging out (which ends it). */
import { getConnInfo } from "@hono/node-server/conninfo";
import { Hono, type Context } from "hono";
import { getCookie } from "hono/cookie";
import { clearSessionCookie, issueCsrfToken, safeEqual, safeNextPath, SESSION_COOKIE, setSessionCookie, type DashboardEnv, type DashboardSecurity } from "../auth.js";
import { LoginThrottle } from "../login-throttle.js";
import type { SessionStore } from "../sessions.js";
import { loginPage } from "../views/login.js";

/** The client's address, as the socket gives it (requests made without one, in tests, share "local"). */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "local";
  } catch {
    return "local";
  }
}

export function loginRoutes(sec: DashboardSecurity, sessions: SessionStore | null): Hono<DashboardEnv> {
  const routes = new Hono<DashboardEnv>();
  const throttle = new LoginThrottle();

  routes.get("/login", (c) => {
    if (sec.token === null || c.get("auth") === "cookie") return c.redirect(safeNextPath(c.req.query("next")), 303);
    return c.html(loginPage({ csrfToken: issueCsrfToken(c, sec), next: safeNextPath(c.req.query("next")) }));
  });

  // csrfGuard (server.ts) has already checked the origin and the form's _csrf field.
  routes.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const next = safeNextPath(typeof form.next === "string" ? form.next : undefined);
    const token = sec.token;
    if (token === null || sessions === null) return c.redirect(next, 303);
    const given = typeof form.token === "string" ? form.token : "";
    const client = clientAddress(c);
    if (!(await throttle.attempt(client, () => safeEqual(given, token)))) {
      return c.html(loginPage({ csrfToken: issueCsrfToken(c, sec), next, error: "That token is not right." }), 401);
    }
    setSessionCookie(c, await sessions.open(client));
    return c.redirect(next, 303);
  });

  routes.post("/logout", async (c) => {
    const secret = getCookie(c, SESSION_COOKIE);
    if (secret !== undefined && sessions !== null) await sessions.close(secret);
    clearSessionCookie(c);
    return c.redirect(sec.token === null ? "/" : "/login", 303);
  });

  return routes;
}
