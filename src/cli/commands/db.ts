import type { Command } from "commander";
import { stopEmbeddedServer } from "../../db/embedded-stop.js";
import { applyMigrations, migrationStatus } from "../../db/migrate.js";
import { checkSchema, type SchemaDrift } from "../../db/schema-check.js";
import { SchemaMismatchError } from "../../errors.js";
import { withContext } from "../context.js";
import { printJson, printLine, printTable } from "../output.js";

export function registerDbCommands(program: Command): void {
  const db = program
    .command("db")
    .summary("manage the database schema and the local server")
    .description("Applies and shows the schema migrations; stops the local PostgreSQL server queuectl runs when DATABASE_URL is unset.")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl db migrate
  $ queuectl db status
  $ queuectl db stop`,
    );

  db.command("migrate")
    .summary("apply pending schema migrations")
    .description(
      "Applies every pending migration in order, each in its own transaction. Safe to run concurrently and repeatedly. " +
        "Then checks that the schema is what the migrations build (exit 1 naming the first difference: a dropped index, a changed column).",
    )
    .option("--json", 'print {"applied": [names]} only')
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl db migrate
  $ DATABASE_URL=postgresql://user@db/queue queuectl db migrate`,
    )
    .action(async (opts: { json?: boolean }) => {
      const { applied, drift } = await withContext(async (ctx) => {
        const applied = await applyMigrations(ctx.pool);
        return { applied, drift: await checkSchema(ctx.pool) };
      }, { schema: "none" });
      if (!opts.json) for (const name of applied) printLine(`applied ${name}`);
      refuseDrift(drift);
      if (opts.json) {
        printJson({ applied });
        return;
      }
      if (applied.length === 0) printLine("the database schema is up to date");
    });

  db.command("status")
    .summary("show which migrations are applied, and whether the schema matches them")
    .description(
      "Lists every migration of this queuectl and whether the database has it, then checks the schema against what the " +
        "migrations build: a missing or changed table, column, index or constraint, or a migration this queuectl does not know, " +
        "is listed and the exit code is 1.",
    )
    .option("--json", "print a JSON array of {name, applied, applied_at, checksum_mismatch} only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl db status
  $ queuectl db status --json | jq '[.[] | select(.applied | not)] | length'`,
    )
    .action(async (opts: { json?: boolean }) => {
      const { status, drift } = await withContext(async (ctx) => {
        const status = await migrationStatus(ctx.pool);
        // Differences are only worth looking for once every migration is in.
        const drift: SchemaDrift = status.every((m) => m.applied) ? await checkSchema(ctx.pool) : { problems: [] };
        return { status, drift };
      }, { schema: "none" });
      if (opts.json) {
        printJson(
          status.map((m) => ({
            name: m.name,
            applied: m.applied,
            applied_at: m.appliedAt ? m.appliedAt.toISOString() : null,
            checksum_mismatch: m.checksumMismatch,
          })),
        );
        refuseDrift(drift);
        return;
      }
      printTable(
        ["migration", "status"],
        status.map((m) => [
          m.name,
          m.applied ? `applied ${m.appliedAt?.toISOString() ?? ""}${m.checksumMismatch ? " (the file changed since: checksum mismatch)" : ""}` : "pending",
        ]),
        "(no migrations)",
      );
      const pending = status.filter((m) => !m.applied).length;
      printLine();
      if (drift.problems.length > 0) {
        printLine("the schema differs from what its migrations build:");
        for (const p of drift.problems) printLine(`  ${p}`);
        refuseDrift(drift);
      }
      printLine(pending === 0 ? "the database schema is up to date" : `${pending} pending: run queuectl db migrate`);
    });

  db.command("stop")
    .summary("stop the local PostgreSQL server")
    .description(
      "Stops the local PostgreSQL server queuectl started under ~/.queuectl (QUEUECTL_HOME) when DATABASE_URL is unset. " +
        "Its data stays; the next queuectl command starts it again.",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl worker stop --wait && queuectl db stop`,
    )
    .action(async () => {
      if (process.env.DATABASE_URL) {
        printLine("DATABASE_URL is set: queuectl uses that server and runs no local one, so there is nothing to stop");
        return;
      }
      const stopped = await stopEmbeddedServer();
      printLine(stopped ? "stopped the local PostgreSQL server" : "the local PostgreSQL server was not running");
    });
}

/** Exit 1 (one line on stderr) when the schema differs from its migrations. */
function refuseDrift(drift: SchemaDrift): void {
  const [first, ...rest] = drift.problems;
  if (first === undefined) return;
  throw new SchemaMismatchError(
    `the schema differs from its migrations: ${first}${rest.length > 0 ? ` (and ${rest.length} more: queuectl db status lists them)` : ""}; restore it from the migration files or a backup`,
  );
}
