import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import {
  addSchedule,
  DEFAULT_CATCH_UP_LIMIT,
  listSchedules,
  MAX_CATCH_UP_LIMIT,
  removeSchedule,
  scheduleToJson,
  setSchedulePaused,
  type MissedPolicy,
} from "../../queue/schedules.js";
import { parseCount } from "../args.js";
import { withContext } from "../context.js";
import { printJson, printLine, printTable, relativeTime, truncate } from "../output.js";
import { maskSecrets } from "../../queue/secrets.js";

function parseJobArg(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (err) {
    throw new InvalidInputError(`job: not valid JSON (${(err as Error).message})`);
  }
}

interface AddOptions {
  timezone: string;
  missed: string;
  catchUpLimit: string;
  json?: boolean;
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command("schedule")
    .summary("run jobs on a cron schedule")
    .description(
      "Cron schedules stored in the database: every running worker checks them, and exactly one job is enqueued per tick " +
        "however many workers run. A tick's job has the id <name>@<tick time>.",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl schedule add nightly-backup "0 3 * * *" '{"command":"pg_dump mydb > /backups/mydb.sql"}' --timezone Europe/Berlin
  $ queuectl schedule list
  $ queuectl schedule pause nightly-backup`,
    );

  schedule
    .command("add")
    .summary("add a cron schedule")
    .description(
      "Adds a schedule that enqueues the given job at every tick of a cron expression: five fields (minute hour day month weekday), " +
        "or six with seconds first. Ticks missed while no worker ran are skipped (--missed skip: a tick more than 60 s late does not run) " +
        "or run afterwards (--missed catch-up: at most --catch-up-limit of the most recent ones, one job each).",
    )
    .argument("<name>", "the schedule's name: letters, digits and . _ -")
    .argument("<cron>", 'the cron expression, e.g. "0 3 * * *" or "*/10 * * * * *" (with seconds)')
    .argument("<job>", 'the job JSON each tick enqueues, as for enqueue (no "id", "run_at" or "depends_on"); it runs in this directory unless it sets "cwd"')
    .option("--timezone <zone>", "IANA time zone the expression is read in", "UTC")
    .option("--missed <policy>", "what happens to ticks missed while no worker ran: skip or catch-up", "skip")
    .option("--catch-up-limit <n>", "with --missed catch-up: most missed ticks run at once", String(DEFAULT_CATCH_UP_LIMIT))
    .option("--json", "print the schedule as JSON")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl schedule add nightly-backup "0 3 * * *" '{"command":"pg_dump mydb > /backups/mydb.sql"}' --timezone Europe/Berlin
  $ queuectl schedule add heartbeat "*/15 * * * * *" '{"command":"curl -fsS https://example.com/ping","queue":"ops"}'
  $ queuectl schedule add hourly-report "0 * * * *" '{"command":"make report"}' --missed catch-up --catch-up-limit 24`,
    )
    .action(async (name: string, cron: string, jobRaw: string, opts: AddOptions) => {
      const { parseScheduleJob } = await import("../../queue/schedule-job.js");
      const parsed = parseScheduleJob(parseJobArg(jobRaw));
      // Like enqueue: each tick's job runs in the directory the schedule was added from unless it sets cwd.
      const job = parsed.cwd === undefined ? { ...parsed, cwd: process.cwd() } : parsed;
      const catchUpLimit = parseCount("--catch-up-limit", opts.catchUpLimit, 1, MAX_CATCH_UP_LIMIT);
      const created = await withContext((ctx) => addSchedule(ctx, { name, cron, timezone: opts.timezone, job, missed: opts.missed as MissedPolicy, catchUpLimit }));
      if (opts.json) printJson(scheduleToJson({ ...created, next_runs: [created.next_run_at] }));
      else printLine(`schedule '${created.name}' added; next run ${created.next_run_at.toISOString()} (${relativeTime(created.next_run_at)})`);
    });

  schedule
    .command("list")
    .summary("list schedules with their next run times")
    .description("Lists every schedule: its cron expression and time zone, whether it is paused, its next run times and its last job.")
    .option("-n, --next <n>", "how many upcoming run times to show per schedule", "1")
    .option("--json", "print a JSON array of schedules only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl schedule list
  $ queuectl schedule list --next 3 --json | jq -r '.[] | .name + " " + .next_runs[0]'`,
    )
    .action(async (opts: { next: string; json?: boolean }) => {
      const upcoming = parseCount("--next", opts.next, 1, 100);
      const rows = await withContext((ctx) => listSchedules(ctx, { upcoming }));
      if (opts.json) {
        printJson(rows.map((s) => scheduleToJson(s)));
        return;
      }
      const now = new Date();
      await printTable(
        ["name", "cron", "timezone", "state", "next run", "last job", "command"],
        rows.map((s) => [
          s.name,
          s.cron,
          s.timezone,
          s.paused ? "paused" : `active (${s.missed})`,
          s.paused ? "-" : s.next_runs.map((d) => `${d.toISOString()} (${relativeTime(d, now)})`).join("\n"),
          s.last_job_id ?? "-",
          truncate(maskSecrets(s.job.command), 40),
        ]),
        "(no schedules: add one with queuectl schedule add)",
      );
    });

  schedule
    .command("remove")
    .summary("remove a schedule")
    .description("Removes a schedule. Jobs it already enqueued stay in the queue.")
    .argument("<name>", "the schedule's name")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl schedule remove nightly-backup`,
    )
    .action(async (name: string) => {
      await withContext((ctx) => removeSchedule(ctx, { name }));
      printLine(`schedule '${name}' removed`);
    });

  schedule
    .command("pause")
    .summary("stop a schedule from enqueueing jobs")
    .description("Pauses a schedule: no jobs are enqueued until it is resumed.")
    .argument("<name>", "the schedule's name")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl schedule pause nightly-backup`,
    )
    .action(async (name: string) => {
      await withContext((ctx) => setSchedulePaused(ctx, { name, paused: true }));
      printLine(`schedule '${name}' paused`);
    });

  schedule
    .command("resume")
    .summary("resume a paused schedule")
    .description("Resumes a paused schedule from its next tick after now; ticks that fell in the pause do not run.")
    .argument("<name>", "the schedule's name")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl schedule resume nightly-backup`,
    )
    .action(async (name: string) => {
      const s = await withContext((ctx) => setSchedulePaused(ctx, { name, paused: false }));
      printLine(`schedule '${name}' resumed; next run ${s.next_run_at.toISOString()} (${relativeTime(s.next_run_at)})`);
    });
}
