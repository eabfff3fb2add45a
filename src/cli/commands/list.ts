import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { JOB_SORTS, listJobs, parseJobState, type JobSort } from "../../queue/job-reads.js";
import { jobToJson } from "../../queue/job-json.js";
import { JOB_STATES } from "../../queue/job.js";
import { parseCount } from "../args.js";
import { withContext } from "../context.js";
import { printJson, printLine, printTable, relativeTime, truncate } from "../output.js";
import { maskSecrets } from "../../queue/secrets.js";

/** Most jobs one `list` prints. */
export const MAX_LIST_LIMIT = 10_000;

interface ListOptions {
  state?: string;
  sort: string;
  queue?: string;
  limit: string;
  offset: string;
  json?: boolean;
}

export function registerListCommand(program: Command): void {
  program
    .command("list")
    .summary("list jobs, newest first or in the order they will run")
    .description(
      "Lists jobs, newest first, optionally only those in one state or queue. --sort run-order lists them in the order " +
        "workers claim them: highest priority, then earliest run_at, then enqueue order.",
    )
    .option("-s, --state <state>", `only jobs in this state (${JOB_STATES.join(", ")})`)
    .option("-q, --queue <name>", "only jobs in this queue")
    .option("-n, --limit <n>", `show at most this many (1-${MAX_LIST_LIMIT})`, "20")
    .option("--offset <n>", "skip this many of the first", "0")
    .option("--sort <order>", `created (newest first) or run-order (the order workers take them)`, "created")
    .option("--json", "print a JSON array of jobs only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl list
  $ queuectl list --state failed --queue reports
  $ queuectl list --state pending --sort run-order
  $ queuectl list --limit 50 --offset 50
  $ queuectl list --state dead --json | jq -r '.[].id'`,
    )
    .action(async (opts: ListOptions) => {
      if (!(JOB_SORTS as readonly string[]).includes(opts.sort)) throw new InvalidInputError(`--sort must be one of ${JOB_SORTS.join(", ")} (got '${opts.sort}')`);
      const params = {
        sort: opts.sort as JobSort,
        state: opts.state === undefined ? undefined : parseJobState(opts.state),
        queue: opts.queue,
        limit: parseCount("--limit", opts.limit, 1, MAX_LIST_LIMIT),
        offset: parseCount("--offset", opts.offset, 0, Number.MAX_SAFE_INTEGER),
      };
      const page = await withContext((ctx) => listJobs(ctx, params));
      if (opts.json) {
        printJson(page.jobs.map(jobToJson));
        return;
      }
      const now = new Date();
      await printTable(
        ["id", "queue", "state", "progress", "prio", "attempts", "command", "created", "updated"],
        page.jobs.map((j) => [
          j.id,
          j.queue,
          j.state,
          j.progress_pct !== null ? `${j.progress_pct}%` : j.progress_message !== null ? truncate(j.progress_message, 16) : "-",
          j.priority,
          `${j.attempts}/${j.max_retries + 1}`,
          truncate(maskSecrets(j.command), 40),
          relativeTime(j.created_at, now),
          relativeTime(j.updated_at, now),
        ]),
        params.offset > 0 ? "(no more jobs)" : "(no jobs)",
      );
      if (page.more) {
        const next = [`--offset ${params.offset + page.jobs.length}`];
        if (params.limit !== 20) next.push(`--limit ${params.limit}`);
        if (params.state) next.push(`--state ${params.state}`);
        if (params.queue) next.push(`--queue ${params.queue}`);
        if (params.sort !== "created") next.push(`--sort ${params.sort}`);
        printLine(`(more: queuectl list ${next.join(" ")})`);
      }
    });
}
