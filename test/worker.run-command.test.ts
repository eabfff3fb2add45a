/**
 * runCommand on node's child_process.spawn: exit codes, signals, a command that cannot be found,
 * the job's environment, interleaved output, terminate, and many at once (the worker runs its slots
 * concurrently: each result belongs to its own command).
 */
import { describe, expect, it, vi } from "vitest";
import { availableParallelism } from "node:os";
import { commandHostsFor } from "../src/worker/command-runner.js";
import { describeFailure, KILL_GRACE_MS, runCommand } from "../src/worker/run-command.js";

const run = (command: string, extra: Partial<Parameters<typeof runCommand>[0]> = {}) =>
  runCommand({ command, timeoutMs: null, outputLimitBytes: 65_536, ...extra });

describe("runCommand", () => {
  it("reports exit codes, signals and commands that cannot be found", async () => {
    const [ok, three, missing, killed] = await Promise.all([
      run("echo out; echo err >&2").result,
      run("exit 3").result,
      run("no-such-command-queuectl").result,
      run("kill -KILL $$").result,
    ]);
    expect(ok).toMatchObject({ exitCode: 0, signal: null, spawnError: null });
    expect(ok.output).toBe("out\nerr\n");
    expect(describeFailure(ok)).toBeNull();
    expect(describeFailure(three)).toBe("exit code 3");
    expect(describeFailure(missing)).toBe("exit code 127 (command not found)");
    expect(missing.output).toMatch(/not found/);
    expect(killed).toMatchObject({ exitCode: null, signal: "SIGKILL" });
    expect(describeFailure(killed)).toBe("killed by SIGKILL");
  });

  it("passes the job's environment over the worker's", async () => {
    const r = await run('echo "$QUEUECTL_JOB_ID $PATH"', { env: { QUEUECTL_JOB_ID: "j-1" } }).result;
    expect(r.output).toBe(`j-1 ${process.env.PATH}\n`);
  });

  it("terminate ends the whole process group and says why", async () => {
    const c = run("sleep 30 & sleep 30; wait");
    await new Promise((r) => setTimeout(r, 200));
    c.terminate("lease lost");
    const r = await c.result;
    expect(r.terminatedBecause).toBe("lease lost");
    expect(describeFailure(r)).toBe("terminated: lease lost");
    expect(r.durationMs).toBeLessThan(3000);
  });

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

  it("100 commands at once each get their own result", async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => run(`echo ${i}; exit ${i % 7}`).result));
    results.forEach((r, i) => {
      expect(r.output).toBe(`${i}\n`);
      expect(r.exitCode).toBe(i % 7);
    });
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
