/**
 * A primary and a streaming standby of the test's own, for failover: Debian's PostgreSQL binaries
 * (the embedded package ships no pg_basebackup), run as the `postgres` OS user when we are root. The
 * standby is a pg_basebackup of the primary, attached with synchronous replication: a commit the
 * primary acknowledged is on the standby, so promoting it loses nothing acknowledged (with
 * asynchronous replication the last moments before a crash can be lost; docs/production.md says so).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { applyMigrations } from "../../src/db/migrate.js";
import { freePort } from "./private-server.js";

/** The newest Debian PostgreSQL with pg_basebackup, or undefined. */
export function debianPostgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "pg_basebackup"))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

export interface ReplicaPair {
  primaryPort: number;
  standbyPort: number;
  /** URL of the `queuectl` database on `port`. */
  url(port: number): string;
  /** Ends the primary the way a crash or a lost machine would: no checkpoint, no goodbye to clients. */
  crashPrimary(): void;
  /** Promotes the standby to a primary that takes writes; resolves once it does. */
  promoteStandby(): Promise<void>;
  destroy(): void;
}

export async function startReplicaPair(): Promise<ReplicaPair> {
  const bin = debianPostgresBin();
  if (!bin) throw new Error("no Debian PostgreSQL with pg_basebackup under /usr/lib/postgresql: apt-get install postgresql");
  const dir = mkdtempSync(join(tmpdir(), "queuectl-replicas-"));
  chmodSync(dir, 0o777);
  const asRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[]) =>
    execFileSync(asRoot ? "runuser" : join(bin, tool), asRoot ? ["-u", "postgres", "--", join(bin, tool), ...args] : args, { stdio: "pipe", cwd: dir });
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const primary = join(dir, "primary");
  const standby = join(dir, "standby");
  const options = (port: number, extra: string) =>
    `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c max_connections=100 -c wal_level=replica -c max_wal_senders=4 ${extra}`;

  run("initdb", ["-D", primary, "-U", "postgres", "--auth=trust", "--no-sync"]);
  run("pg_ctl", ["-D", primary, "-l", join(dir, "primary.log"), "-o", options(primaryPort, "-c synchronous_standby_names=*"), "-w", "start"]);
  const url = (port: number) => `postgresql://postgres@127.0.0.1:${port}/queuectl`;
  // Created before the standby exists: with synchronous_standby_names set, a commit waits for one.
  const admin = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${primaryPort}/postgres` });
  await admin.connect();
  await admin.query("SET synchronous_commit = local");
  await admin.query("CREATE DATABASE queuectl");
  await admin.end();
  run("pg_basebackup", ["-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres", "-D", standby, "-R", "-X", "stream", "-c", "fast"]);
  run("pg_ctl", ["-D", standby, "-l", join(dir, "standby.log"), "-o", options(standbyPort, ""), "-w", "start"]);

  const probe = new pg.Client({ connectionString: url(primaryPort) });
  await probe.connect();
  const deadline = Date.now() + 30_000;
  while ((await probe.query("SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'")).rowCount === 0) {
    if (Date.now() > deadline) throw new Error("the standby did not attach as a synchronous replica");
    await new Promise((r) => setTimeout(r, 100));
  }
  await probe.end();
  const pool = new pg.Pool({ connectionString: url(primaryPort) });
  await applyMigrations(pool);
  await pool.end();

  return {
    primaryPort,
    standbyPort,
    url,
    crashPrimary: () => run("pg_ctl", ["-D", primary, "-m", "immediate", "stop"]),
    async promoteStandby() {
      run("pg_ctl", ["-D", standby, "-w", "promote"]);
    },
    destroy() {
      for (const d of [primary, standby]) {
        try {
          run("pg_ctl", ["-D", d, "-m", "immediate", "stop"]);
        } catch {
          // already stopped
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
