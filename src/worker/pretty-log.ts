/**
 * `worker start --foreground` on a terminal (or `--log-format pretty`): each JSON log line as one line a
 * person reads, the job events (job-log.ts) first among them:
 *   14:02:07  started    jobB  default, priority 10, attempt 1/4
 *   14:02:07  completed  jobB  in 0.02s
 *   14:02:09  failed     jobC  exit code 1; retry in 2s
 *   14:02:15  dead       jobC  exit code 1; moved to the DLQ
 * Any other line: its time, level (when not info), message and fields.
 */
import { JOB_LOG } from "./job-log.js";

export type LogFormat = "json" | "pretty";
export const LOG_FORMATS: readonly LogFormat[] = ["json", "pretty"];

type Fields = Record<string, unknown>;

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
/** Fields every line has, or that say nothing on a terminal. */
const QUIET = new Set(["level", "time", "pid", "hostname", "msg", "v"]);
/** C0 and C1 controls, shown escaped: a log line stays one line. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function clean(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return (text ?? "").replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

function seconds(ms: unknown): string {
  const n = Number(ms);
  return Number.isFinite(n) ? `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)}s` : "?";
}

function clock(time: unknown): string {
  const d = new Date(typeof time === "number" ? time : Date.now());
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** The words after the time for a job event, or null for any other line. */
function jobLine(o: Fields): string | null {
  const job = clean(o.job);
  switch (o.msg) {
    case JOB_LOG.started:
      return `started    ${job}  ${clean(o.queue)}, priority ${clean(o.priority)}, attempt ${clean(o.attempt)}/${clean(o.maxAttempts)}`;
    case JOB_LOG.completed:
      return `completed  ${job}  in ${seconds(o.durationMs)}`;
    case JOB_LOG.failed:
      return `failed     ${job}  ${clean(o.error)}; retry in ${clean(o.retryInS ?? "?")}s`;
    case JOB_LOG.dead:
      return `dead       ${job}  ${clean(o.error)}; moved to the DLQ`;
    case JOB_LOG.cancelled:
      return `cancelled  ${job}`;
    case "lease expired: job taken back":
      return `rescued    ${job}  its worker ${clean(o.previousWorker)} stopped renewing the lease (attempt ${clean(o.attempt)}); now ${clean(o.state)}`;
    default:
      return null;
  }
}

/** One JSON log line as a readable line. */
export function formatLogLine(json: string): string {
  let o: Fields;
  try {
    o = JSON.parse(json) as Fields;
  } catch {
    return json.trimEnd();
  }
  const level = LEVELS[Number(o.level)] ?? "info";
  const job = jobLine(o);
  if (job !== null) return `${clock(o.time)}  ${job}`;
  const fields = Object.entries(o)
    .filter(([k, v]) => !QUIET.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${clean(v)}`);
  return `${clock(o.time)}  ${level === "info" ? "" : `${level.toUpperCase()}  `}${clean(o.msg)}${fields.length > 0 ? `  ${fields.join(" ")}` : ""}`;
}

/** A pino destination writing each line formatted to `out`. */
export function prettyDestination(out: NodeJS.WritableStream): { write(line: string): boolean } {
  return {
    write(chunk: string): boolean {
      for (const line of chunk.split("\n")) if (line !== "") out.write(`${formatLogLine(line)}\n`);
      return true;
    },
  };
}
