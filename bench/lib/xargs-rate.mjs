/**
 * The physical limit for a queue of shell commands on this machine: `seq N | xargs -P<slots> -I{}
 * sh -c true`, what the kernel allows with nothing but fork and exec in the way. Jobs/s, the median
 * of `runs` runs.
 */
import { spawn } from "node:child_process";
import { median } from "./stats.mjs";

export async function xargsRate(n = 1000, slots = 4, runs = 3) {
  const rates = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await new Promise((resolve, reject) => {
      const c = spawn("sh", ["-c", `seq ${n} | xargs -P${slots} -I{} sh -c true`], { stdio: "ignore" });
      c.on("error", reject);
      c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`xargs exited ${code}`))));
    });
    rates.push((n * 1000) / (performance.now() - t0));
  }
  return median(rates);
}
