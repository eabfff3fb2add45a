/**
 * Where a worker's commands are started: in a few small command-host processes (command-host.ts),
 * forked by the worker, not on the worker's main thread. Node's spawn blocks its thread until the
 * child has exec'd, about a millisecond per command and several on a busy host; with 4 slots of short
 * commands a main thread that spawns is busy most of the time, and the database round trips queue up
 * behind it (bench/core.mjs (a), README "Benchmarks"). Threads of the worker's own process were tried:
 * forks from one process serialise on its memory map, and forking the bigger process costs more.
 *
 * Each command still runs under runCommand (run-command.ts): the process group, timeouts, output tail
 * and the wait for the whole group are unchanged; only the process that starts it differs. Run from
 * TypeScript sources (the tests' in-process workers) there is no compiled host script, and commands
 * start in-process.
 */
import { fork, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { runCommand, type CommandResult, type RunCommandParams, type RunningCommand } from "./run-command.js";

export type ToCommandHost =
  | { type: "run"; key: number; params: Omit<RunCommandParams, "onOutput">; liveOutput: boolean }
  | { type: "terminate"; key: number; reason: string }
  | { type: "signal"; key: number; signal: NodeJS.Signals };

export type FromCommandHost =
  | { type: "started"; key: number; pid: number | undefined }
  | { type: "output"; key: number; chunk: Uint8Array }
  | { type: "result"; key: number; result: CommandResult };

interface Pending {
  resolve: (r: CommandResult) => void;
  onOutput: ((chunk: Buffer) => void) | undefined;
  /** The command's process group, once the host has started it. */
  pid?: number;
}

interface CommandHost {
  child: ChildProcess;
  pending: Map<number, Pending>;
}

const HOST_SCRIPT = fileURLToPath(new URL("./command-host.js", import.meta.url));

/** How long a host gets to exit after the worker closes it, before SIGKILL. */
const HOST_EXIT_MS = 2000;

/**
 * Command hosts for a worker with `concurrency` slots: one per two slots, at most the CPUs (at least
 * 2 then). Even one slot gets a host: a worker killed with SIGKILL takes its commands down with it
 * (the host sees the channel close), instead of leaving them running beside their retries.
 */
export function commandHostsFor(concurrency: number): number {
  if (concurrency < 2) return 1;
  return Math.min(Math.ceil(concurrency / 2), Math.max(2, availableParallelism()));
}

export class CommandRunner {
  private readonly hosts: CommandHost[] = [];
  private nextKey = 1;

  constructor(hostCount: number) {
    if (hostCount > 0 && existsSync(HOST_SCRIPT)) {
      for (let i = 0; i < hostCount; i++) this.hosts.push(this.startHost());
    }
  }

  /** Starts a command; the same contract as runCommand. */
  run(params: RunCommandParams): RunningCommand {
    if (this.hosts.length === 0) return runCommand(params);
    const ct = this.pickHost();
    const key = this.nextKey++;
    const { onOutput, ...rest } = params;
    const result = new Promise<CommandResult>((resolve) => ct.pending.set(key, { resolve, onOutput }));
    const send = (msg: ToCommandHost) => {
      if (ct.child.connected) ct.child.send(msg);
    };
    send({ type: "run", key, params: rest, liveOutput: onOutput !== undefined });
    return {
      result,
      // Known only inside the host; nothing in the worker signals by pid.
      pid: undefined,
      terminate: (reason) => send({ type: "terminate", key, reason }),
      signal: (signal) => send({ type: "signal", key, signal }),
    };
  }

  /** Ends the hosts; call once no command is running. */
  async close(): Promise<void> {
    const hosts = this.hosts.splice(0);
    await Promise.all(
      hosts.map(
        (ct) =>
          new Promise<void>((resolve) => {
            if (ct.child.exitCode !== null || ct.child.signalCode !== null) return resolve();
            const kill = setTimeout(() => ct.child.kill("SIGKILL"), HOST_EXIT_MS);
            ct.child.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            // A closed channel is the host's cue to exit (it ignores SIGTERM, which is the worker's).
            if (ct.child.connected) ct.child.disconnect();
          }),
      ),
    );
  }

  /**
   * The host with the fewest running commands. One that has gone away is replaced here, when work
   * arrives, not when it dies: a host that cannot start fails the attempts given to it instead of
   * being forked again in a loop.
   */
  private pickHost(): CommandHost {
    let i = 0;
    for (let k = 1; k < this.hosts.length; k++) if (this.hosts[k]!.pending.size < this.hosts[i]!.pending.size) i = k;
    if (!this.hosts[i]!.child.connected) this.hosts[i] = this.startHost();
    return this.hosts[i]!;
  }

  private startHost(): CommandHost {
    const child = fork(HOST_SCRIPT, [], { serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [] });
    const ct: CommandHost = { child, pending: new Map() };
    child.on("message", (msg: FromCommandHost) => {
      const p = ct.pending.get(msg.key);
      if (!p) return;
      if (msg.type === "started") p.pid = msg.pid;
      else if (msg.type === "output") p.onOutput?.(Buffer.from(msg.chunk.buffer, msg.chunk.byteOffset, msg.chunk.byteLength));
      else {
        ct.pending.delete(msg.key);
        p.resolve(msg.result);
      }
    });
    // A host that dies must not leave its commands running unwatched while their jobs are retried
    // elsewhere: their process groups are killed, and the attempts fail (and are retried).
    const fail = (why: string) => {
      for (const p of ct.pending.values()) {
        if (p.pid) {
          try {
            process.kill(-p.pid, "SIGKILL");
          } catch {
            // Already gone.
          }
        }
        p.resolve({ exitCode: null, signal: "SIGKILL", timedOut: false, terminatedBecause: `command host failed: ${why}`, spawnError: null, output: "", durationMs: 0 });
      }
      ct.pending.clear();
    };
    child.on("error", (err) => fail(err.message));
    child.on("exit", (code, signal) => fail(signal ? `killed by ${signal}` : `exited with code ${code}`));
    // Idle hosts must not keep a finished worker process alive.
    child.unref();
    child.channel?.unref();
    return ct;
  }
}
