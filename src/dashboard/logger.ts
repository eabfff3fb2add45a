import { pino, type Logger } from "pino";

/** The dashboard's log: JSON lines on stderr (errors of requests, with stacks); stdout carries its URL. */
export function createDashboardLogger(level = process.env.QUEUECTL_LOG_LEVEL ?? "info"): Logger {
  return pino({ level, base: { pid: process.pid, service: "dashboard" } }, pino.destination(2));
}
