#!/usr/bin/env node
/**
 * The queuectl entry point. `--version` and `--help` are answered here, from a constant and from the
 * help text rendered at build time (dist/cli/help.txt, see scripts/render-help.mjs), without loading
 * commander, pg or any command: an operator types them to find their way and they must answer at
 * Node's own start-up speed. Every other command line goes to cli.ts.
 */
import { readFileSync } from "node:fs";
import { VERSION } from "./version.js";

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

const args = process.argv.slice(2);
const only = args.length === 1 ? args[0] : undefined;
const help = only === "--help" || only === "-h" ? renderedHelp() : undefined;
if (only === "--version" || only === "-V") {
  process.stdout.write(`${VERSION}\n`);
} else if (help !== undefined) {
  process.stdout.write(help);
} else {
  await (await import("./cli.js")).runCli();
}
