import type { Command } from "commander";
import { stopEmbeddedServer } from "../../db/embedded-stop.js";
import { applyMigrations, migrationStatus } from "../../db/migrate.js";
import { checkSchema, type SchemaDrift } from "../../db/schema-check.js";
import { InvalidInputError, SchemaMismatchError } from "../../errors.js";
import { grantRole, listRoles, parseRoleKind, regrantRoles, revokeRole, ROLE_KINDS } from "../../queue/roles.js";
import { withContext } from "../context.js";
import { printJson, printLine, printTable } from "../output.js";

export function registerDbCommands(program: Command): void {
  const db = program
    .command("db")
    .summary("manage the database schema and the local server")
    .description(
      "Applies and shows the schema migrations; gives PostgreSQL roles the access one kind of client needs; stops the local " +
        "PostgreSQL server queuectl runs when DATABASE_URL is unset.",
    )
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl db migrate
  $ queuectl db status
  $ queuectl db grant app_workers --as worker
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
        // A table a migration added reaches the roles that need it.
        if (applied.length > 0) await regrantRoles(ctx.pool);
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
      await printTable(
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

  db.command("grant")
    .summary("give a PostgreSQL role what one kind of client needs")
    .description(
      "Gives an existing PostgreSQL role exactly the access one kind of client needs, taking back what it had before, and " +
        "records it so `db migrate` grants it again after each migration. PostgreSQL enforces it: SQL of the role's own " +
        "cannot do more. Run as the schema's owner.\n" +
        "  enqueuer  enqueue and read jobs; not cancel, kill, requeue, purge, dlq retry, config, queue or schedule changes\n" +
        "  worker    what `worker start` needs: claim, record outcomes, heartbeat, rescue, schedule ticks, retention; no config writes, no purge\n" +
        "  viewer    read only (a dashboard running as a viewer shows no action buttons)\n" +
        "  admin     everything but the schema: every operator command; `db migrate` and `db grant` stay with the owner\n" +
        "A command the role may not run fails with exit code 4, naming the role and the command.",
    )
    .argument("<role>", "an existing PostgreSQL role (CREATE ROLE name LOGIN PASSWORD '...')")
    .requiredOption("--as <kind>", `one of: ${ROLE_KINDS.join(", ")}`)
    .option("--create", "create the role as a login role if it does not exist, else set its password; the password is read from QUEUECTL_ROLE_PASSWORD")
    .option("--json", 'print {"role", "kind"} only')
    .addHelpText(
      "after",
      `
Examples:
  $ psql -c "CREATE ROLE ci_enqueue LOGIN PASSWORD 'secret'" && queuectl db grant ci_enqueue --as enqueuer
  $ queuectl db grant ops --as admin
  $ QUEUECTL_ROLE_PASSWORD=$(openssl rand -hex 16) queuectl db grant queuectl_worker --as worker --create`,
    )
    .action(async (role: string, opts: { as: string; create?: boolean; json?: boolean }) => {
      const kind = parseRoleKind(opts.as);
      const loginPassword = opts.create ? process.env.QUEUECTL_ROLE_PASSWORD : undefined;
      if (opts.create && !loginPassword) throw new InvalidInputError("--create reads the new role's password from QUEUECTL_ROLE_PASSWORD, which is empty");
      await withContext((ctx) => grantRole(ctx.pool, { role, kind, loginPassword }));
      if (opts.json) printJson({ role, kind });
      else printLine(`role '${role}' is now ${kind === "admin" || kind === "enqueuer" ? "an" : "a"} ${kind}`);
    });

  db.command("revoke")
    .summary("take back what db grant gave a role")
    .description("Takes back every privilege `db grant` gave the role on the queue's tables and forgets its kind. The role itself stays.")
    .argument("<role>", "a role `db grant` was given")
    .option("--drop", "then drop the role itself (refused while it holds privileges in another database)")
    .option("--json", 'print {"role", "kind"} (the kind it had) only')
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl db revoke ci_enqueue`,
    )
    .action(async (role: string, opts: { drop?: boolean; json?: boolean }) => {
      const kind = await withContext((ctx) => revokeRole(ctx.pool, { role, drop: opts.drop === true }));
      if (opts.json) printJson({ role, kind });
      else if (opts.drop) printLine(`role '${role}' (${kind}) revoked and dropped`);
      else printLine(`role '${role}' is no longer ${kind === "admin" || kind === "enqueuer" ? "an" : "a"} ${kind}: it has no access to the queue's tables`);
    });

  db.command("roles")
    .summary("list the roles db grant gave a kind")
    .description("Lists each role `db grant` gave a kind, with when; a role dropped since is marked.")
    .option("--json", "print a JSON array of {role, kind, granted_at, exists} only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl db roles`,
    )
    .action(async (opts: { json?: boolean }) => {
      const roles = await withContext((ctx) => listRoles(ctx.pool));
      if (opts.json) {
        printJson(roles.map((r) => ({ ...r, granted_at: r.granted_at.toISOString() })));
        return;
      }
      await printTable(
        ["role", "kind", "granted"],
        roles.map((r) => [r.role + (r.exists ? "" : " (dropped)"), r.kind, r.granted_at.toISOString()]),
        "(no roles granted: every client connects as the owner)",
      );
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
