import { pino, type Logger } from "pino";

/** JSON lines on stdout (a container's log, or the file `worker start` points it at). */
export function createLogger(bindings: Record<string, unknown> = {}, level = process.env.QUEUECTL_LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } });
}

export type { Logger };
