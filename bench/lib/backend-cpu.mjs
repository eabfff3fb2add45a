/** CPU of the PostgreSQL backends serving one database, read from /proc when the server is on this host. */
import { readdirSync, readFileSync } from "node:fs";
import { procCpu } from "./proc-cpu.mjs";

/** Whether a server URL names this host (its backends' pids are then this host's processes). */
export function isLocalServer(serverUrl) {
  return ["127.0.0.1", "localhost", "::1", "[::1]", ""].includes(new URL(serverUrl).hostname);
}

/** The postmaster's pid (the parent of `admin`'s backend), or null when the server is not on this host. */
export async function postmasterPidOf(admin, serverUrl) {
  const backend = (await admin.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
  // Only when the server is on this host (a backend pid on another host could name any local process).
  if (isLocalServer(serverUrl)) return procCpu(backend)?.ppid ?? null;
  return null;
}

/**
 * CPU of the PostgreSQL backends serving the scratch database (other people's sessions on the same
 * server are not counted), when the server runs on this host and /proc shows it. Backends are found by
 * their process title ("postgres: ... <db> ..."); a sampler records each one's latest CPU time, since a
 * backend's counters vanish when it exits. Server-wide work our writes cause later (WAL writer,
 * checkpointer, autovacuum) is not in it. `postmasterPid` null (not this host) measures nothing.
 */
export class BackendCpu {
  constructor({ postmasterPid, dbName }) {
    this.postmasterPid = postmasterPid;
    this.dbName = dbName;
    this.ours = new Map(); // pid -> { start, first, last }
    this.others = new Map(); // pid -> start time (a pid can be reused by a new process)
  }
  sample() {
    if (!this.postmasterPid) return;
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      const c = procCpu(d);
      if (!c) continue;
      if (this.others.get(d) === c.start) continue;
      const known = this.ours.get(d);
      if (known && known.start === c.start) {
        known.last = c.self;
        continue;
      }
      if (c.ppid !== this.postmasterPid) {
        this.others.set(d, c.start);
        continue;
      }
      let title = "";
      try {
        title = readFileSync(`/proc/${d}/cmdline`, "utf8");
      } catch {}
      if (!title.includes(` ${this.dbName} `)) {
        this.others.set(d, c.start);
        continue;
      }
      // A reused pid: keep what the old backend used under a new key.
      if (known) this.ours.set(`${d}@${known.start}`, known);
      this.ours.set(d, { start: c.start, first: this.started ? 0 : c.self, last: c.self });
    }
  }
  start() {
    this.started = false;
    this.sample();
    this.started = true;
  }
  /** CPU ms since start(), or null when not measurable. */
  totalMs() {
    if (!this.postmasterPid) return null;
    let t = 0;
    for (const v of this.ours.values()) t += v.last - v.first;
    return t;
  }
}
