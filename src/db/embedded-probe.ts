/**
 * Finding a running local server: the fast path of every CLI command in local mode (two syscalls and a
 * TCP connect), and the checks starting and stopping build on.
 */
import { readFile, stat } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { errCode } from "./embedded-common.js";
import { pidAlive } from "./embedded-lock.js";

export interface PidFile {
  pid: number;
  port: number;
  status: string;
}

/** postmaster.pid: line 1 pid, 4 port, 8 status ("starting", "ready", "stopping"). */
export async function readPidFile(dataDir: string): Promise<PidFile | null> {
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
export async function runningPort(dataDir: string): Promise<number | null> {
  const pf = await readPidFile(dataDir);
  if (!pf || !pidAlive(pf.pid) || pf.status !== "ready" || !Number.isInteger(pf.port)) return null;
  return (await portAnswers(pf.port)) ? pf.port : null;
}

/** Whether `dataDir` holds a cluster (initdb completed: see embedded-init.ts). */
export async function isInitialised(dataDir: string): Promise<boolean> {
  return stat(path.join(dataDir, "PG_VERSION")).then(
    () => true,
    () => false,
  );
}
