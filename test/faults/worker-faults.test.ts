/**
 * Faults that take seconds: a worker frozen (SIGSTOP) past its lease and resumed, stopping a worker
 * whose 8 slots are busy, and commands that misbehave (200 MB of output, a child that ignores SIGTERM,
 * one that never exits, bytes that are not UTF-8). Every job ends completed exactly once or dead, and
 * the worker stays within its memory.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { setConfigValue } from "../../src/queue/config.js";
import { queuectl } from "../helpers/cli.js";
import { useTestDatabase } from "../helpers/db.js";
import { alive, countByState, enqueue, jobState, startWorkerProcess, waitFor } from "../helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-faults-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The peak resident set of a process, in MiB (VmHWM from /proc/<pid>/status). */
function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function reset(): Promise<void> {
  await db.pool.query("TRUNCATE jobs, job_attempts, dead_letters, workers CASCADE");
}

describe("a worker frozen past its lease", () => {
  it("SIGSTOP then SIGCONT: its command is killed before the lease runs out, the job runs again elsewhere (never beside it), the late result is refused", async () => {
    await reset();
    await setConfigValue(db.pool, "lease_ms", "1000");
    await setConfigValue(db.pool, "backoff_base", "1");
    const frozen = startWorkerProcess();
    const pidFile = join(dir, "frozen-attempt-1.pid");
    // Attempt 1 runs long; its worker is frozen, but its command host is not, and it kills the command
    // once the lease is about to run out. Attempt 2 notes whether attempt 1 was still alive when it began.
    const runs = join(dir, "frozen-runs");
    const command = `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then echo $$ > ${pidFile}; exec sleep 60; fi; if kill -0 $(cat ${pidFile}) 2>/dev/null; then echo "attempt $QUEUECTL_ATTEMPT beside attempt 1" >> ${runs}; else echo "attempt $QUEUECTL_ATTEMPT" >> ${runs}; fi`;
    const [id] = await enqueue(db.pool, [{ id: "frozen", command, max_retries: 3 }]);
    await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "", { what: "attempt 1 running" });
    const firstPid = Number(readFileSync(pidFile, "utf8").trim());
    const frozenId = (await jobState(db.pool, id!))!.worker_id;

    frozen.child.kill("SIGSTOP");
    const rescuer = startWorkerProcess();
    try {
      await waitFor(async () => (await jobState(db.pool, id!))?.state === "completed", { timeoutMs: 20_000, what: "job completed by the other worker" });
      const done = await jobState(db.pool, id!);
      expect(done?.attempts).toBe(2);
      expect(done?.worker_id).not.toBe(frozenId);
      expect(alive(firstPid)).toBe(false);
      expect(readFileSync(runs, "utf8")).toBe("attempt 2\n");

      frozen.child.kill("SIGCONT");
      // Resumed, it learns the job is no longer its own: its late result is refused.
      await waitFor(() => /no longer holds|result refused/.test(frozen.log()), { timeoutMs: 10_000, what: "the resumed worker to drop its stale attempt" });
      await new Promise((r) => setTimeout(r, 500));

      // Nothing the resumed worker did changed the job.
      expect(await jobState(db.pool, id!)).toMatchObject({ state: "completed", attempts: 2, worker_id: done?.worker_id });
      expect(readFileSync(runs, "utf8")).toBe("attempt 2\n");
      const history = await db.pool.query("SELECT attempt, worker_id, exit_code, error FROM job_attempts WHERE job_id = $1 ORDER BY id", [id]);
      expect(history.rows).toHaveLength(2);
      expect(history.rows[0]).toMatchObject({ attempt: 1, worker_id: frozenId });
      expect(history.rows[0].error).toMatch(/^lease expired/);
      expect(history.rows[1]).toMatchObject({ attempt: 2, exit_code: 0, error: null });
    } finally {
      frozen.child.kill("SIGCONT");
      frozen.child.kill("SIGTERM");
      rescuer.child.kill("SIGTERM");
      await Promise.all([frozen.exited, rescuer.exited]);
      await setConfigValue(db.pool, "lease_ms", "30000");
    }
  });
});

describe("stopping a worker with 8 busy slots", () => {
  for (const how of ["worker stop", "SIGTERM"] as const) {
    it(`${how}: all 8 running commands finish, nothing is left in processing`, async () => {
      await reset();
      const w = startWorkerProcess(["--concurrency", "8"]);
      const out = join(dir, `slots-${how.replace(" ", "-")}`);
      const ids = await enqueue(db.pool, Array.from({ length: 12 }, (_, i) => ({ id: `slot-${i}`, command: `sleep 4; echo $QUEUECTL_JOB_ID >> ${out}`, priority: i < 8 ? 1 : 0 })));
      // 4 s: `queuectl worker stop` is a process start away, which took over 1.5 s on a loaded CI box.
      await waitFor(async () => (await countByState(db.pool)).processing === 8, { what: "8 slots busy" });
      if (how === "SIGTERM") w.child.kill("SIGTERM");
      else expect((await queuectl(["worker", "stop"])).code).toBe(0);
      expect(await w.exited).toBe(0);
      expect(await countByState(db.pool)).toEqual({ completed: 8, pending: 4 });
      const ran = readFileSync(out, "utf8").trim().split("\n").sort();
      expect(ran).toEqual(ids.slice(0, 8).sort());
      const open = await db.pool.query("SELECT count(*)::int AS n FROM job_attempts WHERE finished_at IS NULL");
      expect(open.rows[0].n).toBe(0);
    });
  }
});

describe("commands that misbehave", () => {
  it("200 MB of output, a child ignoring SIGTERM, a command that never exits, non-UTF-8 bytes: capped, ended, the worker stays small", async () => {
    await reset();
    await setConfigValue(db.pool, "output_limit_bytes", "65536");
    const childPid = join(dir, "stubborn.pid");
    const w = startWorkerProcess(["--concurrency", "4"]);
    try {
      await enqueue(
        db.pool,
        [
          { id: "chatty", command: "yes 'all work and no play makes jack a dull boy' | head -c 209715200; echo; echo the end" },
          { id: "stubborn", command: `sh -c 'trap "" TERM; echo $$ > ${childPid}; while :; do sleep 0.2; done' & wait`, timeout: 1000 },
          { id: "forever", command: "sleep 3600", timeout: 500 },
          { id: "binary", command: "printf 'ok \\377\\376 \\000 caf\\351 end'" },
        ],
        0,
      );
      await waitFor(async () => {
        const c = await countByState(db.pool);
        return (c.completed ?? 0) + (c.dead ?? 0) === 4;
      }, { timeoutMs: 45_000, what: "all four jobs to end" });

      const rows = await db.pool.query("SELECT j.id, j.state, j.last_error, a.output FROM jobs j JOIN job_attempts a ON a.job_id = j.id ORDER BY j.id");
      const by = Object.fromEntries(rows.rows.map((r) => [r.id, r]));
      expect(by.chatty.state).toBe("completed");
      expect(Buffer.byteLength(by.chatty.output)).toBeLessThan(65_536 + 200);
      expect(by.chatty.output).toMatch(/^\[… \d+ earlier bytes not kept/);
      expect(by.chatty.output.endsWith("dull boy\nthe end\n") || by.chatty.output.endsWith("\nthe end\n")).toBe(true);

      expect(by.stubborn.state).toBe("dead");
      expect(by.stubborn.last_error).toMatch(/timed out after 1000 ms/);
      expect(alive(Number(readFileSync(childPid, "utf8").trim()))).toBe(false);
      expect(by.forever.state).toBe("dead");
      expect(by.forever.last_error).toMatch(/timed out after 500 ms/);

      expect(by.binary.state).toBe("completed");
      expect(by.binary.output).toBe("ok \uFFFD\uFFFD \u2400 caf\uFFFD end");

      const peak = peakRssMiB(w.child.pid!);
      console.log(`worker VmHWM after 200 MB of output: ${peak.toFixed(1)} MiB`);
      expect(peak).toBeLessThan(250);
    } finally {
      w.child.kill("SIGTERM");
      await w.exited;
      await setConfigValue(db.pool, "output_limit_bytes", "262144");
    }
  });
});

describe("where commands start", () => {
  it("from a Perl command host, or from the worker itself where there is no perl on PATH", async () => {
    for (const [name, env] of [["hosted", {}], ["in-process", { PATH: "/nonexistent" }]] as const) {
      const worker = startWorkerProcess([], env);
      try {
        await enqueue(db.pool, [{ id: `parent-${name}`, command: "echo $PPID" }]);
        await waitFor(async () => (await jobState(db.pool, `parent-${name}`))?.state === "completed", { what: `the ${name} job` });
        const out = await db.pool.query("SELECT output FROM job_attempts WHERE job_id = $1", [`parent-${name}`]);
        const parent = Number(out.rows[0].output);
        if (name === "hosted") {
          expect(parent).not.toBe(worker.child.pid);
          expect(readFileSync(`/proc/${parent}/cmdline`, "utf8")).toMatch(/command-host\.pl/);
        } else {
          expect(parent).toBe(worker.child.pid);
          expect(worker.log()).toMatch(/"commands":"in the worker process \(no perl on PATH\)"/);
        }
      } finally {
        worker.child.kill("SIGTERM");
        await worker.exited;
      }
    }
  });
});

describe("a command host that dies", () => {
  it("SIGKILL of the process that started a command: its command is ended, the attempt fails, the retry runs on a new host", async () => {
    await setConfigValue(db.pool, "backoff_base", "1");
    const pidFile = join(dir, "host-victim.pid");
    const worker = startWorkerProcess();
    try {
      await enqueue(db.pool, [{ id: "hosted", max_retries: 2, command: `if [ "$QUEUECTL_ATTEMPT" = 1 ]; then echo $$ > ${pidFile}; sleep 30; fi; echo second` }]);
      await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, "utf8").trim() !== "", { what: "attempt 1 running" });
      const group = Number(readFileSync(pidFile, "utf8"));
      const hosts = readFileSync(`/proc/${worker.child.pid}/task/${worker.child.pid}/children`, "utf8").trim().split(/\s+/).map(Number);
      expect(hosts.length).toBe(1);
      process.kill(hosts[0]!, "SIGKILL");

      // The worker kills the dead host's command before failing the attempt, so the retry never runs beside it.
      await waitFor(() => !alive(-group), { timeoutMs: 5000, what: "the orphaned command to be killed" });
      await waitFor(async () => (await jobState(db.pool, "hosted"))?.state === "completed", { timeoutMs: 15_000, what: "the retry to complete" });
      const attempts = await db.pool.query("SELECT attempt, error, output FROM job_attempts WHERE job_id = 'hosted' ORDER BY attempt");
      expect(attempts.rows.map((r) => r.attempt)).toEqual([1, 2]);
      expect(attempts.rows[0].error).toMatch(/command host failed: killed by SIGKILL/);
      expect(attempts.rows[1].output).toBe("second\n");

      // A host that dies while idle is replaced when the next job comes.
      const [idleHost] = readFileSync(`/proc/${worker.child.pid}/task/${worker.child.pid}/children`, "utf8").trim().split(/\s+/).map(Number);
      process.kill(idleHost!, "SIGKILL");
      await new Promise((r) => setTimeout(r, 200));
      await enqueue(db.pool, [{ id: "after-idle-death", command: "echo fine" }]);
      await waitFor(async () => (await jobState(db.pool, "after-idle-death"))?.state === "completed", { timeoutMs: 10_000, what: "a job after the idle host died" });
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
  });
});
