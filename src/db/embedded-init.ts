/** Initialising the local cluster: initdb, once, on first use. */
import { chown, mkdir, rename, rm, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { OperationalError } from "../errors.js";
import { run, type Binaries } from "./embedded-binaries.js";
import { firstLine, SUPERUSER, type Paths } from "./embedded-common.js";
import type { Owner } from "./embedded-os-user.js";

/**
 * Runs initdb (as `owner` when given) and appends the settings that keep the server on the loopback
 * interface without a Unix socket (see the authentication note in embedded.ts).
 */
export async function initCluster(p: Paths, bin: Binaries, owner: Owner | null): Promise<void> {
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
