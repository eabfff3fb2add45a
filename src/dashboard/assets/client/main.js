/**
 * The page script's entry, loaded by every page of the dashboard as <script type="module">
 * (views/layout.ts): it reads what the server wrote on <main id="app"> (which page, the job states),
 * builds that page and keeps it fresh from the JSON API. The modules beside it are served as they are,
 * from /assets/client/ (server.ts); tsc type-checks them (../tsconfig.json).
 */
import { start } from "./live.js";
import { auditPage } from "./pages/audit.js";
import { configPage } from "./pages/config.js";
import { dlqPage } from "./pages/dlq.js";
import { jobPage } from "./pages/job.js";
import { jobsPage } from "./pages/jobs.js";
import { overviewPage } from "./pages/overview.js";
import { schedulesPage } from "./pages/schedules.js";
import { workersPage } from "./pages/workers.js";

/** @import { JobState } from "../api-types.js" */
/** @import { PageName } from "../../views/pages.js" */
/** @import { PageContext } from "./live.js" */

/**
 * Each page of views/pages.ts, and how to start it (the type makes a page missing here an error).
 * @type {Record<PageName, (ctx: PageContext) => void>}
 */
const PAGES = {
  overview: (ctx) => start(ctx, overviewPage(ctx)),
  jobs: (ctx) => start(ctx, jobsPage(ctx)),
  job: (ctx) => start(ctx, jobPage(ctx)),
  dlq: (ctx) => start(ctx, dlqPage(ctx)),
  schedules: (ctx) => start(ctx, schedulesPage(ctx)),
  workers: (ctx) => start(ctx, workersPage(ctx)),
  config: (ctx) => start(ctx, configPage(ctx)),
  audit: (ctx) => start(ctx, auditPage(ctx)),
};

/**
 * @param {string | undefined} page
 * @returns {page is PageName}
 */
function isPageName(page) {
  return page !== undefined && Object.hasOwn(PAGES, page);
}

const main = document.getElementById("app");
if (main) {
  const page = main.dataset.page;
  // The server's JOB_STATES (queue/job.ts), in order: the page script keeps no list of its own.
  const jobStates = /** @type {JobState[]} */ ((main.dataset.jobStates ?? "").split(" ").filter(Boolean));
  // Whether the dashboard's role may act (views/layout.ts): a viewer's pages show no action buttons.
  const canAct = main.dataset.canAct === "true";
  PAGES[isPageName(page) ? page : "overview"]({ main, jobStates, canAct });
}
