import { Option, type Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { describeSplitArgument, readEnqueueInput, type EnqueueFlags } from "../../queue/enqueue-input.js";
import { enqueueJobsWithOutcome } from "../../queue/enqueue.js";
import { withContext } from "../context.js";
import { printJson } from "../output.js";
import { progressBar } from "../progress.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface EnqueueOptions extends EnqueueFlags {
  file?: string;
  json?: boolean;
}

export function registerEnqueueCommand(program: Command): void {
  program
    .command("enqueue")
    .summary("add jobs to the queue")
    .description(
      "Adds one job or many. The job argument is a JSON object, a file of jobs, or - for stdin; a file or stdin " +
        "may hold one JSON object, a JSON array, or one JSON object per line. Many jobs go in one transaction: all or none.\n\n" +
        'Job fields: {"id"?, "command", "queue"?, "priority"?, "max_retries"?, "timeout"? (ms), "run_at"? (ISO 8601), ' +
        '"unique_key"?, "retry_on"? [exit codes], "no_retry_on"? [exit codes], "depends_on"? (job ids), "cwd"? (absolute path), ' +
        '"env"? ({"NAME": "value"})}. A unique_key that an active (pending, processing or failed) job holds returns that job\'s id ' +
        "instead of adding one. Flags set the same fields and override those of every job read. A job runs in the directory it was " +
        "enqueued from unless it sets cwd; a job may depend on existing jobs or on jobs earlier in the same input.",
    )
    // Variadic only to catch what the shell split (unquoted JSON, a command without --command) and say what to type.
    .argument("[job...]", "a job as JSON, a path to a file of jobs, or - to read stdin")
    .option("-f, --file <path>", "read jobs from a file (- for stdin)")
    .option("-c, --command <command>", "the shell command to run")
    .option("--id <id>", "the job id (default: generated)")
    .option("-q, --queue <name>", "the queue to put it in (default: default)")
    .option("-p, --priority <n>", "higher runs first (default 0)")
    .option("--max-retries <n>", "retries after the first attempt (default: config max_retries)")
    .option("--timeout <ms>", "kill the command after this many milliseconds (default: config job_timeout_ms)")
    .addOption(new Option("--run-at <time>", "do not run before this ISO 8601 time").conflicts("delay"))
    .option("--delay <duration>", "do not run before this much time from now: 30s, 5m, 2h, 1d or ms")
    .option("--unique-key <key>", "at most one active job with this key: an existing one's id is returned instead")
    .option("--retry-on <codes>", "retry only these exit codes, e.g. 1,75 (default: every exit code)")
    .option("--never-retry-on <codes>", "never retry these exit codes, e.g. 2,127 (no_retry_on): the job goes to the DLQ at once")
    .option("--after <id>", "run only after this job completed; repeat for several (cancelled if one ends dead or cancelled)", collect)
    .option("--env <NAME[=value]>", "set an environment variable for the command: NAME takes this shell's value; repeatable", collect)
    .option("--cwd <dir>", "working directory to run in (default: this shell's current directory)")
    .option("--json", 'print {"id": ...} or {"ids": [...]} instead of the ids (plus "existing": [ids] when a unique_key matched)')
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl enqueue '{"command":"echo hello"}'
  $ queuectl enqueue --command "pg_dump mydb > /backups/mydb.sql" --max-retries 2 --timeout 600000
  $ queuectl enqueue '{"id":"report-42","command":"make report"}' --queue reports --priority 5
  $ queuectl enqueue --command "send-digest" --delay 2h
  $ queuectl enqueue --file jobs.jsonl --queue batch
  $ generate-jobs | queuectl enqueue -
  $ queuectl enqueue jobs.json
  $ queuectl enqueue --command "sync-catalog" --unique-key sync-catalog --never-retry-on 2,127
  $ queuectl enqueue --id build --command "make" && queuectl enqueue --command "make test" --after build
  $ queuectl enqueue --command 'deploy "$TARGET"' --env TARGET=staging --env API_TOKEN --cwd ./app`,
    )
    .action(async (words: string[], opts: EnqueueOptions) => {
      if (words.length > 1) throw new InvalidInputError(describeSplitArgument(words));
      // Everything is read and validated before the database is touched: invalid input changes nothing.
      const input = await readEnqueueInput({ arg: words[0], file: opts.file, flags: opts, stdin: process.stdin });
      const specs = input.specs;
      const bar = progressBar("enqueueing");
      const { ids, existing } = await withContext((ctx) =>
        enqueueJobsWithOutcome(ctx, {
          specs,
          // A job runs where it was enqueued from, like the command would have in this shell.
          cwd: process.cwd(),
          onBatch: specs.length > 1 ? (done, total) => bar.update(done, total, "jobs") : undefined,
        }),
      ).finally(() => bar.done());
      if (opts.json) {
        const extra = existing.size > 0 ? { existing: [...existing] } : {};
        printJson(input.single ? { id: ids[0], ...extra } : { ids, ...extra });
      } else if (ids.length > 0) process.stdout.write(`${ids.join("\n")}\n`);
      else process.stderr.write("queuectl: no jobs in the input; nothing enqueued\n");
      for (const id of existing) process.stderr.write(`queuectl: job '${id}' with the same unique key is already active; not added again\n`);
    });
}
