/**
 * Where a worker's commands are started: in a few worker threads (command-thread.ts), not on the main
 * thread. Node's spawn blocks its thread until the child has exec'd, about a millisecond per command
 * and more on a busy host; with 4 slots of short commands, a main thread that spawns is busy most of
 * the time and the database round trips queue up behind it (bench/core.mjs (a), README "Benchmarks").
 * Two threads start commands side by side while the main thread records outcomes and claims.
 *
 * Each command still runs under runCommand (run-command.ts): the process group, timeouts, output tail
 * and the wait for the whole group are unchanged; only the thread differs. Run from TypeScript sources
 * (the tests' in-process workers) there is no compiled thread script, and commands start in-process.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker as Thread } from "node:worker_threads";
import { runCommand, type CommandResult, type RunCommandParams, type RunningCommand } from "./run-command.js";

export type ToCommandThread =
  | { type: "run"; key: number; params: Omit<RunCommandParams, "onOutput">; liveOutput: boolean }
  | { type: "terminate"; key: number; reason: string }
  | { type: "signal"; key: number; signal: NodeJS.Signals };

export type FromCommandThread =
  | { type: "started"; key: number; pid: number | undefined }
  | { type: "output"; key: number; chunk: Uint8Array }
  | { type: "result"; key: number; result: CommandResult };

interface Pending {
  resolve: (r: CommandResult) => void;
  onOutput: ((chunk: Buffer) => void) | undefined;
  /** The command's process group, once the thread has started it. */
  pid?: number;
}

interface CommandThread {
  thread: Thread;
  pending: Map<number, Pending>;
}

const THREAD_SCRIPT = new URL("./command-thread.js", import.meta.url);

/** Threads for a worker with `concurrency` slots: none for one slot (nothing to overlap), else up to one per two slots, at most the CPUs (and at least 2). */
export function commandThreadsFor(concurrency: number): number {
  if (concurrency < 2) return 0;
  return Math.min(Math.ceil(concurrency / 2), Math.max(2, availableParallelism()));
}

export class CommandRunner {
  private readonly threads: CommandThread[] = [];
  private nextKey = 1;

  constructor(threadCount: number) {
    if (threadCount > 0 && existsSync(fileURLToPath(THREAD_SCRIPT))) {
      for (let i = 0; i < threadCount; i++) this.threads.push(this.startThread());
    }
  }

  /** Starts a command; the same contract as runCommand. */
  run(params: RunCommandParams): RunningCommand {
    if (this.threads.length === 0) return runCommand(params);
    // The thread with the fewest running commands.
    const ct = this.threads.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const key = this.nextKey++;
    const { onOutput, ...rest } = params;
    const result = new Promise<CommandResult>((resolve) => ct.pending.set(key, { resolve, onOutput }));
    ct.thread.postMessage({ type: "run", key, params: rest, liveOutput: onOutput !== undefined } satisfies ToCommandThread);
    return {
      result,
      // Known only inside the thread; nothing on the main thread signals by pid.
      pid: undefined,
      terminate: (reason) => ct.thread.postMessage({ type: "terminate", key, reason } satisfies ToCommandThread),
      signal: (signal) => ct.thread.postMessage({ type: "signal", key, signal } satisfies ToCommandThread),
    };
  }

  /** Ends the threads; call once no command is running. */
  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    await Promise.all(threads.map((ct) => ct.thread.terminate()));
  }

  private startThread(): CommandThread {
    const ct: CommandThread = { thread: new Thread(THREAD_SCRIPT), pending: new Map() };
    ct.thread.on("message", (msg: FromCommandThread) => {
      const p = ct.pending.get(msg.key);
      if (!p) return;
      if (msg.type === "started") p.pid = msg.pid;
      else if (msg.type === "output") p.onOutput?.(Buffer.from(msg.chunk.buffer, msg.chunk.byteOffset, msg.chunk.byteLength));
      else {
        ct.pending.delete(msg.key);
        p.resolve(msg.result);
      }
    });
    // A thread that dies must not leave its commands running unwatched while their jobs are retried
    // elsewhere: their process groups are killed, and the attempts fail (and are retried).
    const fail = (why: string) => {
      const i = this.threads.indexOf(ct);
      if (i >= 0) this.threads.splice(i, 1, this.startThread());
      for (const p of ct.pending.values()) {
        if (p.pid) {
          try {
            process.kill(-p.pid, "SIGKILL");
          } catch {
            // Already gone.
          }
        }
        p.resolve({ exitCode: null, signal: "SIGKILL", timedOut: false, terminatedBecause: `command thread failed: ${why}`, spawnError: null, output: "", durationMs: 0 });
      }
      ct.pending.clear();
    };
    ct.thread.on("error", (err) => fail(err.message));
    ct.thread.on("exit", (code) => {
      if (ct.pending.size > 0) fail(`exited with code ${code}`);
    });
    ct.thread.unref();
    return ct;
  }
}
