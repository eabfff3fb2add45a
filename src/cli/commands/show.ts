import type { Command } from "commander";
import { maskEnv, maskSecrets } from "../../queue/secrets.js";
import { getJob, type AttemptRow, type JobDetail } from "../../queue/job-reads.js";
import { jobToJson } from "../../queue/job-json.js";
import type { ChainLink } from "../../queue/job.js";
import { withContext } from "../context.js";
import { printFields } from "../fields.js";
import { formatDuration, printJobText, printJson, printLine, printTable, progressText, relativeTime, truncate } from "../output.js";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function when(d: Date | null, now: Date): string {
  return d ? `${d.toISOString()} (${relativeTime(d, now)})` : "-";
}

/** The state with what it means next: "failed (retry 2 of 3 in 4s)". */
function describeState(detail: JobDetail, now: Date): string {
  const j = detail.job;
  const due = j.run_at.getTime() > now.getTime();
  switch (j.state) {
    case "pending":
      if (j.deps_pending > 0) {
        const waiting = detail.upstream.filter((l) => l.depth === 1 && l.state !== "completed").map((l) => l.id);
        return `pending (waiting for ${j.deps_pending} dependenc${j.deps_pending === 1 ? "y" : "ies"}: ${waiting.join(", ")})`;
      }
      return due ? `pending (runs ${relativeTime(j.run_at, now)})` : "pending (runnable now)";
    case "failed":
      return `failed (retry ${j.attempts} of ${j.max_retries} ${due ? relativeTime(j.run_at, now) : "runnable now"})`;
    case "processing":
      return `processing (attempt ${j.attempts} on worker ${j.worker_id ?? "?"})`;
    case "dead":
      return "dead (in the DLQ: queuectl dlq retry " + j.id + ")";
    case "cancelled":
      return j.last_error ? `cancelled (${maskSecrets(j.last_error).replace(/^cancelled: /, "")})` : "cancelled";
    default:
      return j.state;
  }
}

function outputSummary(a: AttemptRow): string {
  if (a.output === null || a.output === "") return "no output";
  const lines = a.output.replace(/\n$/, "").split("\n");
  return `${Buffer.byteLength(a.output)} bytes, last line: ${truncate(lines[lines.length - 1] ?? "", 60)}`;
}

/** One line per linked job, indented by distance: "build (completed)", "  fetch (completed)". */
function chainText(links: readonly ChainLink[]): string {
  if (links.length === 0) return "-";
  return links.map((l) => `${"  ".repeat(l.depth - 1)}${l.id} (${l.state})  ${truncate(l.command, 40)}`).join("\n");
}

async function printDetail(detail: JobDetail): Promise<void> {
  const j = detail.job;
  const now = new Date();
  const env = Object.entries(maskEnv(j.env) ?? {}).map(([k, v]) => `${k}=${v}`);
  printFields([
    ["id", j.id],
    ["state", describeState(detail, now)],
    ["progress", j.progress_at === null ? "-" : `${progressText(j)} (reported ${relativeTime(j.progress_at, now)})`],
    ["queue", j.queue],
    ["command", maskSecrets(j.command)],
    ["priority", j.priority],
    ["attempts", `${j.attempts} of ${j.max_retries + 1} (max_retries ${j.max_retries})`],
    ["timeout", j.timeout_ms === null ? "config default (job_timeout_ms)" : j.timeout_ms === 0 ? "none" : formatDuration(j.timeout_ms)],
    ["run at", when(j.run_at, now)],
    ["created", when(j.created_at, now)],
    ["updated", when(j.updated_at, now)],
    ["started", when(j.started_at, now)],
    ["finished", when(j.finished_at, now)],
    ["worker", j.worker_id ?? "-"],
    ["exit code", j.exit_code ?? "-"],
    ["duration", formatDuration(j.duration_ms)],
    ["last error", maskSecrets(j.last_error) ?? "-"],
    ["cwd", j.cwd ?? "-"],
    ["env", env.length ? env.join("\n") : "-"],
    ["runs after", chainText(detail.upstream)],
    ["runs before", chainText(detail.downstream)],
  ]);

  printLine();
  if (detail.history.length === 0) {
    printLine("history: no attempts yet");
    return;
  }
  printLine("history:");
  await printTable(
    ["attempt", "worker", "started", "finished", "exit", "error", "output"],
    detail.history.map((a) => [
      a.attempt,
      a.worker_id,
      when(a.started_at, now),
      a.finished_at ? relativeTime(a.finished_at, now) : "running",
      a.exit_code ?? "-",
      truncate(a.error ?? "-", 40),
      a.output === null || a.output === "" ? "-" : `${Buffer.byteLength(a.output)} B`,
    ]),
  );

  // The last attempt's output in full; earlier ones in one line each (`--json` has them all).
  const last = detail.history[detail.history.length - 1]!;
  for (const a of detail.history.slice(0, -1)) {
    if (a.output) printLine(`output of attempt ${a.attempt}: ${outputSummary(a)}`);
  }
  printLine();
  if (last.output === null || last.output === "") {
    printLine(`output of attempt ${last.attempt}${last.finished_at ? "" : " (running)"}: none${last.finished_at ? "" : " yet"}`);
  } else {
    printLine(`output of attempt ${last.attempt}:`);
    printJobText(last.output.endsWith("\n") ? last.output : `${last.output}\n`);
  }
}

export function registerShowCommand(program: Command): void {
  program
    .command("show")
    .summary("show one job: fields, attempts and output")
    .description("Shows one job: its fields, every attempt (worker, times, exit code, error) and the captured output.")
    .argument("<id>", "the job id")
    .option("--json", "print JSON only: the job plus its history, with each attempt's output")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl show report-42
  $ queuectl show report-42 --json | jq -r '.history[-1].output'`,
    )
    .action(async (id: string, opts: { json?: boolean }) => {
      const detail = await withContext((ctx) => getJob(ctx, { id }));
      if (opts.json) {
        printJson({
          ...jobToJson(detail.job),
          depends_on: detail.upstream.filter((l) => l.depth === 1).map((l) => ({ id: l.id, state: l.state })),
          upstream: detail.upstream,
          downstream: detail.downstream,
          history: detail.history.map((a) => ({
            attempt: a.attempt,
            worker_id: a.worker_id,
            started_at: iso(a.started_at),
            finished_at: iso(a.finished_at),
            exit_code: a.exit_code,
            error: a.error,
            output: a.output,
          })),
        });
        return;
      }
      await printDetail(detail);
    });
}
