#!/usr/bin/env node
/**
 * Where a worker's per-job CPU goes when it starts a command: the same `sh -c true`, 4 at a time,
 * started (1) with child_process.spawn and stdio ignored (the loop of bench/spawn-ceiling.mjs, here in
 * this process so that its CPU can be read), (2) with child_process.spawn set up like a job (own
 * process group, stdout/stderr piped, env extended),
 * (3) with dist/worker/run-command.js (how a worker without perl starts commands), (4) through the Perl
 * command host (dist/worker/command-runner.js: what a worker does). Prints wall time and this process's
 * user/system CPU per job, and the children's CPU per job (for (4): the host's too, which ends with the
 * measurement).
 *
 *   node bench/spawn-cost.mjs [jobs=1000] [--load-cli]   (--load-cli: import the CLI first, as a worker has)
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { selfCpuMs } from "./lib/proc-cpu.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 1000);
const SLOTS = 4;
if (process.argv.includes("--load-cli")) await import(join(ROOT, "dist", "cli", "program.js"));
const { runCommand } = await import(join(ROOT, "dist", "worker", "run-command.js"));
const { CommandRunner } = await import(join(ROOT, "dist", "worker", "command-runner.js"));

const jobEnv = { QUEUECTL_JOB_ID: "x", QUEUECTL_ATTEMPT: "1", QUEUECTL_QUEUE: "default", QUEUECTL_WORKER_ID: "w" };
/** Each variant: a factory of { run, close } for one measurement. */
const plain = (run) => () => ({ run, close: async () => {} });
const variants = {
  "spawn, stdio ignored": plain(() =>
    new Promise((resolve) => spawn("sh", ["-c", "true"], { stdio: "ignore" }).on("exit", resolve)),
  ),
  "spawn like a job (group, pipes, env)": plain(() =>
    new Promise((resolve) => {
      const c = spawn("/bin/sh", ["-c", "true"], {
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, QUEUECTL_JOB_ID: "x", QUEUECTL_ATTEMPT: "1", QUEUECTL_QUEUE: "default", QUEUECTL_WORKER_ID: "w" },
      });
      c.stdout.on("data", () => {});
      c.stderr.on("data", () => {});
      c.on("close", resolve);
    }),
  ),
  "runCommand (in-process, no perl)": plain(() => runCommand({ command: "true", timeoutMs: null, outputLimitBytes: 262144, env: jobEnv }).result),
  "Perl command host (a worker's way)": () => {
    const hosts = new CommandRunner(1);
    return { run: () => hosts.run({ command: "true", timeoutMs: null, outputLimitBytes: 262144, env: jobEnv }).result, close: () => hosts.close() };
  },
};

async function measure(variant, n) {
  const { run: fn, close } = variant();
  let started = 0;
  const one = async () => {
    while (started < n) {
      started++;
      await fn();
    }
  };
  const c0 = process.cpuUsage();
  const k0 = selfCpuMs().childrenMs;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: SLOTS }, one));
  const ms = performance.now() - t0;
  await close();
  const cpu = process.cpuUsage(c0);
  return { ms, user: cpu.user / 1000 / n, sys: cpu.system / 1000 / n, kids: (selfCpuMs().childrenMs - k0) / n };
}

console.log(`${N} x sh -c true, ${SLOTS} at a time; rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB; load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
for (const [name, fn] of Object.entries(variants)) {
  await measure(fn, 50); // warm up
  const r = await measure(fn, N);
  console.log(
    `${name.padEnd(38)} ${((N * 1000) / r.ms).toFixed(0).padStart(5)} jobs/s   node user ${r.user.toFixed(2)} sys ${r.sys.toFixed(2)} ms/job   children ${r.kids.toFixed(2)} ms/job`,
  );
}
