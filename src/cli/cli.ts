/**
 * Running one command line: the only place that writes an error and chooses the exit code (as the
 * README and docs/cli-contract.md document them: 0 ok, 1 operational failure, 2 invalid input or
 * usage, 3 not found, 4 refused for the role). Everything below throws. main.ts loads this module
 * for every command line it does not answer itself.
 */
import { CommanderError } from "commander";
import { firstLine, isSchemaError } from "../db/errors.js";
import { describeDbError } from "../db/pool.js";
import { QueuectlError, SchemaMismatchError } from "../errors.js";

/** A statement named a table or column the database lacks: the schema was changed by hand. */
function schemaMismatch(err: unknown): SchemaMismatchError | undefined {
  if (!isSchemaError(err)) return undefined;
  return new SchemaMismatchError(`the database schema does not match this queuectl (${firstLine(err)}); run \`queuectl db status\``);
}
import type { EarlyPool } from "../db/early-pool.js";
import { endUnusedEarlyPool, offerEarlyPool } from "./context.js";
import { buildProgram, expandAliases } from "./program.js";
import { describeRefusal } from "./running-command.js";

function report(err: unknown): number {
  const debug = process.env.QUEUECTL_DEBUG === "1";
  if (err instanceof CommanderError) {
    // commander already printed its one-line message (configureOutput in program.ts).
    if (err.exitCode === 0) return 0;
    return 2;
  }
  // A refusal outside withContext (the schema check at start, a foreground worker) names the URL's role.
  const known = err instanceof QueuectlError ? err : (describeDbError(err) ?? schemaMismatch(err) ?? describeRefusal(err));
  if (known) {
    process.stderr.write(`queuectl: ${known.message}\n`);
    if (debug && known.stack) process.stderr.write(`${known.stack}\n`);
    return known.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`queuectl: unexpected error: ${firstLine(err)}${debug ? "" : " (QUEUECTL_DEBUG=1 shows details)"}\n`);
  if (debug && e?.stack) process.stderr.write(`${e.stack}\n`);
  return 1;
}

/** Runs process.argv; `early` is a pool main.ts started connecting for the command (db/early-pool.ts). */
export async function runCli(early?: Promise<EarlyPool>): Promise<void> {
  if (early) offerEarlyPool(early);
  try {
    const argv = expandAliases(process.argv);
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = report(err);
  } finally {
    await endUnusedEarlyPool();
  }
}
