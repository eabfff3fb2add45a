/**
 * Running one command, by both ways the worker has: runCommand in the worker's own process (where
 * there is no perl) and the Perl command host (command-host.pl through CommandRunner). Both must keep
 * the same contract: exit codes, signals, a command that cannot be found, the job's environment and
 * working directory, interleaved and capped output, live output, timeouts, terminate and signals to
 * the whole process group, and many at once (the worker runs its slots concurrently: each result
 * belongs to its own command).
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { CommandRunner, commandHostsFor, findPerl } from "../src/worker/command-runner.js";
import { describeFailure, KILL_GRACE_MS, runCommand, type RunCommandParams, type RunningCommand } from "../src/worker/run-command.js";
import { waitFor } from "./helpers/workers.js";

const perl = findPerl();
if (!perl) throw new Error("these tests need perl on PATH (Debian's perl-base)");
const hosts = new CommandRunner(2, perl);
afterAll(() => hosts.close());

type Start = (p: RunCommandParams) => RunningCommand;
const ways: Array<[string, Start]> = [
  ["runCommand, in the worker's process", runCommand],
  ["the Perl command host", (p) => hosts.run(p)],
];

describe.each(ways)("%s", (_name, start) => {
  const run = (command: string, extra: Partial<RunCommandParams> = {}) => start({ command, timeoutMs: null, outputLimitBytes: 65_536, ...extra });

  it("reports exit codes, signals and commands that cannot be found", async () => {
    const [ok, three, missing, killed] = await Promise.all([
      run("echo out; echo err >&2").result,
      run("exit 3").result,
      run("no-such-command-queuectl").result,
      run("kill -KILL $$").result,
    ]);
    expect(ok).toMatchObject({ exitCode: 0, signal: null, spawnError: null, timedOut: false, terminatedBecause: null });
    expect(ok.output).toBe("out\nerr\n");
    expect(describeFailure(ok)).toBeNull();
    expect(describeFailure(three)).toBe("exit code 3");
    expect(describeFailure(missing)).toBe("exit code 127 (command not found)");
    expect(missing.output).toMatch(/not found/);
    expect(killed).toMatchObject({ exitCode: null, signal: "SIGKILL" });
    expect(describeFailure(killed)).toBe("killed by SIGKILL");
  });

  it("runs with exactly the environment it is given, nothing of the worker's, and a multi-line command as written", async () => {
    process.env.QUEUECTL_TEST_WORKER_SECRET = "worker-only";
    const env = { QUEUECTL_JOB_ID: "j-1", ODD: "a=b\nc d 'é'", PATH: "/usr/bin:/bin" };
    const r = await run('echo "$QUEUECTL_JOB_ID $PATH ${QUEUECTL_TEST_WORKER_SECRET-none}"\nprintf "%s|" "$ODD"; echo "héllo \\"quoted\\""', { env }).result;
    delete process.env.QUEUECTL_TEST_WORKER_SECRET;
    expect(r.output).toBe(`j-1 /usr/bin:/bin none\na=b\nc d 'é'|héllo "quoted"\n`);
    // One job's environment is not the next one's.
    expect((await run('echo "${ODD-unset}"').result).output).toBe("unset\n");
    // A NUL (which enqueue refuses) cannot smuggle in another variable: the command does not start.
    const nul = await run('echo "$PATH"', { env: { X: "a\u0000PATH=/evil" } }).result;
    expect(nul).toMatchObject({ exitCode: null, output: "" });
    expect(nul.spawnError).toMatch(/null bytes/);
  });

  it("runs in the job's working directory, and fails to start where it does not exist", async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "queuectl-cwd-")));
    expect((await run("pwd", { cwd: dir }).result).output).toBe(`${dir}\n`);
    const r = await run("pwd", { cwd: join(dir, "gone") }).result;
    expect(r).toMatchObject({ exitCode: null, spawnError: `working directory ${join(dir, "gone")} does not exist on this host` });
    expect(describeFailure(r)).toMatch(/^could not start: working directory/);
  });

  it("keeps the last bytes of a big output, says how much was dropped, and stores bytes that are not text", async () => {
    const big = await run("head -c 300000 /dev/zero | tr '\\0' a; echo END", { outputLimitBytes: 1000 }).result;
    expect(big.output).toMatch(/^\[… 299004 earlier bytes not kept \(output_limit_bytes=1000\) …\]\na+END\n$/);
    const odd = await run("printf 'x\\377\\000y'").result;
    expect(odd.output).toBe("x\ufffd\u2400y");
  });

  it("hands over output while the command runs", async () => {
    const seen: string[] = [];
    const r = run("echo first; sleep 0.4; echo second", { onOutput: (c) => seen.push(c.toString()) });
    await new Promise((res) => setTimeout(res, 300));
    expect(seen.join("")).toBe("first\n");
    await r.result;
  });

  it("a timeout ends the command and its children", async () => {
    const r = await run("sleep 30 & sleep 30", { timeoutMs: 300 }).result;
    expect(r).toMatchObject({ timedOut: true, terminatedBecause: "timed out after 300 ms" });
    expect(describeFailure(r)).toBe("timed out after 300 ms (process group terminated)");
    expect(r.durationMs).toBeGreaterThanOrEqual(280);
    expect(r.durationMs).toBeLessThan(1000);
  });

  it("terminate ends the whole process group and says why; SIGKILL follows for what ignores SIGTERM", async () => {
    const c = run("sleep 30 & sleep 30; wait");
    await new Promise((r) => setTimeout(r, 200));
    c.terminate("lease lost");
    const r = await c.result;
    expect(r.terminatedBecause).toBe("lease lost");
    expect(describeFailure(r)).toBe("terminated: lease lost");
    expect(r.durationMs).toBeLessThan(3000);

    const stubborn = run("trap '' TERM; sleep 30 & wait");
    await new Promise((res) => setTimeout(res, 200));
    const t0 = performance.now();
    stubborn.terminate("cancelled");
    const s = await stubborn.result;
    const waited = performance.now() - t0;
    expect(s.signal).toBe("SIGKILL");
    expect(waited).toBeGreaterThanOrEqual(KILL_GRACE_MS - 100);
    expect(waited).toBeLessThan(KILL_GRACE_MS + 700);
  });

  it("a command that returns while something it started runs on: the job ends, and so does what it left", async () => {
    const t0 = performance.now();
    const r = await run("sleep 30 & echo started").result;
    expect(r).toMatchObject({ exitCode: 0, output: "started\n" });
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("signal reaches the command's process group, even sent right after the start", async () => {
    const c = run("trap 'echo got HUP; exit 5' HUP; sleep 10 & wait");
    await new Promise((r) => setTimeout(r, 300));
    c.signal("SIGHUP");
    expect(await c.result).toMatchObject({ exitCode: 5, output: "got HUP\n" });

    const early = run("sleep 10");
    early.signal("SIGTERM");
    const t0 = performance.now();
    expect(await early.result).toMatchObject({ exitCode: null, signal: "SIGTERM" });
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("a signal this system does not know is dropped; the command runs on and ends as it would", async () => {
    const c = run("sleep 0.3; echo done");
    c.signal("SIGINFO" as NodeJS.Signals);
    expect(await c.result).toMatchObject({ exitCode: 0, signal: null, output: "done\n" });
    expect(await run("echo after").result).toMatchObject({ exitCode: 0, output: "after\n" });
  });

  it("100 commands at once each get their own result", async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => run(`echo ${i}; exit ${i % 7}`).result));
    results.forEach((r, i) => {
      expect(r.output).toBe(`${i}\n`);
      expect(r.exitCode).toBe(i % 7);
    });
  });
});

describe("runCommand", () => {
  const run = (command: string) => runCommand({ command, timeoutMs: null, outputLimitBytes: 65_536 });

  it("sends nothing to a finished command's process group id afterwards (it may belong to someone else by then)", async () => {
    const ran = run("true");
    await ran.result;
    const kill = vi.spyOn(process, "kill");
    try {
      await new Promise((r) => setTimeout(r, KILL_GRACE_MS + 500));
      expect(kill.mock.calls.filter(([pid]) => pid === -ran.pid!)).toEqual([]);
    } finally {
      kill.mockRestore();
    }
  });
});

describe("the Perl command host", () => {
  /** The host's own protocol (see command-host.pl), without CommandRunner's checks in front of it. */
  function rawHost(): { send(text: string): void; received(): string; end(): Promise<number | null> } {
    const child = spawn(perl!, [fileURLToPath(new URL("../src/worker/command-host.pl", import.meta.url)), String(KILL_GRACE_MS)], { stdio: ["pipe", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("latin1")));
    const closed = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    return { send: (text) => child.stdin.write(text), received: () => out, end: () => (child.stdin.end(), closed) };
  }

  it("stays up through signal requests it cannot carry out, and runs the next command", async () => {
    const host = rawHost();
    host.send("R 1 0 1000 0 0 10\nsleep 0.3\0");
    host.send("S 1 SIGINFO\nS 1 undefined\nS 1 999\nS 1\nL 1 x\n\n");
    host.send("R 2 0 1000 0 0 10\necho next\0");
    await waitFor(() => /E 2 0 0 0 5 5\nnext\n/.test(host.received()) && /E 1 0 0 0 0 0\n/.test(host.received()), { what: "both commands to end" });
    expect(await host.end()).toBe(0);
  });

  it("reads a large request in time proportional to its size, and runs the next command meanwhile", async () => {
    const one = new CommandRunner(1, perl);
    try {
      // An env of n MB (past exec's limits: enqueue refuses such a job; the host must still not choke).
      const runWithEnv = async (mb: number) => {
        const started = performance.now();
        const big = one.run({ command: "true", timeoutMs: null, outputLimitBytes: 1000, env: { BIG: "x".repeat(mb * 1024 * 1024) } });
        const next = one.run({ command: "echo next", timeoutMs: null, outputLimitBytes: 1000 });
        const [b, n] = await Promise.all([big.result, next.result]);
        expect(b.spawnError).toMatch(/E2BIG/);
        expect(n).toMatchObject({ exitCode: 0, output: "next\n" });
        return performance.now() - started;
      };
      await runWithEnv(1);
      const oneMb = await runWithEnv(1);
      const sixteenMb = await runWithEnv(16);
      console.log(`command host: a 1 MB request took ${oneMb.toFixed(0)} ms, 16 MB ${sixteenMb.toFixed(0)} ms`);
      // Linear: about 16 times as long (here at most 64 times, for noise); quadratic reading took 256 times and more.
      expect(sixteenMb).toBeLessThan(64 * oneMb + 500);
    } finally {
      await one.close();
    }
  });

  // setpriv needs root; CI runs as root.
  it.skipIf(process.getuid?.() !== 0)("reports a failed fork as a start failure and goes on (EAGAIN at a process limit)", async () => {
    // A user of its own with room for one process: the host itself. Every fork it tries then fails.
    const dir = mkdtempSync(join(tmpdir(), "queuectl-nproc-"));
    const limited = join(dir, "perl");
    writeFileSync(limited, `#!/bin/sh\nexec prlimit --nproc=1 setpriv --reuid=54321 --regid=54321 --clear-groups ${perl} "$@"\n`, { mode: 0o755 });
    const runner = new CommandRunner(1, limited);
    try {
      const [a, b] = await Promise.all([runner.run({ command: "echo a", timeoutMs: null, outputLimitBytes: 1000 }).result, runner.run({ command: "echo b", timeoutMs: null, outputLimitBytes: 1000 }).result]);
      for (const r of [a, b]) {
        expect(r).toMatchObject({ exitCode: null, spawnError: "fork /bin/sh EAGAIN", output: "" });
        expect(describeFailure(r)).toBe("could not start: fork /bin/sh EAGAIN");
      }
    } finally {
      await runner.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("commandHostsFor", () => {
  it("gives one host to a single slot, one per two slots, at most the CPUs (at least 2)", () => {
    const cap = Math.max(2, availableParallelism());
    expect(commandHostsFor(1)).toBe(1);
    expect(commandHostsFor(2)).toBe(1);
    expect(commandHostsFor(4)).toBe(Math.min(2, cap));
    expect(commandHostsFor(5)).toBe(Math.min(3, cap));
    expect(commandHostsFor(64)).toBe(cap);
  });
});
