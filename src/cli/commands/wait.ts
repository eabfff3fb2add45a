import { InvalidArgumentError, Option, type Command } from "commander";
import { JobOutcomeError } from "../../errors.js";
import { waitForJobs, type WaitedJob } from "../../queue/operator.js";
import { withContext } from "../context.js";
import { printJson } from "../output.js";
import { progressBar, type ProgressBar } from "../progress.js";

/** Exit code `wait` uses when --timeout passes first (as timeout(1)). */
export const WAIT_TIMEOUT_EXIT = 124;

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 31_536_000) throw new InvalidArgumentError("must be seconds from 0 to 31536000");
  return n;
}

const finished = (j: WaitedJob) => j.state === "completed" || j.state === "dead" || j.state === "cancelled";

/** One running job that reports progress: its percentage and message; else how many of the jobs finished. */
function drawProgress(bar: ProgressBar, jobs: readonly WaitedJob[]): void {
  const only = jobs.length === 1 ? jobs[0]! : undefined;
  if (only && !finished(only) && only.progress_pct !== null) bar.percent(only.progress_pct, only.progress_message ?? undefined);
  else bar.update(jobs.filter(finished).length, jobs.length, only?.progress_message ?? undefined);
}

export function registerWaitCommand(program: Command): void {
  program
    .command("wait")
    .summary("block until jobs finish; exit with the job's exit code")
    .description(
      "Waits until every named job has finished (completed, dead or cancelled), with a progress bar on a terminal " +
        "(one job's own percentage when its command reports one through $QUEUECTL_PROGRESS). " +
        "Exits 0 when all completed; else with the exit code of the first job that did not (1 when it has none, " +
        "e.g. cancelled or timed out); 124 when --timeout passes first; 3 for an unknown id.",
    )
    .argument("<ids...>", "job ids")
    .addOption(new Option("-t, --timeout <s>", "give up after this many seconds").argParser(seconds))
    .option("--json", "print the jobs' final {id, state, exit_code} as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ id=$(queuectl enqueue --command "make report") && queuectl wait "$id"
  $ queuectl wait job-1 job-2 --timeout 600`,
    )
    .action(async (ids: string[], opts: { timeout?: number; json?: boolean }) => {
      const bar = progressBar("waiting");
      const result = await withContext((ctx) =>
        waitForJobs(ctx.pool, {
          ids,
          timeoutMs: opts.timeout === undefined ? null : Math.round(opts.timeout * 1000),
          onProgress: (jobs) => drawProgress(bar, jobs),
        }),
      ).finally(() => bar.done());
      if (opts.json) printJson(result.jobs.map(({ id, state, exit_code }) => ({ id, state, exit_code })));
      if (result.timedOut) {
        const left = result.jobs.filter((j) => !finished(j)).map((j) => `${j.id} (${j.state})`);
        throw new JobOutcomeError(`timed out waiting for ${left.join(", ")}`, WAIT_TIMEOUT_EXIT);
      }
      const bad = result.jobs.find((j) => j.state !== "completed");
      if (bad) {
        const code = bad.state === "dead" && bad.exit_code !== null && bad.exit_code !== 0 ? bad.exit_code : 1;
        throw new JobOutcomeError(`job '${bad.id}' ${bad.state === "dead" ? `is dead${bad.exit_code !== null ? ` (exit code ${bad.exit_code})` : ""}` : "was cancelled"}`, code);
      }
    });
}
