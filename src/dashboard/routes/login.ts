/** Logging in with the dashboard token (a form that sets the session cookie) and logging out. */
import { setTimeout as sleep } from "node:timers/promises";
import { Hono } from "hono";
import { endSession, issueCsrfToken, safeEqual, safeNextPath, startSession, type DashboardEnv, type DashboardSecurity } from "../auth.js";
import { loginPage } from "../views/login.js";

/** Pause after a wrong token, in ms: slows down guessing without bothering a person who mistyped. */
const FAILED_LOGIN_DELAY_MS = 500;

export function loginRoutes(sec: DashboardSecurity): Hono<DashboardEnv> {
  const routes = new Hono<DashboardEnv>();

  routes.get("/login", (c) => {
    if (sec.token === null || c.get("auth") === "cookie") return c.redirect(safeNextPath(c.req.query("next")), 303);
    return c.html(loginPage({ csrfToken: issueCsrfToken(c, sec), next: safeNextPath(c.req.query("next")) }));
  });

  // csrfGuard (server.ts) has already checked the origin and the form's _csrf field.
  routes.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const next = safeNextPath(typeof form.next === "string" ? form.next : undefined);
    if (sec.token === null) return c.redirect(next, 303);
    const token = typeof form.token === "string" ? form.token : "";
    if (!safeEqual(token, sec.token)) {
      await sleep(FAILED_LOGIN_DELAY_MS);
      return c.html(loginPage({ csrfToken: issueCsrfToken(c, sec), next, error: "That token is not right." }), 401);
    }
    startSession(c, sec.token);
    return c.redirect(next, 303);
  });

  routes.post("/logout", (c) => {
    endSession(c);
    return c.redirect(sec.token === null ? "/" : "/login", 303);
  });

  return routes;
}
