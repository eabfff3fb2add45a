/**
 * `dlq retry --edit '<json>'`: the patch a dead job may get before it runs again. Its own module
 * because it needs zod (job-spec-schema.ts), which commands that do not edit should not load.
 */
import { z } from "zod";
import { InvalidInputError } from "../errors.js";
import { jobSpecSchema } from "./job-spec-schema.js";
import type { DeadJobEdit } from "./sql/dlq.js";

const deadJobEditSchema = z.strictObject({
  command: jobSpecSchema.shape.command.optional(),
  timeout: jobSpecSchema.shape.timeout.unwrap().nullable().optional(),
  max_retries: jobSpecSchema.shape.max_retries.optional(),
});

/** Parses `dlq retry --edit '<json>'`: a patch of command, timeout (ms; null = config default) and max_retries. */
export function parseDeadJobEdit(raw: string): DeadJobEdit {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new InvalidInputError(`--edit must be a JSON object, e.g. '{"command":"make report","timeout":60000}'`);
  }
  const parsed = deadJobEditSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === "unrecognized_keys") throw new InvalidInputError(`--edit: unknown field ${issue.keys.map((k) => `'${k}'`).join(", ")} (command, timeout, max_retries)`);
    throw new InvalidInputError(`--edit: ${issue.path.length ? `'${issue.path.join(".")}' ` : ""}${issue.message}`);
  }
  const e = parsed.data;
  if (e.command === undefined && e.timeout === undefined && e.max_retries === undefined) throw new InvalidInputError("--edit: nothing to change (fields: command, timeout, max_retries)");
  return { command: e.command, timeoutMs: e.timeout, maxRetries: e.max_retries };
}
