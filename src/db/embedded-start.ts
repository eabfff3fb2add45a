/**
 * Starting the local server with the package's `pg_ctl`, detached (see embedded.ts): on the port used
 * last time when still free, after settling a postmaster.pid left by an earlier server, retrying the
 * two failures a restart can meet.
 */
import { chown, open, readFile, stat, unlink, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { OperationalError } from "../errors.js";
import { pgCtlReason, run, type Binaries } from "./embedded-binaries.js";
import { PG_CTL_TIMEOUT_S, sleep, type Paths } from "./embedded-common.js";
import { pidAlive } from "./embedded-lock.js";
import type { Owner } from "./embedded-os-user.js";
import { readPidFile, runningPort } from "./embedded-probe.js";

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
export async function settleExistingPidFile(p: Paths): Promise<number | null> {
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

/**
 * Starts the server on an initialised cluster with `pg_ctl start -w` and returns its port once it
 * answers there. Retries (up to three attempts) when the port was taken meanwhile or when an old
 * server's shared memory is still held; any other failure is OperationalError with the log's reason.
 */
export async function startServer(p: Paths, bin: Binaries, owner: Owner | null): Promise<number> {
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
