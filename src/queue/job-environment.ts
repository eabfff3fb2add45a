/**
 * The environment a job's command runs with: what the job asked for, not the worker's. A worker's
 * environment holds its DATABASE_URL (with a password), the dashboard token and other settings; a
 * job's command is someone else's shell command and must see none of it unless an operator passes a
 * name on purpose. Commands start from a small base, then the names the worker passes through, then
 * the job's own `env`, then the QUEUECTL_* variables that describe the run.
 *
 * Names that change how the command itself is found or loaded (PATH, the dynamic loader's LD_* and
 * DYLD_*, interpreter options) would let a job's env run other code than its command says; a job may
 * set one only when env_allowlist names it exactly (a `*` or a prefix does not count).
 */

/** What every command gets from the worker's environment, when the worker has it. */
export const BASE_ENV_NAMES: readonly string[] = ["PATH", "HOME", "LANG", "TZ", "USER", "LOGNAME", "SHELL", "TMPDIR"];
/** Prefixes of the worker's variables every command gets too (the locale's categories). */
const BASE_ENV_PREFIXES: readonly string[] = ["LC_"];

/** The variables queuectl sets for each run; a job cannot set or override them. */
export const RUN_ENV_NAMES = ["QUEUECTL_JOB_ID", "QUEUECTL_ATTEMPT", "QUEUECTL_QUEUE", "QUEUECTL_WORKER_ID", "QUEUECTL_PROGRESS"] as const;

/**
 * Names a job may set only when env_allowlist lists them by their exact name: what decides which
 * program runs or what it loads before the command's own code.
 */
export const GUARDED_ENV_NAMES: readonly string[] = [
  "PATH",
  "NODE_OPTIONS",
  "NODE_PATH",
  "BASH_ENV",
  "ENV",
  "SHELLOPTS",
  "BASHOPTS",
  "IFS",
  "PERL5OPT",
  "PERL5LIB",
  "PYTHONPATH",
  "PYTHONSTARTUP",
  "PYTHONHOME",
  "RUBYOPT",
  "RUBYLIB",
  "JAVA_TOOL_OPTIONS",
];
const GUARDED_ENV_PREFIXES: readonly string[] = ["LD_", "DYLD_", "QUEUECTL_"];

/** Whether a job's env may set `name` only when env_allowlist names it exactly. */
export function isGuardedEnvName(name: string): boolean {
  return GUARDED_ENV_NAMES.includes(name) || GUARDED_ENV_PREFIXES.some((p) => name.startsWith(p));
}

/** The run's own variables. */
export interface RunIdentity {
  jobId: string;
  attempt: number;
  queue: string;
  workerId: string;
  /** The file the command reports progress to (worker/progress-reports.ts), as QUEUECTL_PROGRESS. */
  progressFile?: string;
}

/**
 * The whole environment of one run: the base names and `passEnv` names taken from `workerEnv` (the
 * worker's process.env), then the job's env, then the run's QUEUECTL_* variables.
 */
export function buildRunEnvironment(p: {
  workerEnv: Readonly<Record<string, string | undefined>>;
  passEnv: readonly string[];
  jobEnv: Readonly<Record<string, string>> | null;
  run: RunIdentity;
  /** The user commands run as (`worker start --run-as`): HOME, USER, LOGNAME and SHELL are theirs. */
  user?: { name: string; home: string; shell: string };
}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(p.workerEnv)) {
    if (value === undefined) continue;
    if (BASE_ENV_NAMES.includes(name) || BASE_ENV_PREFIXES.some((prefix) => name.startsWith(prefix)) || p.passEnv.includes(name)) env[name] = value;
  }
  if (p.user) Object.assign(env, { HOME: p.user.home, USER: p.user.name, LOGNAME: p.user.name, SHELL: p.user.shell });
  if (p.jobEnv) Object.assign(env, p.jobEnv);
  env.QUEUECTL_JOB_ID = p.run.jobId;
  env.QUEUECTL_ATTEMPT = String(p.run.attempt);
  env.QUEUECTL_QUEUE = p.run.queue;
  env.QUEUECTL_WORKER_ID = p.run.workerId;
  if (p.run.progressFile) env.QUEUECTL_PROGRESS = p.run.progressFile;
  return env;
}
