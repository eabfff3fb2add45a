/**
 * What main.ts needs to run a command line, as one module: the entry of dist/cli/command-line.cjs,
 * the bundle load-command-line.ts loads with V8's code cache (scripts/bundle-cli.mjs builds both).
 */
export { runCli } from "./cli.js";
export { openEarlyPool } from "../db/early-pool.js";
