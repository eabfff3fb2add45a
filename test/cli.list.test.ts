/** `queuectl list`: newest first, filters, paging, the JSON job shape, and bad arguments. */
import { describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue } from "./helpers/workers.js";

const db = useTestDatabase();

const JOB_KEYS = [
  "id", "queue", "command", "state", "priority", "attempts", "last_attempt", "max_retries", "timeout_ms", "run_at",
  "created_at", "updated_at", "started_at", "finished_at", "worker_id", "exit_code", "last_error", "duration_ms", "deps_pending", "cwd", "env",
  "progress_pct", "progress_message", "progress_at",
];

type JobJson = Record<string, unknown> & { id: string };

describe("list", () => {
  it("says there are no jobs on an empty queue", async () => {
    expect(await queuectlJson(["list"])).toEqual([]);
    const res = await queuectl(["list"]);
    expect(res).toMatchObject({ code: 0, stdout: "(no jobs)" });
  });

  it("lists newest first: by creation time, then enqueue order within one batch", async () => {
    await enqueue(db.pool, [{ id: "old", command: "echo old", queue: "a" }]);
    await db.pool.query("UPDATE jobs SET created_at = now() - interval '1 hour'");
    await enqueue(db.pool, [
      { id: "b1", command: "echo b1", queue: "b", priority: 3 },
      { id: "b2", command: "echo b2", queue: "b" },
      { id: "b3", command: "echo b3", queue: "a" },
    ]);
    const jobs = await queuectlJson<JobJson[]>(["list"]);
    expect(jobs.map((j) => j.id)).toEqual(["b3", "b2", "b1", "old"]);
    expect(Object.keys(jobs[0]!)).toEqual(JOB_KEYS);
    expect(jobs[2]).toMatchObject({ id: "b1", queue: "b", command: "echo b1", state: "pending", priority: 3, attempts: 0, max_retries: 3, timeout_ms: null, worker_id: null });
    expect(new Date(jobs[2]!.created_at as string).toISOString()).toBe(jobs[2]!.created_at);
  });

  it("filters by state and queue, and pages with --limit and --offset", async () => {
    await db.pool.query("UPDATE jobs SET state = 'failed', attempts = 1 WHERE id = 'b2'");
    expect((await queuectlJson<JobJson[]>(["list", "--state", "failed"])).map((j) => j.id)).toEqual(["b2"]);
    expect((await queuectlJson<JobJson[]>(["list", "--queue", "a"])).map((j) => j.id)).toEqual(["b3", "old"]);
    expect((await queuectlJson<JobJson[]>(["list", "--queue", "b", "--state", "pending"])).map((j) => j.id)).toEqual(["b1"]);
    expect((await queuectlJson<JobJson[]>(["list", "--limit", "2", "--offset", "1"])).map((j) => j.id)).toEqual(["b2", "b1"]);
    expect(await queuectlJson(["list", "--offset", "10"])).toEqual([]);
  });

  it("prints a table with attempts out of the allowed total, and how to see more", async () => {
    const res = await queuectl(["list", "--limit", "2"]);
    expect(res.code).toBe(0);
    const [head, first, second, more] = res.stdout.split("\n");
    expect(head).toMatch(/^id\s+queue\s+state\s+progress\s+prio\s+attempts\s+command\s+created\s+updated/);
    expect(first).toMatch(/^b3\s+a\s+pending\s+-\s+0\s+0\/4\s+echo b3\s/);
    expect(second).toMatch(/^b2\s+b\s+failed\s+-\s+0\s+1\/4\s+echo b2\s/);
    expect(more).toBe("(more: queuectl list --offset 2 --limit 2)");
  });

  it("limits to 20 by default", async () => {
    await enqueue(db.pool, Array.from({ length: 25 }, (_, i) => ({ command: `echo ${i}` })));
    expect(await queuectlJson<JobJson[]>(["list"])).toHaveLength(20);
  });

  it("--sort run-order lists in the order workers take jobs: priority, then run_at, then enqueue order", async () => {
    await db.pool.query("TRUNCATE jobs CASCADE");
    await enqueue(db.pool, [
      { id: "low", command: "echo low", priority: 0 },
      { id: "high-later", command: "echo hl", priority: 5, run_at: new Date(Date.now() + 60_000).toISOString() },
      { id: "high", command: "echo h", priority: 5 },
      { id: "low-2", command: "echo low2", priority: 0 },
    ]);
    expect((await queuectlJson<JobJson[]>(["list", "--sort", "run-order"])).map((j) => j.id)).toEqual(["high", "high-later", "low", "low-2"]);
    expect((await queuectlJson<JobJson[]>(["list"])).map((j) => j.id)).toEqual(["low-2", "high", "high-later", "low"]);
    const res = await queuectl(["list", "--sort", "run-order", "--limit", "1"]);
    expect(res.stdout.split("\n").at(-1)).toBe("(more: queuectl list --offset 1 --limit 1 --sort run-order)");
  });

  it("rejects an unknown state and a bad limit or offset with exit 2", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["list", "--state", "done"], /unknown state 'done' \(one of: pending, processing, completed, failed, dead, cancelled\)/],
      [["list", "--limit", "0"], /--limit must be between 1 and 10000/],
      [["list", "--limit", "-3"], /--limit must be a whole number/],
      [["list", "--limit", "ten"], /--limit must be a whole number/],
      [["list", "--offset", "1.5"], /--offset must be a whole number/],
      [["list", "--sort", "age"], /--sort must be one of created, run-order \(got 'age'\)/],
    ];
    const results = await Promise.all(cases.map(([args]) => queuectl(args)));
    results.forEach((res, i) => {
      expect(res.code, res.stderr).toBe(2);
      expect(res.stdout).toBe("");
      expect(res.stderr.trim()).toMatch(cases[i]![1]);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
    });
  });
});
