/**
 * The spawn ceiling of bench/core.mjs and bench/peers.mjs: a plain Node loop keeping SLOTS
 * `/bin/sh -c true` running until N have exited, in a fresh Node process of its own.
 *
 * Why a process of its own: Node's spawn forks the calling process, and a fork costs more the more
 * memory the caller has mapped. Measured in the benchmark's own process, the ceiling depended on what
 * the benchmark had loaded: 530–550 jobs/s after importing a build that pulled in Prisma Client (82 MB
 * resident), 590–650 jobs/s in a bare process (61–69 MB), on the same machine minutes apart. The
 * ceiling is meant to be the fastest plain loop, so it runs where nothing else is loaded.
 *
 *   node bench/spawn-ceiling.mjs N SLOTS     prints {"ms": ..., "jobs_per_s": ...}
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const SELF = fileURLToPath(import.meta.url);

/** Runs the loop in a fresh Node process; resolves with its wall time (loop only, not Node's start-up). */
export function measureSpawnCeiling(n, slots) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SELF, String(n), String(slots)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`spawn ceiling exited ${code}`))));
  });
}

async function loop(n, slots) {
  const t0 = performance.now();
  let started = 0;
  let done = 0;
  await new Promise((resolve, reject) => {
    const next = () => {
      if (started >= n) return;
      started++;
      const child = spawn("/bin/sh", ["-c", "true"], { stdio: "ignore" }); // the worker's shell, no PATH search
      child.on("error", reject);
      child.on("exit", (code) => {
        if (code !== 0) return reject(new Error(`sh -c true exited ${code}`));
        done++;
        if (done === n) resolve();
        else next();
      });
    };
    for (let i = 0; i < slots; i++) next();
  });
  const ms = performance.now() - t0;
  return { ms: Math.round(ms * 10) / 10, jobs_per_s: Math.round((n * 10_000) / ms) / 10 };
}

if (process.argv[1] === SELF) {
  const [n, slots] = process.argv.slice(2).map(Number);
  process.stdout.write(JSON.stringify(await loop(n, slots)));
}
