/**
 * The job JSON's full validation, in zod: every field and rule of JobSpec (job-spec.ts), and the
 * wording of every error. Most jobs never come here: fastJobSpec (job-spec.ts) accepts the common valid ones by hand,
 * and `queuectl enqueue` loads this module only for a job the fast path did not accept, because
 * zod's ~100 modules were a third of the CLI's start-up.
 */
import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import {
  ENV_NAME_PATTERN,
  fastJobSpec,
  INT32_MAX,
  isCalendarDay,
  JOB_ID_PATTERN,
  envBytes,
  MAX_COMMAND_BYTES,
  MAX_CWD_BYTES,
  MAX_DEPENDENCIES,
  MAX_ENV_BYTES,
  MAX_RETRIES_BOUND,
  NUL,
  PRIORITY_BOUND,
  QUEUE_NAME_PATTERN,
  SCHEDULE_TICK_ID,
  UNIQUE_KEY_MAX_LENGTH,
  type JobSpec,
} from "./job-spec.js";

const isoDate = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s)) && isCalendarDay(s), {
    message: "must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z",
  })
  .refine((s) => {
    const y = new Date(s).getUTCFullYear();
    return y >= 1970 && y <= 9999;
  }, { message: "must be between the years 1970 and 9999" });

/** A list of exit codes (retry_on / no_retry_on). */
const exitCodeList = z.array(z.number().int().min(0).max(255)).max(256);
/**
 * An integer in [min, max]. Checked by hand rather than with .int().min().max(): zod's int check
 * reports numbers past 2^53 (a priority of 1e20) as "at most 9007199254740991", not the field's range.
 */
const intBetween = (min: number, max: number) =>
  z.number().refine((n) => Number.isInteger(n) && n >= min && n <= max, { message: `must be an integer from ${min} to ${max}` });

export const jobSpecSchema = z.strictObject({
  id: z
    .string()
    .regex(JOB_ID_PATTERN, "must be 1-200 characters: letters, digits and . _ : @ + - (starting with a letter or digit)")
    .refine((s) => !SCHEDULE_TICK_ID.test(s), { message: "must not end in @<time>: those ids belong to schedule ticks" })
    .optional(),
  command: z
    .string()
    .refine((s) => s.trim().length > 0, { message: "must not be empty" })
    .refine((s) => !NUL.test(s), { message: "must not contain NUL bytes" })
    .refine((s) => Buffer.byteLength(s, "utf8") <= MAX_COMMAND_BYTES, { message: `must be at most ${MAX_COMMAND_BYTES} bytes` }),
  queue: z.string().regex(QUEUE_NAME_PATTERN, "must be 1-64 characters: letters, digits and . _ -").optional(),
  priority: intBetween(-PRIORITY_BOUND, PRIORITY_BOUND).optional(),
  max_retries: intBetween(0, MAX_RETRIES_BOUND).optional(),
  timeout: intBetween(0, INT32_MAX).optional(),
  run_at: isoDate.optional(),
  unique_key: z.string().min(1).max(UNIQUE_KEY_MAX_LENGTH).refine((s) => !NUL.test(s), { message: "must not contain NUL bytes" }).optional(),
  retry_on: exitCodeList.optional(),
  no_retry_on: exitCodeList.optional(),
  /** Ids of jobs that must complete first; each must exist (or come earlier in the same input). */
  depends_on: z.array(z.string().regex(JOB_ID_PATTERN, "must hold job ids")).max(MAX_DEPENDENCIES).optional(),
  /** Working directory on the worker host (absolute). */
  cwd: z
    .string()
    .refine((s) => s.startsWith("/"), { message: "must be an absolute path" })
    .refine((s) => !NUL.test(s), { message: "must not contain NUL bytes" })
    .refine((s) => Buffer.byteLength(s, "utf8") <= MAX_CWD_BYTES, { message: `must be at most ${MAX_CWD_BYTES} bytes` })
    .optional(),
  /** Environment variables to run with: {"NAME": "value"}. */
  env: z
    .record(z.string().regex(ENV_NAME_PATTERN, "names must be letters, digits and _ (not starting with a digit)"), z.string().refine((s) => !NUL.test(s), { message: "values must not contain NUL bytes" }))
    .refine((env) => envBytes(env) <= MAX_ENV_BYTES, { message: `must be at most ${MAX_ENV_BYTES} bytes in all (names and values)` })
    .optional(),
});

/** Whether A and B are the same type (not merely assignable to each other: optional fields count too). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type AssertTrue<T extends true> = T;
/**
 * The schema's output must be exactly JobSpec, which job-spec.ts declares by hand: a field added,
 * dropped or retyped on one side and not the other fails the build here instead of drifting.
 */
export type SchemaMatchesJobSpec = AssertTrue<Same<z.output<typeof jobSpecSchema>, JobSpec>>;

function describeIssue(issue: z.core.$ZodIssue, label: string): string {
  const field = issue.path.length ? issue.path.join(".") : "";
  if (issue.code === "unrecognized_keys") return `${label}unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
  if (issue.code === "invalid_type") {
    const expected = (issue as { expected?: string }).expected;
    return field ? `${label}'${field}' must be ${expected === "int" ? "an integer" : `${/^[aeiou]/.test(expected ?? "") ? "an" : "a"} ${expected}`}` : `${label}a job must be a JSON object`;
  }
  if (issue.code === "too_small" || issue.code === "too_big") {
    const i = issue as { minimum?: number | bigint; maximum?: number | bigint };
    const bound = issue.code === "too_small" ? `at least ${i.minimum}` : `at most ${i.maximum}`;
    return `${label}'${field}' must be ${bound}`;
  }
  return `${label}'${field}' ${issue.message}`;
}

/** Validates one job object (already parsed from JSON). `where` prefixes the error, e.g. "line 3: ". */
export function parseJobSpec(input: unknown, where = ""): JobSpec {
  const fast = fastJobSpec(input);
  if (fast) return fast;
  const result = jobSpecSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new InvalidInputError(issue ? describeIssue(issue, where) : `${where}invalid job`);
  }
  return result.data;
}
