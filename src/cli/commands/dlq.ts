import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { listDeadLetters, retryDead } from "../../queue/dlq.js";
import { parseCount } from "../args.js";
import { withContext } from "../context.js";
import { printJson, printLine, printTable, relativeTime, truncate } from "../output.js";

interface DlqListOptions {
  limit: string;
  offset: string;
  json?: boolean;
}

export function registerDlqCommands(program: Command): void {
  const dlq = program
    .command("dlq")
    .summary("inspect and retry jobs in the Dead Letter Queue")
    .description("The Dead Letter Queue: jobs that failed their last retry. Inspect them, then send them back to the queue.")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl dlq list
  $ queuectl dlq retry report-42
  $ queuectl dlq retry --all`,
    );

  dlq
    .command("list")
    .summary("list dead jobs, newest first")
    .description("Lists the jobs waiting in the DLQ (not yet retried), the most recently dead first.")
    .option("-n, --limit <n>", "show at most this many", "100")
    .option("--offset <n>", "skip this many of the newest first", "0")
    .option("--json", "print a JSON array of {job_id, queue, command, attempts, last_error, failed_at} only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl dlq list
  $ queuectl dlq list --json | jq -r '.[].job_id'`,
    )
    .action(async (opts: DlqListOptions) => {
      const params = { limit: parseCount("--limit", opts.limit, 1, 100_000), offset: parseCount("--offset", opts.offset, 0, Number.MAX_SAFE_INTEGER) };
      const page = await withContext((ctx) => listDeadLetters(ctx, params));
      if (opts.json) {
        printJson(
          page.entries.map((d) => ({
            job_id: d.job_id,
            queue: d.queue,
            command: d.command,
            attempts: d.attempts,
            last_error: d.last_error,
            failed_at: d.failed_at.toISOString(),
          })),
        );
        return;
      }
      const now = new Date();
      await printTable(
        ["job id", "queue", "attempts", "died", "last error", "command"],
        page.entries.map((d) => [d.job_id, d.queue, d.attempts, relativeTime(d.failed_at, now), truncate(d.last_error ?? d.reason, 40), truncate(d.command, 40)]),
        page.total === 0 ? "(the DLQ is empty)" : "(no more entries)",
      );
      const shown = params.offset + page.entries.length;
      if (shown < page.total) printLine(`(${page.total - shown} more: queuectl dlq list --offset ${shown})`);
    });

  dlq
    .command("retry")
    .summary("send dead jobs back to the queue")
    .description(
      "Sends dead jobs back to the queue as pending with attempts reset to 0 (a fresh retry budget) and closes " +
        "their DLQ entries, atomically. Name the jobs, or use --all for every dead job.",
    )
    .argument("[ids...]", "ids of dead jobs")
    .option("-a, --all", "retry every job in the DLQ")
    .option("--edit <json>", 'change the job before it runs again (one job): {"command"?, "timeout"? (ms, null = config default), "max_retries"?}')
    .option("--json", 'print {"retried": [ids]} only')
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl dlq retry report-42
  $ queuectl dlq retry job-1 job-2
  $ queuectl dlq retry --all
  $ queuectl dlq retry report-42 --edit '{"command":"make report --no-cache","timeout":600000,"max_retries":5}'`,
    )
    .action(async (ids: string[], opts: { all?: boolean; json?: boolean; edit?: string }) => {
      if (opts.all && ids.length > 0) throw new InvalidInputError("give job ids or --all, not both");
      if (!opts.all && ids.length === 0) throw new InvalidInputError("name the dead jobs to retry, or use --all (see: queuectl dlq list)");
      if (opts.edit !== undefined && (opts.all || ids.length !== 1)) throw new InvalidInputError("--edit changes one job: name exactly one dead job");
      // Loaded for --edit only: its schema library costs `dlq list` ~15 ms of start-up.
      const edit = opts.edit === undefined ? undefined : (await import("../../queue/dead-job-edit.js")).parseDeadJobEdit(opts.edit);
      const retried = await withContext((ctx) => retryDead(ctx, opts.all ? { all: true } : { ids, edit }));
      if (opts.json) {
        printJson({ retried });
        return;
      }
      if (opts.all) {
        printLine(retried.length === 0 ? "the DLQ is empty: nothing to retry" : `retried ${retried.length} dead job${retried.length === 1 ? "" : "s"}: pending again with attempts reset`);
      } else {
        for (const id of retried) printLine(`job '${id}' is pending again (attempts reset to 0)`);
      }
    });
}
