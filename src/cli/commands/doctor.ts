import type { Command } from "commander";
import { UnhealthyError } from "../../errors.js";
import { DEFAULT_TRANSACTION_AGE_S, diagnose, schemaFindings, sizeText, type HealthReport } from "../../queue/doctor.js";
import { nonNegativeSeconds } from "../args.js";
import { withContext } from "../context.js";
import { printJson, printLine, printTable, relativeTime } from "../output.js";
import { forStdout } from "../terminal-text.js";

async function printTables(report: HealthReport): Promise<void> {
  printLine();
  await printTable(
    ["table", "live", "dead", "dead %", "size", "last autovacuum"],
    report.tables.map((t) => {
      const all = t.live_rows + t.dead_rows;
      return [
        t.table,
        t.live_rows,
        t.dead_rows,
        all === 0 ? "-" : `${Math.round((100 * t.dead_rows) / all)}%`,
        sizeText(t.total_bytes),
        t.last_autovacuum ? relativeTime(t.last_autovacuum) : "never",
      ];
    }),
  );
  const c = report.connections;
  printLine(`connections: ${c.in_use} in use of ${c.max_connections - c.reserved} (max_connections ${c.max_connections}, ${c.reserved} reserved)`);
}

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .summary("check the database and the queue for problems, and say what to do")
    .description(
      "Checks what keeps vacuum from removing dead rows (long or idle-in-transaction sessions, unused replication " +
        "slots, prepared transactions), autovacuum switched off, tables with many dead rows, jobs recovery has not " +
        "taken back (processing past two leases, waiting on dependencies that cannot finish), workers without a " +
        "heartbeat, the schema against its migrations, and connections in use. Prints one line per finding with its " +
        "remedy. Exit 0 when healthy, 1 when a problem was found (notices alone do not count).",
    )
    .option("--json", "print the whole report as JSON")
    .option("-v, --verbose", "also print every table's live and dead rows, size and last autovacuum")
    .option(
      "--transaction-age <seconds>",
      `report transactions and idle-in-transaction sessions open longer than this (default ${DEFAULT_TRANSACTION_AGE_S})`,
      nonNegativeSeconds,
    )
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl doctor
  $ queuectl doctor --verbose --transaction-age 300
  $ queuectl doctor --json | jq '.findings[] | select(.level == "problem")'`,
    )
    .action(async (opts: { json?: boolean; verbose?: boolean; transactionAge?: number }) => {
      // schema "none": a schema that does not match is one of the findings, not a reason to stop.
      const report = await withContext(
        async (ctx) => diagnose(ctx.pool, { transactionAgeS: opts.transactionAge ?? DEFAULT_TRANSACTION_AGE_S, schema: await schemaFindings(ctx.pool) }),
        { schema: "none" },
      );
      if (opts.json) {
        printJson(report);
      } else {
        for (const f of report.findings) printLine(forStdout(`${f.level} ${f.check}: ${f.message}. Fix: ${f.remedy}`, true));
        if (report.findings.length === 0) printLine("healthy: no problems found");
        else if (report.healthy) printLine("healthy: notices only");
        if (opts.verbose) await printTables(report);
      }
      const problems = report.findings.filter((f) => f.level === "problem").length;
      if (problems > 0) throw new UnhealthyError(`${problems} problem${problems === 1 ? "" : "s"} found`);
    });
}
