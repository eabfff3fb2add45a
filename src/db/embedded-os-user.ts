/**
 * Running as root: PostgreSQL refuses to run as root, so (like the package's `createPostgresUser`
 * option) the binaries run as the OS user `postgres`, created when missing, and the data folder and
 * log are chowned to it. That user must be able to reach the data folder and the binaries: every
 * ancestor folder lacking search (x) permission for it gets `o+x` added (search only, not listing),
 * e.g. /root or a 0700 mkdtemp folder. We chose this over keeping the data elsewhere so that all of
 * local mode stays inside QUEUECTL_HOME and deleting that folder removes it.
 */
import { execFile } from "node:child_process";
import { chmod, stat } from "node:fs/promises";
import path from "node:path";
import { OperationalError } from "../errors.js";
import { firstLine, SUPERUSER } from "./embedded-common.js";

export interface Owner {
  uid: number;
  gid: number;
}

export const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

function execText(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { encoding: "utf8" }, (err, stdout) => (err ? reject(err) : resolve(stdout.trim()))),
  );
}

/** The `postgres` OS user, created when missing (what the package's createPostgresUser does). */
export async function postgresOwner(): Promise<Owner> {
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
export async function ensureTraversable(dir: string, owner: Owner): Promise<void> {
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
