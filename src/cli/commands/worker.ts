import { Command, InvalidArgumentError, Option } from "commander";
import { InvalidInputError } from "../../errors.js";
import { loadConfig } from "../../queue/config.js";
import { ENV_NAME_PATTERN, QUEUE_NAME_PATTERN } from "../../queue/job-spec.js";
import { listWorkers, workersStillRunning, type WorkerInfo } from "../../queue/sql/workers.js";
import { stopWorkers } from "../../queue/workers.js";
import type { LogFormat } from "../../worker/pretty-log.js";
import { nonNegativeSeconds } from "../args.js";
import { withContext } from "../context.js";
import { printJson, printLine, printTable, relativeTime, truncate } from "../output.js";

function wholeNumber(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

function collectEnvName(value: string, previous: string[]): string[] {
  if (!ENV_NAME_PATTERN.test(value)) throw new InvalidArgumentError(`'${value}' is not an environment variable name (letters, digits and _)`);
  return [...previous, value];
}

function collectQueue(value: string, previous: string[]): string[] {
  if (!QUEUE_NAME_PATTERN.test(value)) throw new InvalidArgumentError(`'${value}' is not a queue name (letters, digits and . _ -)`);
  return [...previous, value];
}

/**
 * A worker's slots as `busy/concurrency`, and the jobs it holds beyond them as `+N ahead`: it claims
 * ahead only beyond its free slots, so the jobs it holds past its concurrency wait for a slot.
 */
function slotsText(held: number, concurrency: number): string {
  const ahead = Math.max(0, held - concurrency);
  return `${held - ahead}/${concurrency}${ahead > 0 ? ` +${ahead} ahead` : ""}`;
}

function workerToJson(w: WorkerInfo) {
  return {
    id: w.id,
    host: w.host,
    pid: w.pid,
    state: w.state,
    concurrency: w.concurrency,
    queues: w.queues,
    started_at: w.started_at.toISOString(),
    heartbeat_at: w.heartbeat_at.toISOString(),
    current_jobs: w.current_jobs,
  };
}

export function registerWorkerCommands(program: Command): void {
  const worker = program
    .command("worker")
    .description("start, stop and list the processes that run jobs")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl worker start --count 2 --concurrency 4
  $ queuectl worker list
  $ queuectl worker stop --wait`,
    );

  worker
    .command("start")
    .description("start worker processes on this host (in the background unless --foreground)")
    .addOption(new Option("-n, --count <n>", "worker processes to start").argParser(wholeNumber("--count", 1, 64)).default(1))
    .addOption(new Option("-c, --concurrency <c>", "jobs each worker runs at once").argParser(wholeNumber("--concurrency", 1, 256)).default(1))
    .option("-q, --queue <name>", "take jobs only from this queue (repeatable; default: every queue)", collectQueue, [])
    .option("--foreground", "run one worker in this terminal (what a container runs)")
    .option("--exit-when-idle", "exit once no job is runnable or waiting for a retry (batch runs, scripts)")
    .addOption(new Option("--stop-timeout <s>", "after SIGTERM, end commands still running after this many seconds (0 = wait)").argParser(nonNegativeSeconds).default(0))
    .addOption(
      new Option("--claim-ahead <n>", "jobs to claim beyond the free slots, started as slots free (default: 2 per slot, at most 8, while commands take under 20 ms; 0 = never)").argParser(
        wholeNumber("--claim-ahead", 0, 64),
      ),
    )
    .addOption(new Option("--poll-interval <ms>", "this worker's idle poll, in ms (default: config poll_interval_ms)").argParser(wholeNumber("--poll-interval", 10, 3_600_000)))
    .option("--pass-env <name>", "give every job this variable of the worker's environment too (repeatable; see config pass_env)", collectEnvName, [])
    .addOption(new Option("--log-format <format>", "pretty: one readable line per event; json: JSON lines (default: pretty for --foreground on a terminal, else json)").choices(["pretty", "json"]))
    .addOption(
      new Option("--health-port <port>", "with --foreground: serve GET /healthz (heartbeat younger than a lease) and /readyz (and not draining) on this port, for Kubernetes probes (0 picks a free one)").argParser(
        wholeNumber("--health-port", 0, 65_535),
      ),
    )
    .option("--run-as <user>", "a worker running as root starts job commands as this user, so a job cannot signal the worker nor read its memory or environment")
    .option("--json", "print the started workers as JSON")
    .addHelpText(
      "after",
      `
Jobs run with PATH, HOME, LANG, LC_*, TZ, USER, LOGNAME, SHELL and TMPDIR from the worker's environment,
the names --pass-env and config pass_env give, their own env, and QUEUECTL_JOB_ID, QUEUECTL_ATTEMPT,
QUEUECTL_QUEUE, QUEUECTL_WORKER_ID, QUEUECTL_PROGRESS: nothing else of the worker's (no DATABASE_URL, no token).

Examples:
  $ queuectl worker start --count 4 --concurrency 2
  $ queuectl worker start --pass-env AWS_REGION --pass-env HTTP_PROXY
  $ queuectl worker:start --poll-interval 500
  $ queuectl worker start --queue reports --queue backups
  $ sudo queuectl worker start --run-as jobs
  $ queuectl worker start --foreground --log-format json | jq .
  $ queuectl worker start --foreground --exit-when-idle
  $ queuectl worker start --foreground --health-port 8080 --stop-timeout 50
  $ queuectl worker start --concurrency 8 --claim-ahead 0`,
    )
    .action(async (opts: { count: number; concurrency: number; queue: string[]; foreground?: boolean; exitWhenIdle?: boolean; stopTimeout: number; claimAhead?: number; pollInterval?: number; passEnv: string[]; healthPort?: number; runAs?: string; logFormat?: LogFormat; json?: boolean }) => {
      // One port answers for one worker; background workers are watched through `worker list`.
      if (opts.healthPort !== undefined && !opts.foreground) {
        throw new InvalidInputError("--health-port needs --foreground: it answers for one worker (run one per container); background workers show their heartbeats in `queuectl worker list`");
      }
      // Looked up now, so a wrong name (or a worker that is not root) fails before anything starts.
      const runAs = opts.runAs === undefined ? undefined : (await import("../../worker/run-as.js")).resolveRunAs(opts.runAs);
      const workerOptions = {
        queues: opts.queue,
        concurrency: opts.concurrency,
        exitWhenIdle: opts.exitWhenIdle === true,
        stopTimeoutMs: Math.round(opts.stopTimeout * 1000),
        claimAhead: opts.claimAhead,
        passEnv: opts.passEnv,
        pollIntervalMs: opts.pollInterval,
        runAs,
      };
      if (opts.foreground) {
        if (opts.count !== 1) throw new InvalidInputError("--foreground runs one worker; drop --count or run several commands");
        // Loaded on use: every other command (enqueue above all) starts faster without the worker's modules.
        const { runForegroundWorker } = await import("../../worker/foreground.js");
        await runForegroundWorker(workerOptions, opts.logFormat ?? (process.stdout.isTTY ? "pretty" : "json"), opts.healthPort);
        return;
      }
      const args = ["--concurrency", String(opts.concurrency), "--stop-timeout", String(opts.stopTimeout)];
      for (const q of opts.queue) args.push("--queue", q);
      if (opts.exitWhenIdle) args.push("--exit-when-idle");
      if (opts.claimAhead !== undefined) args.push("--claim-ahead", String(opts.claimAhead));
      for (const name of opts.passEnv) args.push("--pass-env", name);
      if (opts.pollInterval !== undefined) args.push("--poll-interval", String(opts.pollInterval));
      if (opts.runAs !== undefined) args.push("--run-as", opts.runAs);
      if (opts.logFormat !== undefined) args.push("--log-format", opts.logFormat);
      const { spawnWorkers } = await import("../../worker/spawn-workers.js");
      const started = await withContext((ctx) => spawnWorkers(ctx.pool, { count: opts.count, concurrency: opts.concurrency, workerArgs: args }));
      if (opts.json) {
        printJson(started.map((s) => ({ pid: s.pid, log: s.logFile })));
        return;
      }
      printLine(`started ${started.length} worker${started.length > 1 ? "s" : ""} (concurrency ${opts.concurrency} each):`);
      for (const s of started) printLine(`  pid ${s.pid}  log ${s.logFile}`);
      printLine("stop them with: queuectl worker stop");
    });

  worker
    .command("stop")
    .description("ask every running worker, on any host, to finish its jobs and exit")
    .option("--wait", "wait until the workers have exited")
    .addOption(new Option("--timeout <s>", "end commands still running after this many seconds and release their jobs").argParser(nonNegativeSeconds))
    .option("--json", "print the workers asked to stop as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl worker stop
  $ queuectl worker stop --wait --timeout 60`,
    )
    .action(async (opts: { wait?: boolean; timeout?: number; json?: boolean }) => {
      await withContext(async (ctx) => {
        const { lease_ms: leaseMs } = await loadConfig(ctx.pool);
        const ids = await stopWorkers(ctx.pool, {
          ids: null,
          timeoutMs: opts.timeout === undefined ? null : Math.round(opts.timeout * 1000),
          staleAfterMs: leaseMs * 2,
        });
        let remaining: string[] = [];
        if (opts.wait && ids.length > 0) {
          const deadline = opts.timeout === undefined ? Infinity : Date.now() + opts.timeout * 1000 + Math.max(10_000, leaseMs);
          do {
            await new Promise((r) => setTimeout(r, 200));
            remaining = await workersStillRunning(ctx.pool, { ids, leaseMs });
          } while (remaining.length > 0 && Date.now() < deadline);
        }
        if (opts.json) {
          printJson({ stopping: ids, still_running: remaining });
          return;
        }
        if (ids.length === 0) printLine("no running workers");
        else if (!opts.wait) printLine(`asked ${ids.length} worker${ids.length > 1 ? "s" : ""} to stop: ${ids.join(", ")}`);
        else if (remaining.length === 0) printLine(`${ids.length} worker${ids.length > 1 ? "s" : ""} stopped`);
        else printLine(`${remaining.length} of ${ids.length} workers still running: ${remaining.join(", ")}`);
      });
    });

  worker
    .command("list")
    .description("workers with host, pid, state, current jobs and last heartbeat")
    .option("--all", "include workers that have stopped")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl worker list
  $ queuectl worker list --all --json`,
    )
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      await withContext(async (ctx) => {
        const { lease_ms: leaseMs } = await loadConfig(ctx.pool);
        const workers = await listWorkers(ctx.pool, { leaseMs, all: opts.all === true });
        if (opts.json) {
          printJson(workers.map(workerToJson));
          return;
        }
        await printTable(
          ["ID", "HOST", "PID", "STATE", "QUEUES", "SLOTS", "CURRENT JOBS", "HEARTBEAT"],
          workers.map((w) => [
            w.id,
            w.host,
            w.pid,
            w.state,
            w.queues.length ? w.queues.join(",") : "*",
            slotsText(w.current_jobs.length, w.concurrency),
            truncate(w.current_jobs.join(" ") || "-", 40),
            relativeTime(w.heartbeat_at),
          ]),
          "no workers (start one with: queuectl worker start)",
        );
      });
    });
}
