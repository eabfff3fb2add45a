import type { Command } from "commander";
import { requeue } from "../../queue/operator.js";
import { withContext } from "../context.js";
import { printJson, printLine } from "../output.js";

export function registerRequeueCommand(program: Command): void {
  program
    .command("requeue")
    .summary("run completed or cancelled jobs again")
    .description("Runs completed or cancelled jobs again with the same spec: pending, attempts reset, runnable now. Their history stays. (Dead jobs: queuectl dlq retry.)")
    .argument("<ids...>", "job ids")
    .option("--json", 'print {"requeued": [ids]} only')
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl requeue nightly-report
  $ queuectl requeue job-1 job-2`,
    )
    .action(async (ids: string[], opts: { json?: boolean }) => {
      const done = await withContext((ctx) => requeue(ctx.pool, { ids }));
      if (opts.json) printJson({ requeued: done });
      else for (const id of done) printLine(`job '${id}' is pending again (attempts reset to 0)`);
    });
}
