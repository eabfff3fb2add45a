/**
 * Runs one job's command: `sh -c` in a process group of its own, so that a timeout, cancel or forced
 * shutdown can end the whole tree (the shell and everything it started), SIGTERM first and SIGKILL
 * after a grace period. Output (stdout and stderr interleaved) is kept as a capped tail.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { OutputTail } from "./output-tail.js";

/** How long a process group gets between SIGTERM and SIGKILL (also given to the command hosts). */
export const KILL_GRACE_MS = 3000;

export interface RunCommandParams {
  command: string;
  /** 0 or null = no timeout. */
  timeoutMs: number | null;
  outputLimitBytes: number;
  /** The command's whole environment (queue/job-environment.ts builds a job's); undefined = this process's. */
  env?: Record<string, string>;
  /** Every chunk of output as it arrives (for live output); the tail is kept regardless. */
  onOutput?: (chunk: Buffer) => void;
  /** Working directory; undefined = the worker's. Must exist on this host, or the attempt fails. */
  cwd?: string;
  /**
   * The job's lease, in ms from now: past it, unless renewLease moved it, the process group is killed
   * with SIGKILL (the lease is about to run out in the database). Undefined: no lease.
   */
  leaseMs?: number;
  /** Start the command as this user and group (`worker start --run-as`; the worker is root). */
  runAs?: { uid: number; gid: number };
}

export interface CommandResult {
  /** null when the process was ended by a signal or never started. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Set when the worker ended it on purpose (shutdown, lease lost): the reason given to `terminate`. */
  terminatedBecause: string | null;
  /** The command could not be started at all. */
  spawnError: string | null;
  /** Killed because its lease was not renewed in time (RunCommandParams.leaseMs). */
  leaseLost: boolean;
  output: string;
  durationMs: number;
}

export interface RunningCommand {
  /** Resolves when the command and its output streams have ended; never rejects. */
  readonly result: Promise<CommandResult>;
  readonly pid: number | undefined;
  /** Ends the process group: SIGTERM, then SIGKILL after KILL_GRACE_MS. */
  terminate(reason: string): void;
  /** Sends one signal to the process group (`kill --signal`); the command decides what it means. */
  signal(signal: NodeJS.Signals): void;
  /** The lease now runs out `ms` from now (after a heartbeat extended it). */
  renewLease(ms: number): void;
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Why `cwd` cannot be used on this host, from the error code of stat or chdir. */
export function cwdProblemFromCode(cwd: string, code: string | undefined): string {
  if (code === "ENOENT") return `working directory ${cwd} does not exist on this host`;
  if (code === "ENOTDIR") return `working directory ${cwd} is not a directory on this host`;
  return `working directory ${cwd} is not usable on this host (${code})`;
}

/** Why `cwd` cannot be used on this host, or null when it can. */
function cwdProblem(cwd: string): string | null {
  try {
    return statSync(cwd).isDirectory() ? null : cwdProblemFromCode(cwd, "ENOTDIR");
  } catch (err) {
    return cwdProblemFromCode(cwd, (err as NodeJS.ErrnoException).code);
  }
}

/**
 * Whether anything of process group `pgid` still runs. A zombie does not count: what the shell left
 * behind is reparented to PID 1 when the shell exits, and PID 1 may take seconds to reap it (or never,
 * in a container without an init), while kill(-pgid, 0) still finds it. On Linux, /proc tells zombies
 * apart; it is read only when kill says the group exists, which is rare once the shell has exited.
 */
function groupAlive(pgid: number | undefined): boolean {
  if (!pgid) return false;
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== "linux") return true;
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) > 57) continue; // not a pid
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "latin1");
    } catch {
      continue; // gone meanwhile
    }
    // After "(comm)": state, ppid, pgrp, ...
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3);
    if (Number(pgrp) === pgid && state !== "Z") return true;
  }
  return false;
}

/**
 * Waits until nothing of the command's process group is left: what the shell left behind got
 * SIGTERM when the shell exited; past the grace period it gets SIGKILL. Without this wait, a child
 * that ignores SIGTERM outlived its job, and outlived the worker if the worker exited within the
 * grace period.
 */
async function reapGroup(pid: number | undefined): Promise<void> {
  const graceEnds = Date.now() + KILL_GRACE_MS;
  let killed = false;
  while (groupAlive(pid)) {
    if (!killed && Date.now() >= graceEnds) {
      signalGroup(pid, "SIGKILL");
      killed = true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function runCommand(p: RunCommandParams): RunningCommand {
  const problem = p.cwd === undefined ? null : cwdProblem(p.cwd);
  if (problem) {
    const result: CommandResult = { exitCode: null, signal: null, timedOut: false, terminatedBecause: null, spawnError: problem, leaseLost: false, output: "", durationMs: 0 };
    return { result: Promise.resolve(result), pid: undefined, terminate: () => {}, signal: () => {}, renewLease: () => {} };
  }
  const started = performance.now();
  const tail = new OutputTail(p.outputLimitBytes);
  let child: ChildProcess;
  try {
    // node's own spawn, not execa: execa's per-job bookkeeping cost more CPU than the queue's
    // statements (bench/spawn-cost.mjs), and a worker's throughput on a busy host is its CPU per job.
    child = spawn("/bin/sh", ["-c", p.command], {
      // A process group of its own: kill(-pid) then reaches every process the command started.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: p.env ?? process.env,
      cwd: p.cwd,
      ...(p.runAs ? { uid: p.runAs.uid, gid: p.runAs.gid } : {}),
    });
  } catch (err) {
    const result: CommandResult = { exitCode: null, signal: null, timedOut: false, terminatedBecause: null, spawnError: (err as Error).message, leaseLost: false, output: "", durationMs: 0 };
    return { result: Promise.resolve(result), pid: undefined, terminate: () => {}, signal: () => {}, renewLease: () => {} };
  }

  let terminatedBecause: string | null = null;
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const terminate = (reason: string) => {
    if (terminatedBecause) return;
    terminatedBecause = reason;
    signalGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
    killTimer.unref();
  };

  // In this process the lease can only be kept while the worker's thread runs: a frozen worker
  // freezes this timer too (the command hosts do not have that limit).
  let leaseLost = false;
  let leaseTimer: NodeJS.Timeout | undefined;
  const renewLease = (ms: number) => {
    clearTimeout(leaseTimer);
    leaseTimer = setTimeout(() => {
      leaseLost = true;
      signalGroup(child.pid, "SIGKILL");
    }, Math.max(0, ms));
    leaseTimer.unref();
  };
  if (p.leaseMs !== undefined && p.leaseMs > 0) renewLease(p.leaseMs);

  const timeoutTimer =
    p.timeoutMs && p.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          terminate(`timed out after ${p.timeoutMs} ms`);
        }, p.timeoutMs)
      : undefined;

  const onData = p.onOutput
    ? (c: Buffer) => {
        tail.push(c);
        p.onOutput!(c);
      }
    : (c: Buffer) => tail.push(c);
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  // When the shell exits, processes it left in its group (`cmd &`) would keep the job "running" by
  // holding the output pipe open. The job is the process tree: end what is left of it.
  let leftoverKillTimer: NodeJS.Timeout | undefined;
  child.on("exit", () => {
    signalGroup(child.pid, "SIGTERM");
    leftoverKillTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
    leftoverKillTimer.unref();
  });

  const result = new Promise<CommandResult>((resolve) => {
    let settled = false;
    const finish = async (exitCode: number | null, signal: string | null, spawnError: string | null) => {
      if (settled) return;
      settled = true;
      if (child.pid) await reapGroup(child.pid);
      // The group is gone: its id may be handed to another process group from now on, which a late
      // SIGKILL would hit.
      clearTimeout(leftoverKillTimer);
      clearTimeout(timeoutTimer);
      clearTimeout(killTimer);
      clearTimeout(leaseTimer);
      resolve({ exitCode, signal, timedOut, terminatedBecause, spawnError, leaseLost, output: tail.text(), durationMs: Math.round(performance.now() - started) });
    };
    // 'close': the shell exited and its output pipes are drained.
    child.on("close", (code, signal) => void finish(code, signal, null));
    child.on("error", (err) => void finish(null, null, err.message));
  });

  return { result, pid: child.pid, terminate, signal: (sig) => signalGroup(child.pid, sig), renewLease: (ms) => {
      if (p.leaseMs !== undefined) renewLease(ms);
    },
  };
}

/** One line for last_error: why an attempt failed, or null when it succeeded. */
export function describeFailure(r: CommandResult): string | null {
  if (r.leaseLost) return "killed: its lease was not renewed in time (the worker lost the database, or was frozen)";
  if (r.timedOut) return `timed out after ${r.terminatedBecause?.match(/\d+/)?.[0] ?? "?"} ms (process group terminated)`;
  if (r.terminatedBecause) return `terminated: ${r.terminatedBecause}`;
  if (r.spawnError) return `could not start: ${r.spawnError.split("\n")[0]}`;
  if (r.signal) return `killed by ${r.signal}`;
  if (r.exitCode === 0) return null;
  if (r.exitCode === 127) return "exit code 127 (command not found)";
  if (r.exitCode === 126) return "exit code 126 (command not executable)";
  return `exit code ${r.exitCode}`;
}
