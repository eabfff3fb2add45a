import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { MAX_CONCURRENCY_LIMIT, setQueueConcurrency, setQueuePaused } from "../../queue/queues.js";
import { listQueues } from "../../queue/sql/queues.js";
import { parseCount } from "../args.js";
import { withContext } from "../context.js";
import { printJson, printLine, printTable } from "../output.js";

export function registerQueueCommands(program: Command): void {
  const queue = program
    .command("queue")
    .summary("list queues, limit how many of a queue's jobs run at once, pause and resume")
    .description(
      "Named queues: every job has one (default: default). A concurrency limit caps how many jobs of a queue run at " +
        "once across ALL workers on all hosts; a paused queue is not claimed (its running jobs finish).",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl queue list
  $ queuectl queue set-concurrency emails 2
  $ queuectl queue pause reports`,
    );

  queue
    .command("list")
    .summary("queues with pending and running jobs, limit and pause")
    .description("Every queue with unfinished jobs or a setting: pending (including failed jobs waiting for a retry), running, the concurrency limit and whether it is paused.")
    .option("--json", "print a JSON array of {name, pending, running, concurrency_limit, paused} only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl queue list
  $ queuectl queue list --json | jq '.[] | select(.paused)'`,
    )
    .action(async (opts: { json?: boolean }) => {
      const queues = await withContext((ctx) => listQueues(ctx.pool));
      if (opts.json) {
        printJson(queues);
        return;
      }
      await printTable(
        ["queue", "pending", "running", "limit", "paused"],
        queues.map((q) => [q.name, q.pending, q.running, q.concurrency_limit ?? "-", q.paused ? "paused" : "no"]),
        "(no queues: nothing pending or running, and no queue settings)",
      );
    });

  queue
    .command("set-concurrency")
    .summary("limit how many jobs of a queue run at once, across all workers")
    .description(
      "Sets the most jobs of <queue> that run at once across every worker on every host (the claim enforces it). " +
        "'none' removes the limit. Jobs already running when a limit is lowered finish.",
    )
    .argument("<queue>", "the queue name")
    .argument("<n>", `1-${MAX_CONCURRENCY_LIMIT}, or none`)
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl queue set-concurrency emails 2
  $ queuectl queue set-concurrency emails none`,
    )
    .action(async (name: string, raw: string) => {
      const limit = raw.trim().toLowerCase() === "none" ? null : parseCount("the limit", raw, 1, MAX_CONCURRENCY_LIMIT);
      await withContext((ctx) => setQueueConcurrency(ctx.pool, { name, limit }));
      printLine(limit === null ? `queue '${name}': no concurrency limit` : `queue '${name}': at most ${limit} job${limit === 1 ? "" : "s"} at once across all workers`);
    });

  for (const [verb, paused] of [["pause", true], ["resume", false]] as const) {
    queue
      .command(verb)
      .summary(paused ? "stop claiming a queue's jobs (running ones finish)" : "claim a paused queue's jobs again")
      .description(paused ? "Workers stop taking jobs from <queue>; jobs already running finish. Enqueueing still works." : "Workers take jobs from <queue> again.")
      .argument("<queue>", "the queue name")
      .addHelpText(
        "after",
        `
Examples:
  $ queuectl queue ${verb} reports`,
      )
      .action(async (name: string) => {
        if (name.trim() === "") throw new InvalidInputError("name a queue");
        await withContext((ctx) => setQueuePaused(ctx.pool, { name, paused }));
        printLine(paused ? `queue '${name}' paused: no new jobs start, running ones finish` : `queue '${name}' resumed`);
      });
  }
}
