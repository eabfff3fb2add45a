import { InvalidArgumentError, type Command } from "commander";
import { DEFAULT_AUDIT_LIMIT, listAudit } from "../../queue/audit.js";
import { parseAge } from "../../queue/operator.js";
import type { AuditRow } from "../../queue/sql/audit.js";
import { withContext } from "../context.js";
import { printJson, printTable, relativeTime, truncate } from "../output.js";
import { forStdout } from "../terminal-text.js";

function limit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 100_000) throw new InvalidArgumentError("--limit must be a whole number from 1 to 100000");
  return n;
}

/** Who acted, in one cell: role, then OS user@host (CLI) or the session and address (dashboard). */
function who(r: AuditRow): string {
  if (r.source === "dashboard") return `${r.db_role} (dashboard ${r.session ?? "?"} from ${r.client_addr ?? "?"})`;
  return `${r.db_role} (${r.os_user ?? "?"}@${r.host ?? "?"})`;
}

/** A before/after value in one short cell: `state: failed` rather than the JSON. */
function change(r: AuditRow): string {
  const brief = (v: unknown) =>
    v && typeof v === "object"
      ? Object.entries(v as Record<string, unknown>)
          .filter(([k]) => k !== "job")
          .map(([k, x]) => `${k}: ${typeof x === "object" ? JSON.stringify(x) : String(x)}`)
          .join(", ")
      : "";
  const before = brief(r.before);
  const after = brief(r.after);
  return before && after ? `${before} -> ${after}` : before || after;
}

export function registerAuditCommand(program: Command): void {
  program
    .command("audit")
    .summary("list who did what: cancels, purges, config changes ...")
    .description(
      "Lists the audit trail, newest first: every cancel, kill, requeue, dlq retry, purge, config set, queue and schedule " +
        "change and worker stop, from the CLI and the dashboard, with when, who (database role; OS user and host, or the " +
        "dashboard session and client address), the target and the values before and after. Each row was written in the " +
        "same transaction as its action. Config retention_audit sets how long rows are kept.",
    )
    .option("--since <age>", "only actions newer than this: 90s, 30m, 12h, 7d, 2w")
    .option("--action <action>", "only this action (e.g. cancel, purge, 'config set'; dlq = both dlq retries)")
    .option("--limit <n>", `rows at most (default ${DEFAULT_AUDIT_LIMIT})`, limit)
    .option("--json", "print a JSON array of rows only")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl audit --since 1h
  $ queuectl audit --action purge --json | jq '.[].db_role'`,
    )
    .action(async (opts: { since?: string; action?: string; limit?: number; json?: boolean }) => {
      const sinceS = opts.since === undefined ? null : parseAge(opts.since, "--since");
      const rows = await withContext(
        (ctx) => listAudit(ctx.pool, { sinceS, action: opts.action ?? null, limit: opts.limit ?? DEFAULT_AUDIT_LIMIT }),
      );
      if (opts.json) {
        printJson(rows.map((r) => ({ ...r, at: r.at.toISOString() })));
        return;
      }
      await printTable(
        ["when", "who", "action", "target", "change"],
        rows.map((r) => [relativeTime(r.at), forStdout(who(r), true), r.action, forStdout(truncate(r.target, 40), true), forStdout(truncate(change(r), 60), true)]),
        "(no actions recorded)",
      );
    });
}
