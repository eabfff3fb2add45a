/**
 * What every part of local mode (embedded.ts) shares: where its files are, the database and user it
 * serves, how long pg_ctl may take, the start lock's settings, and two helpers for error messages.
 */
import os from "node:os";
import path from "node:path";
import { OperationalError } from "../errors.js";

export const DATABASE = "queuectl";
export const SUPERUSER = "postgres";
/** How long pg_ctl may wait for the server to start or stop (crash recovery can take a while). */
export const PG_CTL_TIMEOUT_S = 60;

export interface Paths {
  home: string;
  pgDir: string;
  dataDir: string;
  initDir: string;
  logFile: string;
  portFile: string;
  lockFile: string;
}

/** The files of local mode under QUEUECTL_HOME (default ~/.queuectl); the list is in embedded.ts. */
export function localPaths(): Paths {
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

export const urlFor = (port: number) => `postgresql://${SUPERUSER}@127.0.0.1:${port}/${DATABASE}`;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const errCode = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;
export const firstLine = (err: unknown) =>
  (err instanceof Error ? err.message : String(err)).split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "unknown error";

/** Settings of the start lock (embedded-lock.ts), taken around both starting and stopping the server. */
export const lockOptions = (p: Paths) => ({
  timeoutMs: (PG_CTL_TIMEOUT_S + 30) * 1000,
  staleMs: 30_000, // the holder refreshes the file's mtime every 10 s
  onTimeout: (holder: string) =>
    new OperationalError(`timed out waiting for another queuectl process (pid ${holder}) to start the local PostgreSQL server; lock ${p.lockFile}`),
});
