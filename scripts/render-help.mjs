#!/usr/bin/env node
/**
 * Renders `queuectl --help` once, at build time, into dist/cli/help.txt, which main.ts prints without
 * loading the CLI. Rendered by the built CLI itself with help.txt absent, so it is exactly what
 * commander prints (at 80 columns, as for a pipe); test/cli.help.test.ts checks the two stay equal.
 */
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const out = fileURLToPath(new URL("../dist/cli/help.txt", import.meta.url));
const cli = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
rmSync(out, { force: true });
const text = execFileSync(process.execPath, [cli, "--help"], { encoding: "utf8", env: { ...process.env, COLUMNS: "80" } });
writeFileSync(out, text);
