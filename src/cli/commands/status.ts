import type { Command } from "commander";
import { queueStatus } from "../../queue/status.js";
import { JOB_STATES } from "../../queue/job.js";
import { withContext } from "../context.js";
import { printFields } from "../fields.js";
import { formatDuration, printJson, printLine, printTable } from "../output.js";

export function registerStatusCommand(program: Command): void {
  program
    .command("status")
    .summary("show how many jobs are in each state, and the workers")
    .description(
      "Shows jobs per state with their share, active workers (heartbeat within 2 x lease_ms), the DLQ size, " +
        "the average duration of the latest 1 000 completed jobs and how long the oldest runnable job has waited.",
    )
    .option("--json", "print JSON only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl status
  $ queuectl status --json | jq .jobs.pending`,
    )
    .action(async (opts: { json?: boolean }) => {
      const s = await withContext((ctx) => queueStatus(ctx));
      if (opts.json) {
        printJson({
          jobs: s.jobs,
          workers: s.workers,
          dlq: s.dlq,
          avg_duration_ms: s.avgDurationMs,
          oldest_runnable_age_ms: s.oldestRunnableAgeMs,
        });
        return;
      }
      const total = JOB_STATES.reduce((n, state) => n + s.jobs[state], 0);
      const share = (n: number) => (total === 0 ? "-" : `${((100 * n) / total).toFixed(1)}%`);
      await printTable(
        ["state", "jobs", "share"],
        [...JOB_STATES.map((state) => [state, s.jobs[state], share(s.jobs[state])]), ["total", total, total === 0 ? "-" : "100%"]],
      );
      printLine();
      printFields(
        [
          ["active workers", s.workers],
          ["dead letter queue", `${s.dlq} job${s.dlq === 1 ? "" : "s"}`],
          ["average duration", s.avgDurationMs === null ? "- (no completed jobs)" : formatDuration(s.avgDurationMs)],
          ["oldest runnable job", s.oldestRunnableAgeMs === null ? "- (none waiting)" : `waiting ${formatDuration(s.oldestRunnableAgeMs)}`],
        ],
      );
    });
}
