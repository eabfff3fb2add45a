/** A schedule's job: the job spec every tick enqueues, checked with the job schema (zod). */
import { InvalidInputError } from "../errors.js";
import type { JobSpec } from "./job-spec.js";
import { parseJobSpec } from "./job-spec-schema.js";

/** Validates a schedule's job JSON: a job spec without `id` (each tick gets name@tick) or `depends_on`. */
export function parseScheduleJob(input: unknown): JobSpec {
  const spec = parseJobSpec(input, "job: ");
  if (spec.id !== undefined) throw new InvalidInputError("job: a scheduled job cannot set 'id' (each tick's job is <name>@<tick time>)");
  if (spec.depends_on !== undefined) throw new InvalidInputError("job: a scheduled job cannot set 'depends_on'");
  if (spec.run_at !== undefined) throw new InvalidInputError("job: a scheduled job cannot set 'run_at' (the schedule decides when it runs)");
  return spec;
}

