/** Running a child process to completion and capturing what it printed. */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { nowMs } from "./time.mjs";

/**
 * Spawns a process and resolves with its exit, wall time and captured output. With `stdoutFile`,
 * stdout is written to that file instead of captured; `onSpawn` receives the child as soon as it is
 * spawned.
 */
export function run(cmd, argv, { env, stdoutFile, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const out = stdoutFile ? openSync(stdoutFile, "w") : "pipe";
    const child = spawn(cmd, argv, { env, stdio: ["ignore", out, "pipe"] });
    onSpawn?.(child);
    const chunks = [];
    const errChunks = [];
    child.stdout?.on("data", (c) => chunks.push(c));
    child.stderr.on("data", (c) => errChunks.push(c));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (stdoutFile) closeSync(out);
      resolve({ code, signal, ms: nowMs() - t0, stdout: Buffer.concat(chunks).toString(), stderr: Buffer.concat(errChunks).toString() });
    });
  });
}
