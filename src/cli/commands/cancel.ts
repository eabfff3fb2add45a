import { Option, type Command } from "commander";
import { nonNegativeSeconds } from "../args.js";
import { cancel, kill, parseSignal } from "../../queue/operator.js";
import { withContext } from "../context.js";
import { printJson, printLine } from "../output.js";

export function registerCancelCommands(program: Command): void {
  program
    .command("cancel")
    .summary("cancel a job: never run it, or stop it where it runs")
    .description(
      "Cancels a pending or failed job (it is never run) or a running one: its command's process group is ended " +
        "(SIGTERM, then SIGKILL after 3 s) on whichever host runs it. The job ends cancelled and is not retried. " +
        "A running job stays processing until nothing of its command is left; cancel waits for that (--wait) " +
        "so that a requeue right after it is accepted.",
    )
    .argument("<id>", "the job id")
    .addOption(new Option("--wait <s>", "for a running job: how long to wait for its command to end").argParser(nonNegativeSeconds).default(10))
    .option("--no-wait", "return as soon as the cancel is recorded")
    .option("--json", "print {id, previous_state, state, worker_id} only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl cancel report-42
  $ queuectl cancel report-42 --no-wait`,
    )
    .action(async (id: string, opts: { wait: number | false; json?: boolean }) => {
      const waitMs = opts.wait === false ? 0 : opts.wait * 1000;
      const done = await withContext((ctx) => cancel(ctx.pool, { id, waitMs }));
      if (opts.json) {
        printJson(done);
        return;
      }
      if (done.previous_state !== "processing") printLine(`job '${id}' cancelled (it was ${done.previous_state}); it will not run`);
      else if (done.state === "processing") printLine(`cancel of job '${id}' recorded; worker ${done.worker_id} is ending its command (the job stays processing until it has)`);
      else if (done.state === "cancelled") printLine(`job '${id}' cancelled; its command has ended`);
      else printLine(`job '${id}' ended ${done.state} before the cancel reached its command`);
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
    .option("--json", "print {worker_id, delivered, dropped} only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl kill report-42 --signal USR1
  $ queuectl kill report-42 --signal KILL`,
    )
    .action(async (id: string, opts: { signal: string; json?: boolean }) => {
      const signal = parseSignal(opts.signal);
      const res = await withContext((ctx) => kill(ctx.pool, { id, signal }));
      if (opts.json) {
        printJson(res);
        return;
      }
      printLine(
        res.delivered
          ? `sent ${signal} to job '${id}' (worker ${res.worker_id})`
          : res.dropped
            ? `job '${id}' went back to the queue before its command started; no signal was sent`
            : `asked worker ${res.worker_id} to send ${signal} to job '${id}'; it does so at its next heartbeat`,
      );
    });
}
