/**
 * Debian's PgBouncer (1.18: no prepared statements in transaction mode) on a private port, in front of
 * a test server, in transaction mode by default: what many production setups put between queuectl and
 * PostgreSQL. Started as the `postgres` OS user when we are root (PgBouncer refuses to run as root).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./private-server.js";

export const PGBOUNCER = "/usr/sbin/pgbouncer";
export const pgbouncerInstalled = (): boolean => existsSync(PGBOUNCER);

export interface Bouncer {
  port: number;
  /** `serverUrl` (a database on the server behind it) with host and port replaced by the bouncer's. */
  via(serverUrl: string): string;
  /** PgBouncer's own log. */
  log(): string;
  /** Sends new connections to `port` on 127.0.0.1 from now on (the ini rewritten, then SIGHUP: a reload). */
  repoint(port: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `server`: any URL of the server to front (its host, port, user and password are used);
 * `poolSize`: server connections per database and user; `mode`: transaction (default) or session.
 */
export async function startPgBouncer(p: { server: string; poolSize: number; mode?: "transaction" | "session"; maxClients?: number }): Promise<Bouncer> {
  const dir = mkdtempSync(join(tmpdir(), "queuectl-pgbouncer-"));
  chmodSync(dir, 0o777);
  const port = await freePort();
  const server = new URL(p.server);
  const user = decodeURIComponent(server.username || "postgres");
  const password = decodeURIComponent(server.password);
  writeFileSync(join(dir, "users.txt"), `"${user}" "${password}"\n`);
  const ini = (host: string, serverPort: string | number) =>
    [
      "[databases]",
      `* = host=${host} port=${serverPort}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      `auth_type = ${password === "" ? "trust" : "plain"}`,
      `auth_file = ${join(dir, "users.txt")}`,
      `pool_mode = ${p.mode ?? "transaction"}`,
      `default_pool_size = ${p.poolSize}`,
      "reserve_pool_size = 0",
      `max_client_conn = ${p.maxClients ?? 2000}`,
      // pg sends none of these; a JDBC or psql client would, and PgBouncer refuses unknown ones.
      "ignore_startup_parameters = extra_float_digits,options",
      `logfile = ${join(dir, "pgbouncer.log")}`,
      "log_connections = 0",
      "log_disconnections = 0",
    ].join("\n") + "\n";
  writeFileSync(join(dir, "pgbouncer.ini"), ini(server.hostname, server.port || 5432));
  for (const f of ["users.txt", "pgbouncer.ini"]) chmodSync(join(dir, f), 0o644);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync("chown", ["-R", "postgres", dir]);
  const child: ChildProcess = spawn(PGBOUNCER, [...(asRoot ? ["-u", "postgres"] : []), join(dir, "pgbouncer.ini")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d) => (stderr += d));
  const via = (serverUrl: string) => {
    const u = new URL(serverUrl);
    u.hostname = "127.0.0.1";
    u.port = String(port);
    if (!u.password && password) u.password = password;
    return u.toString();
  };
  const log = () => (existsSync(join(dir, "pgbouncer.log")) ? readFileSync(join(dir, "pgbouncer.log"), "utf8") : "");
  // Up when it answers a query (PgBouncer connects to the server on the first client's behalf).
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new pg.Client({ connectionString: via(p.server), connectionTimeoutMillis: 1000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      await client.end();
      break;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill("SIGKILL");
        throw new Error(`PgBouncer did not come up: ${(err as Error).message}\n${stderr}${log()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    port,
    via,
    log,
    async repoint(serverPort) {
      writeFileSync(join(dir, "pgbouncer.ini"), ini("127.0.0.1", serverPort));
      child.kill("SIGHUP");
      // The reload happens in PgBouncer's next event loop turn; callers check through a query.
      await new Promise((r) => setTimeout(r, 200));
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGINT");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
