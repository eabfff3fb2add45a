/** `queuectl db stop`: stopping the local server, under the same lock as starting it. */
import { OperationalError, QueuectlError } from "../errors.js";
import { locateBinaries, pgCtlReason, run } from "./embedded-binaries.js";
import { firstLine, localPaths, lockOptions, PG_CTL_TIMEOUT_S } from "./embedded-common.js";
import { pidAlive, withFileLock } from "./embedded-lock.js";
import { isRoot, postgresOwner } from "./embedded-os-user.js";
import { isInitialised, readPidFile } from "./embedded-probe.js";

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
