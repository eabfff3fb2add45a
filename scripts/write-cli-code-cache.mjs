#!/usr/bin/env node
/**
 * Writes dist/cli/command-line.cjs.cache, the V8 code cache main.ts loads the CLI's bundle with
 * (src/cli/load-command-line.ts). V8 caches the functions compiled so far, so the bundle first runs
 * the commands an operator types most, each against a socket that does not exist: parsing the
 * command line, opening the pool and reporting the failure compile what every command needs, and
 * nothing touches a database. Run by scripts/bundle-cli.mjs after it bundles.
 */
import { writeFileSync } from "node:fs";
import { CLI_POOL } from "../dist/cli/cli-pool.js";
import { CODE_CACHE_FILE, loadCommandLine } from "../dist/cli/load-command-line.js";

const NOWHERE = "postgresql://queuectl@/queuectl?host=/nonexistent-queuectl-socket-dir";
const LINES = [
  ["status"],
  ["list"],
  ["show", "j1"],
  ["logs", "j1"],
  ["enqueue", "--command", "true"],
  ["dlq", "list"],
  ["config", "get"],
  ["queue", "list"],
  ["worker", "list"],
  ["schedule", "list"],
];

const { commandLine, script } = loadCommandLine(false);
process.env.DATABASE_URL = NOWHERE;
for (const args of LINES) {
  process.argv = [process.argv[0], "queuectl", ...args];
  await commandLine.runCli(commandLine.openEarlyPool(NOWHERE, CLI_POOL));
}
writeFileSync(CODE_CACHE_FILE, script.createCachedData());
process.exitCode = 0;
