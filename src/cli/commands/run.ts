import { Option, type Command } from "commander";
import { JobOutcomeError, OperationalError } from "../../errors.js";
import { loadConfig } from "../../queue/config.js";
import { readEnqueueInput, type EnqueueFlags } from "../../queue/enqueue-input.js";
import { enqueueJobsWithOutcome } from "../../queue/enqueue.js";
import { followLogs, listenForOutput } from "../../queue/logs.js";
import type { Queryable } from "../../db/queryable.js";
import { readJobEnd, readJobStates } from "../../queue/sql/job-reads.js";
import { countWorkersServing } from "../../queue/sql/workers.js";
import { withContext } from "../context.js";
import { printJobText } from "../output.js";
import { progressBar } from "../progress.js";
import { WAIT_TIMEOUT_EXIT } from "./wait.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The words after `--` as one shell command: one word is a shell command already; several are quoted each. */
export function commandFromWords(words: readonly string[]): string {
  if (words.length === 1) return words[0]!;
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, "'\\''")}'`)).join(" ");
}

interface RunOptions extends EnqueueFlags {
  wait: boolean;
  raw?: boolean;
}

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .summary("enqueue a command, stream its output as it runs, exit with its exit code")
    .description(
      "Enqueues the command after -- as a job, streams its output live from whichever worker runs it (through retries), " +
        "and exits with the job's own exit code: 0 when it completed, its exit code when it died with one, 124 when its " +
        "--timeout ended it, 1 when it was cancelled or died without one. Without a running worker for its queue it says so " +
        "at once and waits for one (--no-wait: exits 1 and enqueues nothing). Ctrl-C stops watching; the job goes on.",
    )
    .argument("<command...>", "the command, after --: one quoted shell string, or words that are quoted for you")
    .option("--id <id>", "the job id (default: generated)")
    .option("-q, --queue <name>", "the queue to put it in (default: default)")
    .option("-p, --priority <n>", "higher runs first (default 0)")
    .option("--max-retries <n>", "retries after the first attempt (default: config max_retries)")
    .option("--timeout <ms>", "kill the command after this many milliseconds; then exit 124")
    .option("--env <NAME[=value]>", "set an environment variable for the command: NAME takes this shell's value; repeatable", collect)
    .option("--cwd <dir>", "working directory to run in (default: this shell's current directory)")
    .option("--after <id>", "run only after this job completed; repeatable", collect)
    .addOption(new Option("--no-wait", "when no worker runs for its queue, exit 1 at once and enqueue nothing"))
    .option("--raw", "write the output's bytes as they are, also to a terminal")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl run -- make report
  $ queuectl run --queue backups --timeout 600000 -- 'pg_dump mydb > /backups/mydb.sql'
  $ queuectl run --max-retries 0 --env TARGET=staging -- ./deploy.sh "$TARGET" && echo deployed`,
    )
    .action(async (words: string[], opts: RunOptions) => {
      const { wait, raw, ...flags } = opts;
      // Read and checked before the database is touched, as enqueue does.
      const input = await readEnqueueInput({ arg: undefined, flags: { ...flags, command: commandFromWords(words) }, stdin: process.stdin });
      const spec = input.specs[0]!;
      const queue = spec.queue ?? "default";
      const id = await withContext(async (ctx) => {
        const { lease_ms: leaseMs } = await loadConfig(ctx.pool);
        const serving = await countWorkersServing(ctx.pool, { queue, leaseMs });
        if (serving === 0 && !wait) throw new OperationalError(`no worker is running for queue '${queue}': nothing enqueued (start one: queuectl worker start)`);
        // Listening first: an address that does not answer fails the command with nothing enqueued.
        const listener = await listenForOutput(ctx.listenUrl);
        let id: string;
        try {
          id = (await enqueueJobsWithOutcome(ctx, { specs: input.specs, cwd: process.cwd() })).ids[0]!;
        } catch (err) {
          await listener.close();
          throw err;
        }
        process.stderr.write(
          serving === 0
            ? `queuectl: job ${id} waits for a worker: none runs for queue '${queue}' (start one: queuectl worker start)\n`
            : `queuectl: job ${id} enqueued\n`,
        );
        // Ctrl-C stops watching, not the job: say how to cancel it.
        process.once("SIGINT", () => {
          process.stderr.write(`\nqueuectl: stopped watching; job ${id} goes on (queuectl cancel ${id})\n`);
          process.exit(130);
        });
        const progress = watchProgress(ctx.pool, id);
        try {
          await followLogs(ctx.pool, {
            jobId: id,
            listener,
            write: (text) => progress.around(() => printJobText(text, raw), text),
            onAttempt: (n) => progress.around(() => process.stderr.write(`queuectl: attempt ${n} started\n`), "\n"),
          });
        } finally {
          progress.stop();
        }
        return id;
      });
      const job = await withContext((ctx) => readJobEnd(ctx.pool, id));
      if (!job || job.state === "completed") return;
      throw outcomeError(id, job);
    });
}

/** How often `run` looks for the job's progress report (the worker stores one per heartbeat at most). */
const PROGRESS_POLL_MS = 1000;

/**
 * On a terminal, the job's last $QUEUECTL_PROGRESS report as a bar on stderr below its output: the
 * bar is taken off while output is written and comes back at the next look, and only between whole
 * lines, so it never cuts one in two.
 */
function watchProgress(db: Queryable, id: string): { around: (write: () => void, text: string) => void; stop: () => void } {
  const bar = progressBar(`job ${id}`);
  if (!process.stderr.isTTY) return { around: (write) => write(), stop() {} };
  let atLineStart = true;
  const look = async () => {
    const [job] = await readJobStates(db, [id]);
    if (job?.state === "processing" && job.progress_pct !== null && atLineStart) bar.percent(job.progress_pct, job.progress_message ?? undefined);
  };
  const timer = setInterval(() => void look().catch(() => {}), PROGRESS_POLL_MS);
  return {
    around(write, text) {
      bar.hide();
      write();
      if (text !== "") atLineStart = text.endsWith("\n");
    },
    stop() {
      clearInterval(timer);
      bar.done();
    },
  };
}

/** The exit the job's end stands for: its exit code, 124 for a timeout, 1 otherwise. */
function outcomeError(id: string, job: { state: string; exit_code: number | null; last_error: string | null }): JobOutcomeError {
  if (job.state === "cancelled") return new JobOutcomeError(`job ${id} was cancelled`, 1);
  if (job.last_error && /^timed out/.test(job.last_error)) return new JobOutcomeError(`job ${id} timed out: ${job.last_error}`, WAIT_TIMEOUT_EXIT);
  if (job.exit_code !== null && job.exit_code !== 0) return new JobOutcomeError(`job ${id} is dead (exit code ${job.exit_code})`, job.exit_code);
  return new JobOutcomeError(`job ${id} is dead${job.last_error ? `: ${job.last_error}` : ""}`, 1);
}
