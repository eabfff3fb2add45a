/**
 * The whole CLI surface: one commander program, one file per command group under commands/.
 * The help text is the documentation: every command carries an example.
 */
import { Command } from "commander";
import { registerCancelCommands } from "./commands/cancel.js";
import { registerCompletionCommand } from "./commands/completion.js";
import { registerConfigCommands } from "./commands/config.js";
import { registerDashboardCommand } from "./commands/dashboard.js";
import { registerDbCommands } from "./commands/db.js";
import { registerDlqCommands } from "./commands/dlq.js";
import { registerEnqueueCommand } from "./commands/enqueue.js";
import { registerListCommand } from "./commands/list.js";
import { registerLogsCommand } from "./commands/logs.js";
import { registerPurgeCommand } from "./commands/purge.js";
import { registerQueueCommands } from "./commands/queue.js";
import { registerRequeueCommand } from "./commands/requeue.js";
import { registerScheduleCommands } from "./commands/schedule.js";
import { registerShowCommand } from "./commands/show.js";
import { registerStatusCommand } from "./commands/status.js";
import { registerWaitCommand } from "./commands/wait.js";
import { registerWorkerCommands } from "./commands/worker.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("queuectl")
    .description("A background job queue for shell commands, on PostgreSQL.")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({
      // One line on stderr for usage errors, the exit code is decided in main.ts.
      outputError: (str, write) => write(str.replace(/^error: /, "queuectl: ")),
    })
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl enqueue '{"command":"pg_dump mydb > /backups/mydb.sql","max_retries":2}'
  $ queuectl worker start --count 2
  $ queuectl status

Environment:
  DATABASE_URL     PostgreSQL to use; unset = a local server under ~/.queuectl (QUEUECTL_HOME)
  QUEUECTL_DEBUG=1 print stack traces for errors`,
    );

  registerEnqueueCommand(program);
  registerWorkerCommands(program);
  registerStatusCommand(program);
  registerListCommand(program);
  registerShowCommand(program);
  registerDlqCommands(program);
  registerQueueCommands(program);
  registerCancelCommands(program);
  registerRequeueCommand(program);
  registerWaitCommand(program);
  registerLogsCommand(program);
  registerPurgeCommand(program);
  registerScheduleCommands(program);
  registerConfigCommands(program);
  registerDbCommands(program);
  registerDashboardCommand(program);
  registerCompletionCommand(program);

  // Subcommands inherit the error behaviour so every usage error maps to exit code 2.
  for (const cmd of program.commands) {
    cmd.exitOverride().configureOutput(program.configureOutput());
    for (const sub of cmd.commands) sub.exitOverride().configureOutput(program.configureOutput());
  }
  return program;
}
