/**
 * The page script: the browser ES modules in assets/client/ (entry: main.js), served as they are at
 * /assets/client/<path> (server.ts). They are plain JavaScript with JSDoc types, so there is nothing
 * to compile: `tsc -p src/dashboard/assets/tsconfig.json` type-checks them (npm run typecheck and
 * npm run build), and the build copies the directory to dist/dashboard/assets/client/. The path is
 * written from dashboard/ up, so it names the same files from src/ (tests), from dist/ and from the
 * CLI's bundle in dist/cli/ (one directory under dist/, like this module).
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CLIENT_DIR = new URL("../dashboard/assets/client/", import.meta.url);

let modules: ReadonlyMap<string, string> | null = null;

/**
 * Every module of the page script, by its path under assets/client/ ("main.js", "pages/jobs.js"), read once.
 * Throws when the directory is missing (a build that did not copy it): better at start-up than pages
 * without their script.
 */
export function clientModules(): ReadonlyMap<string, string> {
  if (modules) return modules;
  const dir = fileURLToPath(CLIENT_DIR);
  const names = readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((name) => name.split("\\").join("/"))
    .filter((name) => name.endsWith(".js"))
    .sort();
  modules = new Map(names.map((name) => [name, readFileSync(new URL(name, CLIENT_DIR), "utf8")]));
  return modules;
}
