import type { Command } from "commander";
import { cancel, kill, parseSignal } from "../../queue/operator.js";
import { withContext } from "../context.js";
import { printJson, printLine } from "../output.js";

export function registerCancelCommands(program: Command): void {
  program
    .command("cancel")
    .summary("cancel a job: never run it, or stop it where it runs")
    .description(
      "Cancels a pending or failed job (it is never run) or a running one: its command's process group is ended " +
        "(SIGTERM, then SIGKILL) on whichever host runs it. The job ends cancelled and is not retried.",
    )
    .argument("<id>", "the job id")
    .option("--json", "print {id, previous_state, worker_id} only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl cancel report-42`,
    )
    .action(async (id: string, opts: { json?: boolean }) => {
      const done = await withContext((ctx) => cancel(ctx.pool, { id }), { prisma: false });
      if (opts.json) {
        printJson(done);
        return;
      }
      printLine(
        done.previous_state === "processing"
          ? `job '${id}' cancelled; worker ${done.worker_id} is ending its command`
          : `job '${id}' cancelled (it was ${done.previous_state}); it will not run`,
      );
    });

  program
    .command("kill")
    .summary("send a signal to a running job's command, on any host")
    .description(
      "Sends a signal to the process group of a running job's command, through the worker that runs it (on any host). " +
        "The job's state follows from what the command does (use cancel to stop a job for good).",
    )
    .argument("<id>", "the job id")
    .option("-s, --signal <signal>", "the signal: TERM, INT, HUP, USR1, KILL ... or a number", "TERM")
    .option("--json", "print {worker_id, delivered} only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl kill report-42 --signal USR1
  $ queuectl kill report-42 --signal KILL`,
    )
    .action(async (id: string, opts: { signal: string; json?: boolean }) => {
      const signal = parseSignal(opts.signal);
      const res = await withContext((ctx) => kill(ctx.pool, { id, signal }), { prisma: false });
      if (opts.json) {
        printJson(res);
        return;
      }
      printLine(
        res.delivered
          ? `sent ${signal} to job '${id}' (worker ${res.worker_id})`
          : `asked worker ${res.worker_id} to send ${signal} to job '${id}'; it does so at its next heartbeat`,
      );
    });
}
