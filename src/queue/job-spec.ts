/**
 * The job JSON users enqueue (its fields are listed in the README and docs/cli-contract.md) and its
 * validation. Unknown fields are rejected so a typo (`"priorty": 5`) is an error, not a silently
 * ignored setting. The full validation, in zod, is job-spec-schema.ts; this module holds the type, the
 * bounds both use, and the fast path that spares most jobs loading zod.
 */
import { randomBytes } from "node:crypto";

export const INT32_MAX = 2_147_483_647;
export const NUL = /\u0000/;

/** Job ids: what people type and paste into `show <id>`; no spaces or control characters. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,199}$/;
/** Queue names: short identifiers. */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Environment variable names a job may set: what a POSIX shell accepts. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Most dependencies one job may have. */
export const MAX_DEPENDENCIES = 100;
/**
 * Bounds on what a job carries to exec(2). Linux takes at most 128 KiB in one argument or one
 * NAME=value, and about 2 MiB for all of them together; a job over that could never start (E2BIG),
 * and a 60 MB env cost the worker minutes of CPU per attempt before failing. So: the command (one
 * argument of `sh -c`) at most 64 KiB, the env at most 64 KiB in all (names and values, UTF-8),
 * the working directory at most 4 KiB (PATH_MAX). Refused at enqueue, with one line.
 */
export const MAX_COMMAND_BYTES = 65_536;
export const MAX_ENV_BYTES = 65_536;
export const MAX_CWD_BYTES = 4096;

/** The bytes an env takes in exec's terms: each NAME=value and its NUL. */
export function envBytes(env: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(env)) n += Buffer.byteLength(k, "utf8") + Buffer.byteLength(v, "utf8") + 2;
  return n;
}

/**
 * Job ids a user may not give: `<schedule>@<tick time>` is each schedule tick's own id, so a job
 * enqueued under one would take that tick over (the tick would find its id taken and never run).
 */
export const SCHEDULE_TICK_ID = /@\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * V8's Date.parse rolls impossible days over (2026-02-30 becomes March 2): the day must exist in its
 * month, and the time of day must be a real one.
 */
export function isCalendarDay(s: string): boolean {
  const [y, m, d] = s.slice(0, 10).split("-").map(Number) as [number, number, number];
  const day = new Date(Date.UTC(y, m - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== m - 1 || day.getUTCDate() !== d) return false;
  const t = /[T ](\d{2}):(\d{2})(?::(\d{2}))?/.exec(s);
  return !t || (Number(t[1]) <= 23 && Number(t[2]) <= 59 && Number(t[3] ?? 0) <= 59);
}

/** Bounds shared by jobSpecSchema and its fast path (fastJobSpec), so the two cannot drift apart. */
export const PRIORITY_BOUND = 1_000_000;
export const MAX_RETRIES_BOUND = 1000;
export const UNIQUE_KEY_MAX_LENGTH = 200;

/**
 * A job id as error messages quote it: an id someone pasted 10 000 characters of is cut, so the
 * message stays one readable line.
 */
export function quoteJobId(id: string): string {
  return id.length <= 80 ? `'${id}'` : `'${id.slice(0, 60)}…' (${id.length} characters)`;
}

/**
 * What a user gave, validated. Declared by hand rather than inferred from jobSpecSchema, so this
 * module does not depend on the zod one; job-spec-schema.ts fails to compile unless the schema's
 * output is exactly this type.
 */
export interface JobSpec {
  id?: string;
  command: string;
  queue?: string;
  priority?: number;
  max_retries?: number;
  /** Milliseconds; absent = config job_timeout_ms at run time. */
  timeout?: number;
  /** ISO 8601 date-time; absent = now. */
  run_at?: string;
  unique_key?: string;
  retry_on?: number[];
  no_retry_on?: number[];
  /** Ids of jobs that must complete first. */
  depends_on?: string[];
  /** Working directory on the worker host (absolute). */
  cwd?: string;
  env?: Record<string, string>;
}

/** A job ready to insert: defaults applied, id generated. */
export interface NewJob {
  id: string;
  queue: string;
  command: string;
  priority: number;
  maxRetries: number;
  /** null = config job_timeout_ms at run time. */
  timeoutMs: number | null;
  /** null = now (database clock). */
  runAt: Date | null;
  /** At most one active job per key; null = no key. */
  uniqueKey?: string | null;
  /** Exit codes that are retried; null = all. */
  retryOn?: number[] | null;
  /** Exit codes never retried. */
  noRetryOn?: number[] | null;
  /** Ids of the jobs this one runs after. */
  dependsOn?: string[];
  /** Dependencies not completed at insert time (set by enqueueJobs). */
  depsPending?: number;
  /** Jobs of the same insert that depend on this one (set by enqueueJobs). */
  dependents?: number;
  cwd?: string | null;
  env?: Record<string, string> | null;
}

const validCommand = (s: string) =>
  s.trim().length > 0 && !NUL.test(s) && (s.length * 3 <= MAX_COMMAND_BYTES || Buffer.byteLength(s, "utf8") <= MAX_COMMAND_BYTES);
const intIn = (v: unknown, min: number, max: number): v is number => typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;

/**
 * jobSpecSchema's checks by hand, for jobs that set only id, command, queue, priority, max_retries,
 * timeout, unique_key and cwd, each valid: the same rules and the same output (fields in schema
 * order). Anything else (another field, an undefined value, any invalid value) returns undefined and
 * goes through zod, which also words the error. Measured on 20 000 `{"command","queue"}` jobs: zod
 * took ~13 ms warm and ~50 ms more in a fresh process (the peers benchmark's and the CLI's case),
 * this ~2 ms.
 */
export function fastJobSpec(input: unknown): JobSpec | undefined {
  if (input === null || typeof input !== "object" || Object.getPrototypeOf(input) !== Object.prototype) return undefined;
  const o = input as Record<string, unknown>;
  for (const key in o) {
    const v = o[key];
    switch (key) {
      case "id":
        if (typeof v !== "string" || !JOB_ID_PATTERN.test(v) || SCHEDULE_TICK_ID.test(v)) return undefined;
        break;
      case "command":
        if (typeof v !== "string" || !validCommand(v)) return undefined;
        break;
      case "queue":
        if (typeof v !== "string" || !QUEUE_NAME_PATTERN.test(v)) return undefined;
        break;
      case "priority":
        if (!intIn(v, -PRIORITY_BOUND, PRIORITY_BOUND)) return undefined;
        break;
      case "max_retries":
        if (!intIn(v, 0, MAX_RETRIES_BOUND)) return undefined;
        break;
      case "timeout":
        if (!intIn(v, 0, INT32_MAX)) return undefined;
        break;
      case "unique_key":
        if (typeof v !== "string" || v.length < 1 || v.length > UNIQUE_KEY_MAX_LENGTH || NUL.test(v)) return undefined;
        break;
      case "cwd":
        if (typeof v !== "string" || !v.startsWith("/") || NUL.test(v) || Buffer.byteLength(v, "utf8") > MAX_CWD_BYTES) return undefined;
        break;
      default:
        return undefined;
    }
  }
  if (typeof o.command !== "string") return undefined;
  const spec = {} as JobSpec;
  if (o.id !== undefined) spec.id = o.id as string;
  spec.command = o.command;
  if (o.queue !== undefined) spec.queue = o.queue as string;
  if (o.priority !== undefined) spec.priority = o.priority as number;
  if (o.max_retries !== undefined) spec.max_retries = o.max_retries as number;
  if (o.timeout !== undefined) spec.timeout = o.timeout as number;
  if (o.unique_key !== undefined) spec.unique_key = o.unique_key as string;
  if (o.cwd !== undefined) spec.cwd = o.cwd as string;
  return spec;
}

const ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const ID_LENGTH = 12;

/**
 * `count` ids of 12 characters of Crockford-ish base32 (60 random bits): short enough to type,
 * collision-free in practice. Drawn from one randomBytes call: one call per id cost ~4 us each,
 * a quarter of a 20 000-job bulk enqueue.
 */
export function generateJobIds(count: number): string[] {
  const bytes = randomBytes(count * ID_LENGTH);
  const ids = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    let id = "";
    for (let k = i * ID_LENGTH; k < (i + 1) * ID_LENGTH; k++) id += ID_ALPHABET[bytes[k]! & 31];
    ids[i] = id;
  }
  return ids;
}

export function generateJobId(): string {
  return generateJobIds(1)[0]!;
}

/**
 * Applies defaults: the config's max_retries, no per-job timeout, run now, the given working
 * directory (or the worker's). `id` is the id for a spec without one (default: a new one): passing
 * it beats `{ ...spec, id }`, whose copies V8 made ~20x slower to read here (55 ms of a 20 000-job
 * enqueue, measured).
 */
export function toNewJob(spec: JobSpec, defaults: { maxRetries: number; cwd?: string }, id?: string): NewJob {
  return {
    id: spec.id ?? id ?? generateJobId(),
    queue: spec.queue ?? "default",
    command: spec.command,
    priority: spec.priority ?? 0,
    maxRetries: spec.max_retries ?? defaults.maxRetries,
    timeoutMs: spec.timeout ?? null,
    runAt: spec.run_at ? new Date(spec.run_at) : null,
    uniqueKey: spec.unique_key ?? null,
    retryOn: spec.retry_on ?? null,
    noRetryOn: spec.no_retry_on ?? null,
    dependsOn: spec.depends_on ? [...new Set(spec.depends_on)] : undefined,
    cwd: spec.cwd ?? defaults.cwd ?? null,
    env: spec.env ?? null,
  };
}
