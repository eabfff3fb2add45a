/**
 * The page script and stylesheet are served from the package itself (no CDN): the script's modules
 * parse, import only one another, come with the right types and cache validators, and never write API
 * data as HTML; every page loads the script's entry and hands it the job states.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { clientModules } from "../src/dashboard/page-script.js";
import { STYLE_CSS } from "../src/dashboard/assets/style.js";
import { createSecurity } from "../src/dashboard/auth.js";
import { createDashboardApp } from "../src/dashboard/server.js";
import { PAGES } from "../src/dashboard/views/pages.js";
import { JOB_STATES } from "../src/queue/job.js";
import { useTestDatabase } from "./helpers/db.js";

const db = useTestDatabase();

// Assets need no database: a context whose every use fails proves it.
const app = createDashboardApp({
  ctx: { pool: {} as never, prisma: {} as never },
  security: createSecurity({ host: "127.0.0.1", token: undefined }),
});

const ENTRY = "/assets/client/main.js";

describe("assets", () => {
  it("the page script is ES modules that parse and build DOM nodes, never HTML strings", () => {
    const modules = clientModules();
    expect([...modules.keys()]).toEqual(expect.arrayContaining(["main.js", "dom.js", "api.js", "live.js", "pages/overview.js", "pages/job.js"]));
    for (const [name, body] of modules) {
      // node --check parses without running (the modules touch `document` at once).
      expect(() => execFileSync(process.execPath, ["--check", "--input-type=module"], { input: body, stdio: "pipe" }), name).not.toThrow();
      expect(body, name).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    }
  });

  it("the page script imports only its own served modules (nothing of the server, no package)", () => {
    const served = new Set([...clientModules().keys()].map((name) => `/assets/client/${name}`));
    for (const [name, body] of clientModules()) {
      // Static imports only (JSDoc @import lines are comments: types, never fetched).
      for (const m of body.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"|^\s*import\s*"([^"]+)"/gm)) {
        const spec = m[1] ?? m[2]!;
        expect(spec, `${name} imports ${spec}`).toMatch(/^\.\.?\//);
        expect(served, `${name} imports ${spec}`).toContain(new URL(spec, `http://x/assets/client/${name}`).pathname);
      }
    }
  });

  it("serves script modules, stylesheet and icon with their types, and answers 304 to a matching ETag", async () => {
    const scripts = [...clientModules().keys()].map((name) => [`/assets/client/${name}`, "text/javascript"] as const);
    for (const [path, type] of [...scripts, ["/assets/style.css", "text/css"], ["/assets/favicon.svg", "image/svg+xml"]] as const) {
      const res = await app.request(`http://127.0.0.1${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
      const etag = res.headers.get("etag")!;
      expect(etag).toBeTruthy();
      expect((await app.request(`http://127.0.0.1${path}`, { headers: { "if-none-match": etag } })).status).toBe(304);
    }
    expect(await (await app.request("http://127.0.0.1/assets/style.css")).text()).toBe(STYLE_CSS);
    expect(await (await app.request(`http://127.0.0.1${ENTRY}`)).text()).toBe(clientModules().get("main.js"));
    expect((await app.request("http://127.0.0.1/assets/client/nope.js")).status).toBe(404);
  });

  it("every page loads the script's entry as a module, lists the pages and hands over the job states and whether it may act", async () => {
    // A page asks the database whether the dashboard's role may act (the owner may).
    const pages = createDashboardApp({ ctx: { pool: db.pool, prisma: {} as never }, security: createSecurity({ host: "127.0.0.1", token: undefined }) });
    for (const { path } of [...PAGES, { path: "/jobs/some-job" }]) {
      const res = await pages.request(`http://127.0.0.1${path}`);
      expect(res.status, path).toBe(200);
      const page = await res.text();
      expect(page).toContain(`<script type="module" src="${ENTRY}"></script>`);
      expect(page).toContain(`data-job-states="${JOB_STATES.join(" ")}"`);
      expect(page).toContain('data-can-act="true"');
      for (const p of PAGES) expect(page).toContain(`<a href="${p.path}"`);
    }
  });

  it("the stylesheet gives every job and worker state its colour", () => {
    for (const state of [...JOB_STATES, "running", "stopping", "stopped", "lost"]) {
      expect(STYLE_CSS).toContain(`.state-${state} {`);
    }
  });
});
