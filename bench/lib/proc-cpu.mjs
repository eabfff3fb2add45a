/**
 * CPU time from /proc (Linux): the whole machine's, this process's and its reaped children's, and any
 * one process's by pid. Process CPU times are returned in milliseconds.
 */
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { round } from "./stats.mjs";

/** The unit of /proc's CPU times (USER_HZ), 100 ticks a second on Linux. */
const CLK_TCK = 100;

/** CPU time (ms) of this process and of its children it has reaped (waited for). */
export function selfCpuMs() {
  const self = readFileSync("/proc/self/stat", "utf8");
  const f = self.slice(self.lastIndexOf(")") + 2).split(" ").map(Number);
  // fields after "(comm) ": state=0, ... utime=11, stime=12, cutime=13, cstime=14
  return {
    selfMs: ((f[11] + f[12]) * 1000) / CLK_TCK,
    childrenMs: ((f[13] + f[14]) * 1000) / CLK_TCK,
  };
}

/** Clock ticks of the whole machine, and CPU time of this process and its reaped children. */
export function cpuSample() {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = line[3] + (line[4] ?? 0);
  const total = line.slice(0, 8).reduce((a, b) => a + b, 0);
  const { selfMs, childrenMs } = selfCpuMs();
  return {
    busyTicks: total - idle,
    totalTicks: total,
    selfMs,
    childrenMs,
    load1: loadavg()[0],
  };
}

/**
 * Machine load during a phase: the share of all CPUs busy, and how much of it was not this process
 * or its children (other people's tests, postgres serving them, ... and postgres serving us).
 */
export function cpuDelta(a, b, wallSpanMs) {
  const busyMs = ((b.busyTicks - a.busyTicks) * 1000) / CLK_TCK;
  const ours = b.selfMs - a.selfMs + (b.childrenMs - a.childrenMs);
  const capacityMs = wallSpanMs * cpus().length;
  return {
    machine_busy_pct: round((100 * busyMs) / capacityMs, 0),
    ours_cpu_ms: round(ours, 0),
    others_incl_postgres_pct: round((100 * Math.max(0, busyMs - ours)) / capacityMs, 0),
    children_cpu_ms: round(b.childrenMs - a.childrenMs, 0),
    self_cpu_ms: round(b.selfMs - a.selfMs, 0),
    load1: round(b.load1, 2),
  };
}

/** utime+stime and cutime+cstime (ms) of a process from /proc, or null when it is gone. */
export function procCpu(pid) {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return { start: f[19], user: (Number(f[11]) * 1000) / CLK_TCK, sys: (Number(f[12]) * 1000) / CLK_TCK, self: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK, children: ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK, ppid: Number(f[1]) };
  } catch {
    return null;
  }
}

/**
 * A process's own CPU and that of its direct children, sampled from /proc while it runs: a process's
 * counters vanish when it exits, so each one's latest sample is kept (the last is up to one sampling
 * interval before its exit).
 */
export class ProcessTreeCpu {
  constructor(pid) {
    this.pid = pid;
    this.last = null; // the process's latest procCpu()
    this.children = new Map(); // pid -> its latest procCpu()
  }
  sample() {
    this.last = procCpu(this.pid) ?? this.last;
    let kids = [];
    try {
      kids = readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    } catch {
      // The process is gone.
    }
    for (const pid of kids) {
      const c = procCpu(pid);
      if (c) this.children.set(pid, c);
    }
  }
}
