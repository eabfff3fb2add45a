/**
 * The whole CLI surface: one commander program, one file per command group under commands/.
 * The help text is the documentation: every command carries an example.
 */
import { Command } from "commander";
import { setRunningCommand } from "./running-command.js";
import { VERSION } from "./version.js";
type Register = (program: Command) => void;

/**
 * Each top-level command, the module that registers it, in the order help lists them. A module is
 * imported only when its command runs (or for help and completion, which need them all): loading all
 * of them with their dependencies (cron-parser, the worker, the dashboard's pieces) cost every
 * command ~50 ms of start-up, a tenth of a 20 000-job `enqueue --file`.
 */
const COMMANDS: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register> }> = [
  { names: ["enqueue"], load: async () => (await import("./commands/enqueue.js")).registerEnqueueCommand },
  { names: ["worker"], load: async () => (await import("./commands/worker.js")).registerWorkerCommands },
  { names: ["status"], load: async () => (await import("./commands/status.js")).registerStatusCommand },
  { names: ["list"], load: async () => (await import("./commands/list.js")).registerListCommand },
  { names: ["show"], load: async () => (await import("./commands/show.js")).registerShowCommand },
  { names: ["dlq"], load: async () => (await import("./commands/dlq.js")).registerDlqCommands },
  { names: ["queue"], load: async () => (await import("./commands/queue.js")).registerQueueCommands },
  { names: ["cancel", "kill"], load: async () => (await import("./commands/cancel.js")).registerCancelCommands },
  { names: ["requeue"], load: async () => (await import("./commands/requeue.js")).registerRequeueCommand },
  { names: ["run"], load: async () => (await import("./commands/run.js")).registerRunCommand },
  { names: ["wait"], load: async () => (await import("./commands/wait.js")).registerWaitCommand },
  { names: ["logs"], load: async () => (await import("./commands/logs.js")).registerLogsCommand },
  { names: ["purge"], load: async () => (await import("./commands/purge.js")).registerPurgeCommand },
  { names: ["schedule"], load: async () => (await import("./commands/schedule.js")).registerScheduleCommands },
  { names: ["doctor"], load: async () => (await import("./commands/doctor.js")).registerDoctorCommand },
  { names: ["audit"], load: async () => (await import("./commands/audit.js")).registerAuditCommand },
  { names: ["config"], load: async () => (await import("./commands/config.js")).registerConfigCommands },
  { names: ["db"], load: async () => (await import("./commands/db.js")).registerDbCommands },
  { names: ["dashboard"], load: async () => (await import("./commands/dashboard.js")).registerDashboardCommand },
  { names: ["completion"], load: async () => (await import("./commands/completion.js")).registerCompletionCommand },
];

/** Command groups whose subcommands may also be named `group:subcommand`, as earlier QueueCTLs did (`worker:start`). */
const GROUPS = new Set(["worker", "dlq", "config", "queue", "schedule", "db"]);

/**
 * `argv` with a `group:subcommand` first argument split into the two words commander knows
 * (`worker:start` → `worker start`); anything else as it is.
 */
export function expandAliases(argv: readonly string[]): string[] {
  const first = argv[2];
  const m = first === undefined ? null : /^([a-z]+):([a-z-]+)$/.exec(first);
  if (!m || !GROUPS.has(m[1]!)) return [...argv];
  return [...argv.slice(0, 2), m[1]!, m[2]!, ...argv.slice(3)];
}

/** The commands to register for `argv`: the one named, none for --version, all for help, completion and anything unknown. */
function commandsFor(argv: readonly string[]): ReadonlyArray<{ load: () => Promise<Register> }> {
  const name = argv[2];
  if (name === "--version" || name === "-V") return [];
  const named = name === undefined || name === "completion" ? undefined : COMMANDS.find((c) => c.names.includes(name));
  return named ? [named] : COMMANDS;
}

/** The program for `argv` (process.argv): only the invoked command is loaded; see COMMANDS. */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const registers = await Promise.all(commandsFor(argv).map((c) => c.load()));
  const program = new Command();
  program
    .name("queuectl")
    .description("A background job queue for shell commands, on PostgreSQL.")
    .version(VERSION)
    .exitOverride()
    .configureOutput({
      // One line on stderr for usage errors (commander puts its "Did you mean" on a second line); the
      // exit code is decided in cli.ts.
      outputError: (str, write) => write(`${str.replace(/^error: /, "queuectl: ").trimEnd().replace(/\n\(Did you mean (.*)\?\)$/, " (did you mean $1?)").replace(/\n/g, " ")}\n`),
    })
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl enqueue '{"command":"pg_dump mydb > /backups/mydb.sql","max_retries":2}'
  $ queuectl worker start --count 2
  $ queuectl status

Aliases: group:command works for every command group, as in earlier QueueCTLs
  (worker:start, worker:stop, dlq:list, dlq:retry, config:get, config:set, ...).

Environment:
  DATABASE_URL     PostgreSQL to use; unset = a local server under ~/.queuectl (QUEUECTL_HOME)
  QUEUECTL_DEBUG=1 print stack traces for errors`,
    );

  for (const register of registers) register(program);

  // The command's name, for a refusal by the database ("role 'alice' (enqueuer) may not run 'cancel'").
  program.hook("preAction", (_program, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c && c !== program; c = c.parent) names.unshift(c.name());
    setRunningCommand(names.join(" "));
  });

  // Subcommands inherit the error behaviour so every usage error maps to exit code 2.
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput(program.configureOutput());
    for (const sub of cmd.commands) sub.exitOverride().configureOutput(program.configureOutput());
  }
  return program;
}
