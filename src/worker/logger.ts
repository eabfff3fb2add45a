import { pino, type Logger } from "pino";
import { prettyDestination, type LogFormat } from "./pretty-log.js";

/**
 * JSON lines on stdout (a container's log, or the file `worker start` points it at), or with `pretty`
 * one readable line each (pretty-log.ts: a foreground worker on a terminal).
 */
export function createLogger(bindings: Record<string, unknown> = {}, level = process.env.QUEUECTL_LOG_LEVEL ?? "info", format: LogFormat = "json"): Logger {
  const options = { level, base: { pid: process.pid, ...bindings } };
  return format === "pretty" ? pino(options, prettyDestination(process.stdout)) : pino(options);
}

export type { Logger };
