import { homedir } from "node:os";
import { join } from "node:path";

/** Where local state lives: the embedded server's data, worker logs. QUEUECTL_HOME moves it. */
export function queuectlHome(): string {
  const home = process.env.QUEUECTL_HOME;
  return home && home.trim() !== "" ? home : join(homedir(), ".queuectl");
}

/** Logs of workers started in the background by `worker start`. */
export function workerLogDir(): string {
  return join(queuectlHome(), "logs");
}
