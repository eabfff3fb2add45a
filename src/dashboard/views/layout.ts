/**
 * The page shell every dashboard page shares: header, navigation, the live-update indicator, and an
 * empty <main> that the page script (assets/client/main.js) fills from the JSON API. Server-side HTML
 * is written with hono/html, which escapes every interpolated value.
 */
import { html } from "hono/html";
import { JOB_STATES } from "../../queue/job.js";
import { PAGES, type PageName } from "./pages.js";

export interface LayoutParams {
  title: string;
  page: PageName;
  csrfToken: string;
  /** Whether a token protects the dashboard (then a "log out" button is shown). */
  loggedIn: boolean;
  /**
   * Whether the dashboard's database role may act (cancel, retry, pause, change config): when false
   * (a viewer), the pages show no action buttons.
   */
  canAct: boolean;
  /** Extra data-* attributes for <main> (e.g. the job id of the job page). */
  data?: Record<string, string>;
}

export function head(title: string) {
  return html`<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · queuectl</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/style.css">`;
}

export function layout(p: LayoutParams) {
  const active = p.page === "job" ? "jobs" : p.page;
  const data = Object.entries(p.data ?? {}).map(([k, v]) => html` data-${k}="${v}"`);
  // data-job-states hands the page script the job states (queue/job.ts), in their order, so that it
  // keeps no list of its own. The script is an ES module (assets/client/), deferred by nature.
  return html`<!doctype html>
<html lang="en">
<head>
${head(p.title)}
<meta name="csrf-token" content="${p.csrfToken}">
<script type="module" src="/assets/client/main.js"></script>
</head>
<body>
<header class="topbar">
  <a class="brand" href="/"><span class="logo" aria-hidden="true"></span>queuectl</a>
  <nav>
    ${PAGES.map(
      (n) => html`<a href="${n.path}" class="${n.page === active ? "active" : ""}"${n.page === active ? html` aria-current="page"` : ""}>${n.title}${n.page === "dlq" ? html`<span class="nav-badge" id="dlq-badge" hidden></span>` : ""}</a>`,
    )}
  </nav>
  <div class="topbar-right">
    <button type="button" class="live" id="live" title="Auto-refresh every 3 s; click to pause">
      <span class="live-dot"></span><span id="live-text">live</span>
    </button>
    ${p.loggedIn
      ? html`<form method="post" action="/logout" class="logout"><input type="hidden" name="_csrf" value="${p.csrfToken}"><button type="submit" class="link">Log out</button></form>`
      : ""}
  </div>
</header>
<main id="app" data-page="${p.page}" data-job-states="${JOB_STATES.join(" ")}" data-can-act="${String(p.canAct)}"${data}>
  <p class="muted loading">Loading…</p>
  <noscript><p class="error-box">This dashboard needs JavaScript to load its data (from /api/).</p></noscript>
</main>
</body>
</html>`;
}

/** A whole page for errors outside the JSON API (unknown page, server error): no details leak. */
export function errorPage(p: { status: number; message: string }) {
  return html`<!doctype html>
<html lang="en">
<head>
${head(`${p.status}`)}
</head>
<body>
<main class="narrow">
  <h1>${p.status === 404 ? "Not found" : "Something went wrong"}</h1>
  <p class="error-box">${p.message}</p>
  <p><a href="/">Back to the overview</a></p>
</main>
</body>
</html>`;
}
