import { Option, type Command } from "commander";
import { followLogs, listenForOutput, readLogs } from "../../queue/logs.js";
import { parseCount } from "../args.js";
import { withContext } from "../context.js";
import { printJobText, printJson } from "../output.js";

export function registerLogsCommand(program: Command): void {
  program
    .command("logs")
    .summary("print a job's output; --follow streams it live from any host")
    .description(
      "Prints the captured output (stdout and stderr) of a job's latest attempt, or of --attempt n; while the attempt " +
        "runs, what it printed so far. --follow keeps streaming the output as the command prints it (workers send it " +
        "at least every 500 ms), through retries, and exits when the job ends.",
    )
    .argument("<id>", "the job id")
    .addOption(new Option("-a, --attempt <n>", "this attempt instead of the latest").conflicts("follow"))
    .option("-f, --follow", "stream the output until the job ends")
    .addOption(new Option("--json", "print {attempt, running, output} only").conflicts("follow"))
    .option("--raw", "write the output's bytes as they are, also to a terminal (control characters are escaped there otherwise)")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl logs report-42
  $ queuectl logs report-42 --attempt 1
  $ queuectl logs report-42 --follow
  $ queuectl logs report-42 --raw > report-42.out`,
    )
    .action(async (id: string, opts: { attempt?: string; follow?: boolean; json?: boolean; raw?: boolean }) => {
      const attempt = opts.attempt === undefined ? undefined : parseCount("--attempt", opts.attempt, 1, 1_000_000);
      if (opts.follow) {
        await withContext(async (ctx) =>
          followLogs(ctx.pool, {
            jobId: id,
            listener: await listenForOutput(ctx.listenUrl),
            write: (text) => printJobText(text, opts.raw),
            onAttempt: (n) => process.stderr.write(`queuectl: attempt ${n} started\n`),
          }),
        );
        return;
      }
      const logs = await withContext((ctx) => readLogs(ctx.pool, { jobId: id, attempt }));
      if (opts.json) {
        printJson(logs);
        return;
      }
      if (logs.attempt === null) process.stderr.write(`queuectl: job '${id}' has not started yet: no output\n`);
      else printJobText(logs.output, opts.raw);
    });
}
