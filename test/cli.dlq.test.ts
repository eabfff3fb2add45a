/**
 * `queuectl dlq list` and `dlq retry`: jobs die through the worker's own statements (claimJobs +
 * failJob on the last attempt), then come back pending with a fresh retry budget; wrong ids and jobs
 * that are not dead change nothing.
 */
import { describe, expect, it } from "vitest";

import { failJob } from "../src/queue/sql/outcomes.js";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, jobState } from "./helpers/workers.js";
import { claimJobs } from "./helpers/queue.js";

const db = useTestDatabase();

/** Enqueues a job with no retries and fails its only attempt: it lands in the DLQ. */
async function killJob(id: string, command = `./job-${id}.sh`): Promise<void> {
  const queue = `q-${id}`;
  await enqueue(db.pool, [{ id, command, queue, max_retries: 0 }]);
  const [claimed] = await claimJobs(db.pool, { workerId: "w1", queues: [queue], limit: 1, leaseMs: 30_000 });
  const res = await failJob(db.pool, {
    jobId: id, workerId: "w1", attempt: claimed!.attempt, exitCode: 7, output: "oops\n", durationMs: 5,
    error: "exit code 7", backoffBase: 2, backoffMaxS: 3600,
  });
  expect(res?.state).toBe("dead");
}

async function snapshot() {
  const jobs = await db.pool.query("SELECT id, state, attempts, updated_at FROM jobs ORDER BY id");
  const dl = await db.pool.query("SELECT id, job_id, retried_at FROM dead_letters ORDER BY id");
  return { jobs: jobs.rows, deadLetters: dl.rows };
}

interface DlqEntry {
  job_id: string;
  queue: string;
  command: string;
  attempts: number;
  last_error: string | null;
  failed_at: string;
}

describe("dlq", () => {
  it("lists nothing while the DLQ is empty", async () => {
    expect(await queuectlJson(["dlq", "list"])).toEqual([]);
    expect(await queuectl(["dlq", "list"])).toMatchObject({ code: 0, stdout: "(the DLQ is empty)" });
  });

  it("lists dead jobs newest first", async () => {
    await killJob("d1");
    await killJob("d2", "curl https://example.invalid/hook");
    const entries = await queuectlJson<DlqEntry[]>(["dlq", "list"]);
    expect(entries.map((e) => e.job_id)).toEqual(["d2", "d1"]);
    expect(entries[0]).toEqual({
      job_id: "d2", queue: "q-d2", command: "curl https://example.invalid/hook", attempts: 1, last_error: "exit code 7", failed_at: expect.any(String),
    });
    expect(new Date(entries[0]!.failed_at).toISOString()).toBe(entries[0]!.failed_at);

    const human = await queuectl(["dlq", "list"]);
    expect(human.stdout).toMatch(/^job id\s+queue\s+attempts\s+died\s+last error\s+command/);
    expect(human.stdout).toMatch(/^d2\s+q-d2\s+1\s+.*exit code 7\s+curl https:\/\/example.invalid\/hook/m);
  });

  it("retries one dead job: pending, attempts 0, out of the DLQ", async () => {
    const res = await queuectl(["dlq", "retry", "d1"]);
    expect(res).toMatchObject({ code: 0, stdout: "job 'd1' is pending again (attempts reset to 0)" });
    expect(await jobState(db.pool, "d1")).toMatchObject({ state: "pending", attempts: 0 });
    expect((await queuectlJson<DlqEntry[]>(["dlq", "list"])).map((e) => e.job_id)).toEqual(["d2"]);
    // The retried job runs again like a new one.
    const [claimed] = await claimJobs(db.pool, { workerId: "w2", queues: ["q-d1"], limit: 1, leaseMs: 30_000 });
    expect(claimed).toMatchObject({ id: "d1", attempts: 1 });
  });

  it("refuses ids that do not exist (exit 3) or are not dead (exit 2), changing nothing", async () => {
    const before = await snapshot();
    const cases: Array<[string[], number, string]> = [
      [["dlq", "retry", "ghost"], 3, "queuectl: no job 'ghost'"],
      [["dlq", "retry", "d2", "ghost"], 3, "queuectl: no job 'ghost'"],
      [["dlq", "retry", "d1"], 2, "queuectl: job 'd1' is not in the DLQ (it is processing)"],
      [["dlq", "retry", "d2", "d1"], 2, "queuectl: job 'd1' is not in the DLQ (it is processing)"],
      [["dlq", "retry"], 2, "queuectl: name the dead jobs to retry, or use --all (see: queuectl dlq list)"],
      [["dlq", "retry", "d2", "--all"], 2, "queuectl: give job ids or --all, not both"],
    ];
    const results = await Promise.all(cases.map(([args]) => queuectl(args)));
    results.forEach((res, i) => expect(res, cases[i]![0].join(" ")).toEqual({ code: cases[i]![1], stdout: "", stderr: cases[i]![2] }));
    expect(await snapshot()).toEqual(before);
  });

  it("retries every dead job with --all and says how many", async () => {
    await killJob("d3");
    const res = await queuectl(["dlq", "retry", "--all"]);
    expect(res).toMatchObject({ code: 0, stdout: "retried 2 dead jobs: pending again with attempts reset" });
    for (const id of ["d2", "d3"]) expect(await jobState(db.pool, id)).toMatchObject({ state: "pending", attempts: 0 });
    expect(await queuectlJson(["dlq", "list"])).toEqual([]);
    const open = await db.pool.query("SELECT count(*)::int AS n FROM dead_letters WHERE retried_at IS NULL");
    expect(open.rows[0].n).toBe(0);

    expect(await queuectl(["dlq", "retry", "--all"])).toMatchObject({ code: 0, stdout: "the DLQ is empty: nothing to retry" });
    expect(await queuectlJson(["dlq", "retry", "--all"])).toEqual({ retried: [] });
  });
});
