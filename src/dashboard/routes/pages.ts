/**
 * The HTML pages (views/pages.ts lists them): each is the shared shell (views/layout.ts) naming its
 * page; the page script fills it from /api/ and keeps it fresh. Rendering the shell here gives each
 * browser its CSRF token.
 */
import { Hono } from "hono";
import { issueCsrfToken, type DashboardEnv, type DashboardSecurity } from "../auth.js";
import { jobIdSchema } from "../validate.js";
import { errorPage, layout } from "../views/layout.js";
import { PAGES } from "../views/pages.js";

/** `canAct`: whether the dashboard's role may act, asked per page so a `db grant` shows on the next load. */
export function pageRoutes(sec: DashboardSecurity, canAct: () => Promise<boolean>): Hono<DashboardEnv> {
  const pages = new Hono<DashboardEnv>();
  const loggedIn = (auth: string) => auth === "cookie";

  for (const p of PAGES) {
    pages.get(p.path, async (c) =>
      c.html(layout({ title: p.title, page: p.page, csrfToken: issueCsrfToken(c, sec), loggedIn: loggedIn(c.get("auth")), canAct: await canAct() })),
    );
  }

  pages.get("/jobs/:id", async (c) => {
    const id = jobIdSchema.safeParse(c.req.param("id"));
    if (!id.success) return c.html(errorPage({ status: 404, message: "That is not a job id." }), 404);
    return c.html(
      layout({
        title: `Job ${id.data}`,
        page: "job",
        csrfToken: issueCsrfToken(c, sec),
        loggedIn: loggedIn(c.get("auth")),
        canAct: await canAct(),
        data: { "job-id": id.data },
      }),
    );
  });

  return pages;
}
