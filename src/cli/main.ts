#!/usr/bin/env node
/**
 * The queuectl entry point. `--version` and `--help` are answered here, from a constant and from the
 * help text rendered at build time (dist/cli/help.txt, see scripts/render-help.mjs), without loading
 * commander, pg or any command: an operator types them to find their way and they must answer at
 * Node's own start-up speed. Every other command line loads the rest of the CLI from its code cache
 * (load-command-line.ts) and goes to cli.ts, with the database connection already opening
 * (db/early-pool.ts), and the process exits as soon as its output is flushed.
 */
import { readFileSync } from "node:fs";
import type { EarlyPool } from "../db/early-pool.js";
import { CLI_POOL } from "./cli-pool.js";
import { loadCommandLine, type CommandLine } from "./load-command-line.js";
import { VERSION } from "./version.js";

/** First words of command lines that open no database, or not the CLI's usual pool: nothing to open early. */
const OPENS_NO_CLI_POOL = new Set(["completion", "help", "dashboard"]);

// Output to a closed pipe (`queuectl list | head`) is not an error worth a message.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
});

/** The rendered help, or undefined when it is missing or the terminal is narrower than it was rendered for. */
function renderedHelp(): string | undefined {
  if (process.stdout.isTTY && (process.stdout.columns ?? 80) < 80) return undefined;
  try {
    return readFileSync(new URL("./help.txt", import.meta.url), "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Starts opening the CLI's pool when DATABASE_URL names the server (the local server may need
 * starting first) and the command line will use it; cli/context.ts hands it to the command.
 */
function connectEarly(args: readonly string[], commandLine: CommandLine): Promise<EarlyPool> | undefined {
  const url = process.env.DATABASE_URL;
  if (!url || url.trim() === "") return undefined;
  const group = (args[0] ?? "").split(":")[0]!;
  if (args.length === 0 || OPENS_NO_CLI_POOL.has(group) || args.includes("--help") || args.includes("-h") || args.includes("--foreground")) return undefined;
  return commandLine.openEarlyPool(url, CLI_POOL);
}

/** Resolves once everything written to `stream` so far has been handed to the system. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

const args = process.argv.slice(2);
const only = args.length === 1 ? args[0] : undefined;
const help = only === "--help" || only === "-h" ? renderedHelp() : undefined;
if (only === "--version" || only === "-V") {
  process.stdout.write(`${VERSION}\n`);
} else if (help !== undefined) {
  process.stdout.write(help);
} else {
  const { commandLine } = loadCommandLine();
  await commandLine.runCli(connectEarly(args, commandLine));
  // The command is done and its connections said goodbye (cli/context.ts); PostgreSQL ending their
  // sessions is no reason to wait.
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit();
}
