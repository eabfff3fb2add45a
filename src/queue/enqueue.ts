/**
 * Enqueueing jobs: validated specs become rows, in one statement for a few plain jobs or in one
 * transaction (COPY or INSERT batches, dependencies, unique keys) for the rest, and idle workers are
 * woken on commit. The statements are in sql/enqueue.ts and sql/dependencies.ts.
 */
import type pg from "pg";
import { inTransaction } from "../db/transaction.js";
import { InvalidInputError, InvalidStateError, NotFoundError, OperationalError } from "../errors.js";
import { envNameAllowed, loadConfig } from "./config.js";
import { isGuardedEnvName } from "./job-environment.js";
import type { QueueContext } from "./context.js";
import { generateJobIds, toNewJob, type JobSpec, type NewJob } from "./job-spec.js";
import { findActiveUniqueJobs, insertJobs, canInsertAlone, insertJobsAndNotify, notifyJobsAvailable } from "./sql/enqueue.js";
import { insertDependencies, lockDependencies, type NewDependency } from "./sql/dependencies.js";

/**
 * Rows per COPY (per INSERT for jobs with a unique_key) inside the enqueue transaction: the progress
 * bar's step, and each statement's data stays a few hundred KB. Measured with 20 000 jobs on 2 cores:
 * with the INSERT, 1000-row batches took ~1.7x as long as 5000-row ones and one 20 000-row statement
 * was no faster (~300 ms either way); with COPY, 4 x 5000 rows and 1 x 20 000 took the same (~180 ms).
 */
export const ENQUEUE_BATCH_SIZE = 5000;
/** Up to this many jobs with neither unique_key nor dependencies are added by one statement. */
const SMALL_ENQUEUE = 100;

export interface EnqueueJobsParams {
  /** Validated job specs (parseJobSpec / readEnqueueInput). */
  specs: readonly JobSpec[];
  /** Rows per COPY or INSERT statement; default ENQUEUE_BATCH_SIZE. */
  batchSize?: number;
  /** Working directory of the jobs that set none (the CLI: where it was run); default: the worker's. */
  cwd?: string;
  /** Called after each batch with the jobs written so far (uncommitted until the end). */
  onBatch?: (done: number, total: number) => void;
}

/** What enqueue did: the id of every job given (in input order) and which of them existed already. */
export interface EnqueueOutcome {
  ids: string[];
  /** Ids returned for a unique_key an active job already held: nothing was added for those. */
  existing: Set<string>;
}

/**
 * Inserts every job in one transaction and wakes idle workers on commit: either all jobs are
 * enqueued or none is. Jobs without max_retries get the config default. A job id that exists already
 * raises InvalidInputError naming it (and nothing is inserted). Returns the ids in input order.
 */
export async function enqueueJobs(ctx: Pick<QueueContext, "pool">, p: EnqueueJobsParams): Promise<string[]> {
  return (await enqueueJobsWithOutcome(ctx, p)).ids;
}

/**
 * enqueueJobs, also saying which jobs were not added because an active job (pending, processing or
 * failed) holds their unique_key: for those, the existing job's id is returned in their place.
 */
export async function enqueueJobsWithOutcome(ctx: Pick<QueueContext, "pool">, p: EnqueueJobsParams): Promise<EnqueueOutcome> {
  if (p.specs.length === 0) return { ids: [], existing: new Set() };
  const batchSize = p.batchSize ?? ENQUEUE_BATCH_SIZE;
  try {
    const jobs = await toNewJobs(ctx.pool, p);
    if (jobs.length <= SMALL_ENQUEUE && jobs.every(canInsertAlone)) {
      // One statement, no transaction around it (insertJobsAndNotify): the common case of adding a job.
      await insertJobsAndNotify(ctx.pool, jobs);
      p.onBatch?.(jobs.length, jobs.length);
      return { ids: jobs.map((j) => j.id), existing: new Set() };
    }
    return await inTransaction(ctx.pool, async (client) => {
      const inserted = new Set<string>();
      const edges = await resolveDependencies(client, jobs);
      for (let i = 0; i < jobs.length; i += batchSize) {
        for (const id of await insertJobs(client, jobs.slice(i, i + batchSize))) inserted.add(id);
        p.onBatch?.(Math.min(jobs.length, i + batchSize), jobs.length);
      }
      const result = jobs.map((j) => j.id);
      const existing = new Set<string>();
      const skipped = jobs.filter((j) => !inserted.has(j.id));
      if (skipped.length > 0) {
        // Skipped for their unique_key: the holder committed before our insert returned, so this new
        // statement's snapshot sees it (unless it finished meanwhile: then insert once more).
        let holders = await findActiveUniqueJobs(client, skipped.map((j) => j.uniqueKey!));
        const orphans = skipped.filter((j) => !holders.has(j.uniqueKey!));
        if (orphans.length > 0) {
          for (const id of await insertJobs(client, orphans)) inserted.add(id);
          holders = await findActiveUniqueJobs(client, skipped.map((j) => j.uniqueKey!));
        }
        for (let k = 0; k < jobs.length; k++) {
          const j = jobs[k]!;
          if (inserted.has(j.id)) continue;
          const holder = holders.get(j.uniqueKey!);
          if (holder === undefined) throw new OperationalError(`unique key '${j.uniqueKey}' changed hands while enqueueing; try again`);
          result[k] = holder;
          // Same key twice in this input: the later ones name the job the first one added.
          if (holder !== j.id && !inserted.has(holder)) existing.add(holder);
        }
      }
      // A job not added because its unique_key is held has no edges of its own, and a job added cannot
      // wait on one of this input that was not added (the holder of its key is another job).
      const position = new Map(jobs.map((j) => [j.id, j]));
      const orphan = edges.find((e) => inserted.has(e.jobId) && position.has(e.dependsOn) && !inserted.has(e.dependsOn));
      if (orphan) {
        const skipped = position.get(orphan.dependsOn)!;
        throw new InvalidStateError(
          `job '${orphan.jobId}' depends on '${orphan.dependsOn}', which was not added: an active job holds its unique key '${skipped.uniqueKey}'; nothing was enqueued`,
        );
      }
      await insertDependencies(client, edges.filter((e) => inserted.has(e.jobId)));
      await notifyJobsAvailable(client, jobs.filter((j) => !j.depsPending && inserted.has(j.id)).map((j) => j.queue));
      return { ids: result, existing };
    });
  } catch (err) {
    const e = err as { code?: string; constraint?: string; detail?: string };
    if (e.code === "23505" && e.constraint === "jobs_pkey") {
      const id = /\(id\)=\((.*)\) already exists/.exec(e.detail ?? "")?.[1];
      throw new InvalidInputError(id !== undefined ? `job id '${id}' already exists` : "a job id already exists");
    }
    throw err;
  }
}

/**
 * The specs as rows to insert: generated ids for those without one, the config's max_retries for
 * those that set none (config is read only when some spec needs it, also for env_allowlist).
 */
async function toNewJobs(db: pg.Pool, p: EnqueueJobsParams): Promise<NewJob[]> {
  const needsConfig = p.specs.some((s) => s.max_retries === undefined || s.env !== undefined);
  const config = needsConfig ? await loadConfig(db) : null;
  if (config) checkEnvAllowed(p.specs, config.env_allowlist);
  const ids = generateJobIds(p.specs.reduce((n, s) => (s.id === undefined ? n + 1 : n), 0));
  let next = 0;
  const defaults = { maxRetries: config?.max_retries ?? 0, cwd: p.cwd };
  return p.specs.map((s) => toNewJob(s, defaults, s.id === undefined ? ids[next++]! : undefined));
}

/**
 * Throws InvalidInputError for the first env name that config env_allowlist does not allow. A guarded
 * name (PATH, LD_*, ...: job-environment.ts) must be listed by its exact name, whatever else the list allows.
 */
export function checkEnvAllowed(specs: readonly JobSpec[], allowlist: string): void {
  for (const spec of specs) {
    if (spec.env === undefined) continue;
    for (const name of Object.keys(spec.env)) {
      if (!envNameAllowed(allowlist, name)) {
        throw new InvalidInputError(`environment variable '${name}' is not allowed by config env_allowlist (${allowlist})`);
      }
      if (isGuardedEnvName(name) && !allowlist.split(",").includes(name)) {
        throw new InvalidInputError(
          `environment variable '${name}' changes what the command runs or loads: a job may set it only when config env_allowlist names it (queuectl config set env_allowlist '${allowlist === "*" ? `*,${name}` : `${allowlist},${name}`}')`,
        );
      }
    }
  }
}

/**
 * Checks and counts the jobs' dependencies inside the enqueue transaction, setting each job's
 * depsPending and dependents, and returns the edges to insert. A job may depend on an existing job or
 * on one earlier in the same input (so no cycle can be built). Missing: NotFoundError; dead or
 * cancelled (the dependent could never run): InvalidStateError. Either rolls the enqueue back.
 */
async function resolveDependencies(client: pg.PoolClient, jobs: NewJob[]): Promise<NewDependency[]> {
  if (!jobs.some((j) => j.dependsOn?.length)) return [];
  const position = new Map(jobs.map((j, i) => [j.id, i]));
  const external = new Map<string, number>();
  for (const [i, job] of jobs.entries()) {
    for (const dep of job.dependsOn ?? []) {
      const at = position.get(dep);
      if (at === undefined) external.set(dep, (external.get(dep) ?? 0) + 1);
      else if (at >= i) throw new InvalidInputError(`job '${job.id}' depends on '${dep}', which ${at === i ? "is itself" : "comes later in the input"}: a job may only depend on an existing job or one earlier in the input`);
      else jobs[at]!.dependents = (jobs[at]!.dependents ?? 0) + 1;
    }
  }
  const stateOf = new Map((await lockDependencies(client, external)).map((d) => [d.id, d.state]));
  const missing = [...external.keys()].find((dep) => !stateOf.has(dep));
  if (missing !== undefined) throw new NotFoundError(`no job '${missing}' to depend on`);
  for (const [dep, state] of stateOf) {
    if (state === "dead" || state === "cancelled") throw new InvalidStateError(`job '${dep}' is ${state}: a job after it would never run`);
  }
  const edges: NewDependency[] = [];
  for (const job of jobs) {
    for (const dep of job.dependsOn ?? []) {
      const settled = stateOf.get(dep) === "completed";
      edges.push({ jobId: job.id, dependsOn: dep, settled });
      if (!settled) job.depsPending = (job.depsPending ?? 0) + 1;
    }
  }
  return edges;
}
