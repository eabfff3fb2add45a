/** Input checks for the dashboard's routes: zod schemas whose failures become InvalidInputError (HTTP 400). */
import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { JOB_STATES, type JobState } from "../queue/job.js";
import { JOB_ID_PATTERN } from "../queue/job-spec.js";

/** Parses `value` with `schema`; the first issue becomes a one-line InvalidInputError naming the field. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  throw new InvalidInputError(`${field}${issue?.message ?? "invalid input"}`);
}

/** A query-string value where an empty field (an unselected filter) means "not given". */
const optionalParam = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

const state = z.enum(JOB_STATES as unknown as [JobState, ...JobState[]]);

/**
 * Text that reaches the database: PostgreSQL refuses a NUL byte in text (an error, not "no match"),
 * so it is refused here, with the other control characters no id or name contains.
 */
const dbText = (max: number) => z.string().max(max).refine((s) => !/[\u0000-\u001f\u007f]/.test(s), { message: "must not contain control characters" });

/** Job ids as the queue accepts them (job-spec.ts); anything else names no job. */
export const jobIdSchema = z.string().regex(JOB_ID_PATTERN, "is not a job id");
const queueName = dbText(200).pipe(z.string().min(1));

export const pageParams = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
};

/** GET /api/jobs */
export const jobsQuery = z.object({
  state: optionalParam(state),
  queue: optionalParam(queueName),
  q: optionalParam(dbText(200).pipe(z.string().trim())),
  ...pageParams,
});

/** GET /api/dlq */
export const dlqQuery = z.object(pageParams);

/** GET /api/workers */
export const workersQuery = z.object({ all: optionalParam(z.enum(["0", "1", "true", "false"])) });

/** POST /api/config/:key */
export const configBody = z.strictObject({ value: z.union([z.string().max(100), z.number()]) });

/** POST /api/dlq/retry-all: an explicit confirmation, so an empty or mistaken POST retries nothing. */
export const retryAllBody = z.strictObject({ all: z.literal(true) });
