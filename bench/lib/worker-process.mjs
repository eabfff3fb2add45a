/** A queuectl worker as a separate process: starting one that stays up, and reading its log. */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { sleep } from "./time.mjs";

/** Lines of a worker's JSON log (pino) by level name; lines that are not JSON count as "other". */
export function countLogLevels(file) {
  const counts = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line) continue;
    try {
      const { level } = JSON.parse(line);
      const name = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" }[level] ?? String(level);
      counts[name] = (counts[name] ?? 0) + 1;
    } catch {
      counts.other = (counts.other ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * Starts a long-running foreground worker and resolves once it logged "worker started" (LISTENing).
 * Its log goes to `logFile`; it is in `children` (for a cleanup to kill) until stopped; `label` names
 * the measurement in errors.
 */
export async function startIdleWorker({ cli, env, slots, logFile, children, label }) {
  const out = openSync(logFile, "w");
  const child = spawn(process.execPath, [cli, "worker", "start", "--foreground", "--concurrency", String(slots)], {
    env,
    stdio: ["ignore", out, "pipe"],
  });
  closeSync(out);
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  const exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (readFileSync(logFile, "utf8").includes('"msg":"worker started"')) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${label} worker did not start: ${stderr.trim()}`);
    await sleep(20);
  }
  return {
    async stop() {
      child.kill("SIGTERM");
      const r = await exited;
      children.delete(child);
      if (r.code !== 0) throw new Error(`${label} worker exited ${r.code ?? r.signal}: ${stderr.trim()}`);
    },
  };
}
