/**
 * Where a worker's commands are started: in a few command-host processes (command-host.pl), not on the
 * worker's own thread. Node's spawn forks the whole Node process and blocks its thread until the child
 * has exec'd: with 4 slots of short commands that was more CPU per job than the queue's statements, and
 * the database round trips queued up behind it (docs/benchmarks.md). A host is a
 * small Perl process that forks cheaply and never waits on a child. Node command hosts and worker
 * threads were both built and measured first; each cost more than the fork it moved.
 *
 * The rules a command runs under are run-command.ts's (process group, timeout, output tail, the wait
 * for the whole group); the host applies them, and this side turns its messages into the same
 * CommandResult. Where there is no perl, commands start in-process with runCommand.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { availableParallelism, constants as osConstants } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { outputText } from "./output-tail.js";
import { encodeRequest, HostEventReader, runPayloadFits, type HostEvent, type HostRequest } from "./command-host-protocol.js";
import { cwdProblemFromCode, KILL_GRACE_MS, runCommand, type CommandResult, type RunCommandParams, type RunningCommand } from "./run-command.js";

// Written from worker/ up, so it names dist/worker/command-host.pl from the CLI's bundle in dist/cli/ too.
const HOST_SCRIPT = fileURLToPath(new URL("../worker/command-host.pl", import.meta.url));

/** How long a host gets to exit after the worker closes it, before SIGKILL. */
const HOST_EXIT_MS = 2000;

const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([name, num]) => [num, name]));
// Reversed so that the first name of a number wins where two share it: EAGAIN, not EWOULDBLOCK.
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, num]) => [num, name] as const).reverse());

/**
 * Command hosts for a worker with `concurrency` slots: one per two slots, at most the CPUs (at least
 * 2 then). Even one slot gets a host: a worker killed with SIGKILL takes its commands down with it
 * (the host sees its stdin close), instead of leaving them running beside their retries.
 */
export function commandHostsFor(concurrency: number): number {
  if (concurrency < 2) return 1;
  return Math.min(Math.ceil(concurrency / 2), Math.max(2, availableParallelism()));
}

/** The perl on PATH, or null. */
export function findPerl(path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, "perl");
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return null;
}

interface Refable {
  ref(): void;
  unref(): void;
}

interface Pending {
  params: RunCommandParams;
  resolve: (r: CommandResult) => void;
  startedAt: number;
  /** The command's process group, once the host has started it. */
  pid?: number;
  /** Why the worker ended it (terminate), if it did. */
  terminatedBecause?: string;
}

/** One host process and the commands it is running, keyed by the worker's numbering. */
class CommandHost {
  readonly pending = new Map<number, Pending>();
  private readonly child: ChildProcess;
  private readonly reader = new HostEventReader();
  private gone = false;

  /** `runAs`: the host starts every command as this user and group (it stays root itself to signal them). */
  constructor(perl: string, runAs?: { uid: number; gid: number }) {
    const args = [HOST_SCRIPT, String(KILL_GRACE_MS), ...(runAs ? [String(runAs.uid), String(runAs.gid)] : [])];
    this.child = spawn(perl, args, { stdio: ["pipe", "pipe", "inherit"] });
    this.child.stdout!.on("data", (chunk: Buffer) => {
      for (const event of this.reader.push(chunk)) this.handle(event);
    });
    // A host that dies must not leave its commands running unwatched while their jobs are retried
    // elsewhere: their process groups are killed, and the attempts fail (and are retried).
    this.child.on("error", (err) => this.fail(err.message));
    // close, not exit: the E messages a host wrote just before it ended are still in its stdout pipe.
    this.child.on("close", (code, signal) => this.fail(signal ? `killed by ${signal}` : `exited with code ${code}`));
    // A write to a host that has just died fails with EPIPE; its exit is what counts.
    this.child.stdin!.on("error", () => {});
    // An idle host must not keep a finished worker process alive; one running commands must (see track).
    this.child.unref();
    this.stdout.unref();
    (this.child.stdin as unknown as Refable).unref();
  }

  private get stdout(): Refable {
    return this.child.stdout as unknown as Refable;
  }

  /** Counts a command in; the host's output keeps the process alive while any runs. */
  track(key: number, p: Pending): void {
    if (this.pending.size === 0) this.stdout.ref();
    this.pending.set(key, p);
  }

  private settle(key: number, p: Pending, result: CommandResult): void {
    this.pending.delete(key);
    if (this.pending.size === 0) this.stdout.unref();
    p.resolve(result);
  }

  get alive(): boolean {
    return !this.gone;
  }

  send(request: HostRequest): void {
    if (this.gone) return;
    this.child.stdin!.write(encodeRequest(request));
  }

  /** Ends the host once its commands have ended: a closed stdin is its cue to exit. */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      const kill = setTimeout(() => this.child.kill("SIGKILL"), HOST_EXIT_MS);
      this.child.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      this.child.stdin!.end();
    });
  }

  private fail(why: string): void {
    this.gone = true;
    for (const p of this.pending.values()) {
      if (p.pid) {
        try {
          process.kill(-p.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      p.resolve({ exitCode: null, signal: "SIGKILL", timedOut: false, terminatedBecause: `command host failed: ${why}`, spawnError: null, leaseLost: false, output: "", durationMs: 0 });
    }
    this.pending.clear();
  }

  private handle(event: HostEvent): void {
    const p = this.pending.get(event.key);
    if (!p) return;
    switch (event.type) {
      case "started":
        p.pid = event.pid;
        return;
      case "output":
        p.params.onOutput?.(event.bytes);
        return;
      case "failed": {
        const code = ERRNO_NAMES.get(event.errno) ?? `errno ${event.errno}`;
        const spawnError = event.step === "cwd" ? cwdProblemFromCode(p.params.cwd ?? "", code) : `${event.step} /bin/sh ${code}`;
        this.settle(event.key, p, { exitCode: null, signal: null, timedOut: false, terminatedBecause: null, spawnError, leaseLost: false, output: "", durationMs: 0 });
        return;
      }
      case "ended": {
        const timedOut = event.endedBy === "timeout";
        this.settle(event.key, p, {
          exitCode: event.exit,
          signal: event.signum > 0 ? (SIGNAL_NAMES.get(event.signum) ?? `signal ${event.signum}`) : null,
          timedOut,
          terminatedBecause: timedOut ? `timed out after ${p.params.timeoutMs} ms` : (p.terminatedBecause ?? null),
          spawnError: null,
          leaseLost: event.endedBy === "lease",
          output: outputText(event.tail, event.total, p.params.outputLimitBytes),
          durationMs: Math.round(performance.now() - p.startedAt),
        });
      }
    }
  }
}

/** An environment without its unset entries (process.env's type allows them). */
function definedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

export class CommandRunner {
  private readonly hosts: CommandHost[] = [];
  private readonly perl: string | null;
  private nextKey = 1;

  constructor(
    hostCount: number,
    perl: string | null = findPerl(),
    private readonly runAs?: { uid: number; gid: number },
  ) {
    this.perl = hostCount > 0 ? perl : null;
    if (this.perl) for (let i = 0; i < hostCount; i++) this.hosts.push(new CommandHost(this.perl, runAs));
  }

  /** Where commands start, for the worker's start-up log line. */
  describe(): string {
    return this.perl ? `${this.hosts.length} command host(s) (${this.perl})` : "in the worker process (no perl on PATH)";
  }

  /** Starts a command; the same contract as runCommand. */
  run(params: RunCommandParams): RunningCommand {
    const fields = { command: params.command, cwd: params.cwd ?? "", env: params.env ?? definedEnv(process.env) };
    // The host splits on NUL; enqueue rejects it everywhere, and exec could not pass it anyway.
    if (this.hosts.length === 0 || !runPayloadFits(fields)) return runCommand({ ...params, runAs: this.runAs });
    const host = this.pickHost();
    const key = this.nextKey++;
    const pending: Pending = { params, resolve: () => {}, startedAt: performance.now() };
    const result = new Promise<CommandResult>((resolve) => (pending.resolve = resolve));
    host.track(key, pending);
    host.send({
      type: "run",
      key,
      timeoutMs: params.timeoutMs ?? 0,
      outputLimit: params.outputLimitBytes,
      live: params.onOutput !== undefined,
      // 0 means "no lease" to the host: a lease already due is 1 ms away.
      leaseMs: params.leaseMs === undefined ? 0 : Math.max(1, params.leaseMs),
      ...fields,
    });
    return {
      result,
      // Known only once the host has started it; nothing in the worker signals by pid.
      pid: undefined,
      terminate: (reason) => {
        pending.terminatedBecause ??= reason;
        host.send({ type: "terminate", key });
      },
      signal: (signal) => {
        // A name this system lacks (SIGINFO from a BSD shell) is dropped, as process.kill drops it in runCommand.
        const signum = (osConstants.signals as Record<string, number | undefined>)[signal];
        if (signum !== undefined) host.send({ type: "signal", key, signum });
      },
      renewLease: (ms) => {
        if (params.leaseMs !== undefined) host.send({ type: "lease", key, leaseMs: Math.max(1, ms) });
      },
    };
  }

  /** Ends the hosts; call once no command is running. */
  async close(): Promise<void> {
    await Promise.all(this.hosts.splice(0).map((h) => h.close()));
  }

  /**
   * The host with the fewest running commands. One that has gone away is replaced here, when work
   * arrives, not when it dies: a host that cannot start fails the attempts given to it instead of
   * being started again in a loop.
   */
  private pickHost(): CommandHost {
    let i = 0;
    for (let k = 1; k < this.hosts.length; k++) if (this.hosts[k]!.pending.size < this.hosts[i]!.pending.size) i = k;
    if (!this.hosts[i]!.alive) this.hosts[i] = new CommandHost(this.perl!);
    return this.hosts[i]!;
  }
}
