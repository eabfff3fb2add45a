/**
 * Loads the CLI's code (dist/cli/command-line.cjs: everything below main.ts in one CommonJS bundle)
 * with the V8 code cache written beside it at build time (command-line.cjs.cache). Node 20 keeps no
 * compiled code between runs, and compiling and linking a command's ~25 ES modules cost ~12 ms of the
 * ~65 ms a command spent above `node -e 0`; with the cache V8 reads compiled functions instead of
 * parsing their source (docs/architecture.md, "How the CLI starts"). V8 rejects a cache made by
 * another Node or under other V8 flags, and the bundle then compiles from source (~18 ms slower).
 * V8 checks the cache against the source's length only, so the build always writes the two together.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";

/** What the bundle exports: command-line.ts's exports (a type only: nothing of it loads here). */
export type CommandLine = typeof import("./command-line.js");

const BUNDLE_FILE = fileURLToPath(new URL("./command-line.cjs", import.meta.url));
export const CODE_CACHE_FILE = `${BUNDLE_FILE}.cache`;

/** The loaded bundle, and the compiled script (scripts/ write its code cache from it). */
export interface LoadedCommandLine {
  commandLine: CommandLine;
  script: vm.Script;
}

/** Compiles and runs the bundle as Node's CommonJS loader would, from the code cache when `useCache` and V8 accepts it. */
export function loadCommandLine(useCache = true): LoadedCommandLine {
  let cachedData: Buffer | undefined;
  if (useCache) {
    try {
      cachedData = readFileSync(CODE_CACHE_FILE);
    } catch {
      // No cache beside the bundle: compile from source.
    }
  }
  // The wrapper stays on the bundle's first line, so stack traces keep the bundle's line numbers.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(BUNDLE_FILE, "utf8")}\n})`;
  // No importModuleDynamically: Node 20 marks it experimental and loses it for code from the cache,
  // so the bundle has no import() (scripts/bundle-cli.mjs checks) and requires what it loads lazily.
  const script = new vm.Script(source, { filename: BUNDLE_FILE, cachedData });
  const module = { exports: {} as CommandLine };
  const wrapper = script.runInThisContext() as (e: object, r: NodeJS.Require, m: object, f: string, d: string) => void;
  wrapper(module.exports, createRequire(BUNDLE_FILE), module, BUNDLE_FILE, dirname(BUNDLE_FILE));
  return { commandLine: module.exports, script };
}
