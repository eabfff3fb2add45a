/**
 * The page script and stylesheet are served from the package itself (no CDN): they parse, come with
 * the right types and cache validators, and the script never writes API data as HTML.
 */
import { Script } from "node:vm";
import { describe, expect, it } from "vitest";
import { CLIENT_JS } from "../src/dashboard/assets/client.js";
import { STYLE_CSS } from "../src/dashboard/assets/style.js";
import { createSecurity } from "../src/dashboard/auth.js";
import { createDashboardApp } from "../src/dashboard/server.js";

// Assets need no database: a context whose every use fails proves it.
const app = createDashboardApp({
  ctx: { pool: {} as never, prisma: {} as never },
  security: createSecurity({ host: "127.0.0.1", token: undefined }),
});

describe("assets", () => {
  it("the page script is valid JavaScript that builds DOM nodes, never HTML strings", () => {
    expect(() => new Script(CLIENT_JS, { filename: "client.js" })).not.toThrow();
    expect(CLIENT_JS).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  });

  it("serves script, stylesheet and icon with their types, and answers 304 to a matching ETag", async () => {
    for (const [path, type] of [["/assets/client.js", "text/javascript"], ["/assets/style.css", "text/css"], ["/assets/favicon.svg", "image/svg+xml"]] as const) {
      const res = await app.request(`http://127.0.0.1${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain(type);
      const etag = res.headers.get("etag")!;
      expect(etag).toBeTruthy();
      expect((await app.request(`http://127.0.0.1${path}`, { headers: { "if-none-match": etag } })).status).toBe(304);
    }
    expect(await (await app.request("http://127.0.0.1/assets/style.css")).text()).toBe(STYLE_CSS);
  });

  it("the stylesheet gives every job and worker state its colour", () => {
    for (const state of ["pending", "processing", "completed", "failed", "dead", "cancelled", "running", "stopping", "stopped", "lost"]) {
      expect(STYLE_CSS).toContain(`.state-${state} {`);
    }
  });
});
