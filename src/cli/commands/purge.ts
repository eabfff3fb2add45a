import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { parseAge, purge, PURGEABLE_STATES } from "../../queue/operator.js";
import type { PurgeableState } from "../../queue/sql/purge.js";
import { withContext } from "../context.js";
import { printJson, printLine } from "../output.js";

export function registerPurgeCommand(program: Command): void {
  program
    .command("purge")
    .summary("delete old finished jobs")
    .description(
      "Deletes jobs in a finished state (completed, cancelled or dead) that finished longer ago than --older-than, with " +
        "their attempt history and DLQ entries, in batches of short statements. Workers do this for completed jobs by " +
        "themselves when config retention_completed is set.",
    )
    .requiredOption("--state <state>", `one of: ${PURGEABLE_STATES.join(", ")}`)
    .requiredOption("--older-than <age>", "finished longer ago than this: 90s, 30m, 12h, 7d, 2w")
    .option("--dry-run", "only count what would be deleted")
    .option("--json", 'print {"deleted": n} (or {"would_delete": n}) only')
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl purge --state completed --older-than 7d --dry-run
  $ queuectl purge --state cancelled --older-than 30d`,
    )
    .action(async (opts: { state: string; olderThan: string; dryRun?: boolean; json?: boolean }) => {
      if (!(PURGEABLE_STATES as readonly string[]).includes(opts.state)) {
        throw new InvalidInputError(`--state must be one of ${PURGEABLE_STATES.join(", ")} (got '${opts.state}'): unfinished jobs are never purged`);
      }
      const state = opts.state as PurgeableState;
      const olderThanS = parseAge(opts.olderThan);
      const n = await withContext((ctx) => purge(ctx.pool, { state, olderThanS, dryRun: opts.dryRun === true }));
      if (opts.json) printJson(opts.dryRun ? { would_delete: n } : { deleted: n });
      else printLine(opts.dryRun ? `would delete ${n} ${state} job${n === 1 ? "" : "s"} (dry run: nothing deleted)` : `deleted ${n} ${state} job${n === 1 ? "" : "s"}`);
    });
}
