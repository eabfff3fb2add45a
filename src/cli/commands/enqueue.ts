import { Option, type Command } from "commander";
import { readEnqueueInput, type EnqueueFlags } from "../../queue/enqueue-input.js";
import { enqueueJobs } from "../../queue/jobs.js";
import { withContext } from "../context.js";
import { printJson } from "../output.js";

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
        '"depends_on"? (job ids), "cwd"? (absolute path), "env"? ({"NAME": "value"})}. ' +
        "Flags set the same fields and override those of every job read. A job runs in the directory it was enqueued from unless it sets cwd; " +
        "a job may depend on existing jobs or on jobs earlier in the same input.",
    )
    .argument("[job]", "a job as JSON, a path to a file of jobs, or - to read stdin")
    .option("-f, --file <path>", "read jobs from a file (- for stdin)")
    .option("-c, --command <command>", "the shell command to run")
    .option("--id <id>", "the job id (default: generated)")
    .option("-q, --queue <name>", "the queue to put it in (default: default)")
    .option("-p, --priority <n>", "higher runs first (default 0)")
    .option("--max-retries <n>", "retries after the first attempt (default: config max_retries)")
    .option("--timeout <ms>", "kill the command after this many milliseconds (default: config job_timeout_ms)")
    .addOption(new Option("--run-at <time>", "do not run before this ISO 8601 time").conflicts("delay"))
    .option("--delay <duration>", "do not run before this much time from now: 30s, 5m, 2h, 1d or ms")
    .option("--after <id>", "run only after this job completed; repeat for several (cancelled if one ends dead or cancelled)", collect)
    .option("--env <NAME[=value]>", "set an environment variable for the command: NAME takes this shell's value; repeatable", collect)
    .option("--cwd <dir>", "working directory to run in (default: this shell's current directory)")
    .option("--json", 'print {"id": ...} or {"ids": [...]} instead of the ids')
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
  $ queuectl enqueue --id build --command "make" && queuectl enqueue --command "make test" --after build
  $ queuectl enqueue --command 'deploy "$TARGET"' --env TARGET=staging --env API_TOKEN --cwd ./app`,
    )
    .action(async (job: string | undefined, opts: EnqueueOptions) => {
      // Everything is read and validated before the database is touched: invalid input changes nothing.
      const input = await readEnqueueInput({ arg: job, file: opts.file, flags: opts, stdin: process.stdin });
      // A job runs where it was enqueued from, like the command would have in this shell.
      const cwd = process.cwd();
      const specs = input.specs.map((s) => (s.cwd === undefined ? { ...s, cwd } : s));
      const ids = await withContext((ctx) => enqueueJobs(ctx, { specs }), { prisma: false });
      if (opts.json) printJson(input.single ? { id: ids[0] } : { ids });
      else if (ids.length > 0) process.stdout.write(`${ids.join("\n")}\n`);
      else process.stderr.write("queuectl: no jobs in the input; nothing enqueued\n");
    });
}
