import type { Command } from "commander";
import { once } from "node:events";
import { TOKEN_ENV } from "../../dashboard/token-env.js";
import { parseCount } from "../args.js";
import { withContext } from "../context.js";
import { printLine } from "../output.js";

/** Connections the dashboard holds at most (pages, /api/ and /metrics share them; deploy/kubernetes counts them). */
export const DASHBOARD_POOL_MAX = 6;

interface DashboardOptions {
  port: string;
  host: string;
}

export function registerDashboardCommand(program: Command): void {
  program
    .command("dashboard")
    .summary("serve the web dashboard and Prometheus /metrics")
    .description(
      "Serves a web dashboard (jobs, attempts and output, DLQ with retry, workers, config) that refreshes " +
        "itself, a JSON API under /api/, and /metrics in the Prometheus text format. Runs until Ctrl-C or SIGTERM. " +
        `Listens on 127.0.0.1 by default; any other --host requires ${TOKEN_ENV}, which then protects every ` +
        "request (a login form for browsers, `Authorization: Bearer <token>` for scripts and Prometheus).",
    )
    .option("-p, --port <port>", "TCP port (0 picks a free one)", "3000")
    .option("-H, --host <address>", "address to listen on (0.0.0.0: every interface; needs a token)", "127.0.0.1")
    .addHelpText(
      "after",
      `
Examples:
  $ queuectl dashboard
  $ queuectl dashboard --port 8080
  $ ${TOKEN_ENV}=$(openssl rand -hex 24) queuectl dashboard --host 0.0.0.0

Environment:
  ${TOKEN_ENV}  access token (at least 16 characters); required unless --host is a loopback address`,
    )
    .action(async (opts: DashboardOptions) => {
      const port = parseCount("--port", opts.port, 0, 65_535);
      const host = opts.host.trim();
      const token = process.env[TOKEN_ENV];
      // Loaded on use: the HTTP server and its views would slow every other command's start.
      const [{ createDashboardLogger }, { createSecurity }, { startDashboard }] = await Promise.all([
        import("../../dashboard/logger.js"),
        import("../../dashboard/auth.js"),
        import("../../dashboard/server.js"),
      ]);
      // Refuse an unsafe bind (exit 2) before touching the database; startDashboard checks it again.
      createSecurity({ host, token });
      // Errors of requests go to stderr as JSON lines (with stacks); browsers only see one line.
      const logger = createDashboardLogger();
      await withContext(
        async (ctx) => {
          const dashboard = await startDashboard({ ctx, host, port, token, logger });
          printLine(`queuectl dashboard on ${dashboard.url}${dashboard.protected ? ` (token required: ${TOKEN_ENV})` : ""}`);
          printLine(`metrics at ${dashboard.url}metrics · Ctrl-C to stop`);
          const signal = await Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
          printLine(`stopping the dashboard (${String(signal[0] ?? "signal")})`);
          await dashboard.close();
        },
        { applicationName: "queuectl-dashboard", poolMax: DASHBOARD_POOL_MAX, prisma: true },
      );
    });
}
