/**
 * Pipelines with real worker processes and the CLI: a chain A -> B -> C runs in order, a dead A
 * cancels B and C (and `show` says why), and `enqueue --after` refuses a job that does not exist.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { jobState, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-deps-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ShowJson {
  state: string;
  last_error: string | null;
  deps_pending: number;
  depends_on: Array<{ id: string; state: string }>;
  upstream: Array<{ id: string; state: string; depth: number }>;
  downstream: Array<{ id: string; state: string; depth: number }>;
}

describe("dependencies with workers", () => {
  it("a chain A -> B -> C runs in order, each after the previous one completed", async () => {
    const out = join(dir, "order.txt");
    // Enqueued while no worker runs; B and C wait even though they are first in priority.
    for (const [id, after] of [["A", null], ["B", "A"], ["C", "B"]] as const) {
      const args = ["enqueue", "--id", id, "--command", `sleep 0.2; echo ${id} >> ${out}`, "--queue", "chain", "--priority", id === "A" ? "0" : "10"];
      const res = await queuectl(after ? [...args, "--after", after] : args);
      expect(res).toMatchObject({ code: 0, stdout: id });
    }
    const c = await queuectlJson<ShowJson>(["show", "C"]);
    expect(c).toMatchObject({ state: "pending", deps_pending: 1, depends_on: [{ id: "B", state: "pending" }] });
    expect(c.upstream.map((l) => [l.id, l.depth])).toEqual([["B", 1], ["A", 2]]);
    const shown = await queuectl(["show", "C"]);
    expect(shown.stdout).toMatch(/^state\s+pending \(waiting for 1 dependency: B\)$/m);
    expect(shown.stdout).toMatch(/^runs after\s+B \(pending\)\s+sleep 0\.2.*\n\s+A \(pending\)/m);

    const workers = [startWorkerProcess(["--concurrency", "4"]), startWorkerProcess(["--concurrency", "4"])];
    await waitFor(async () => (await jobState(db.pool, "C"))?.state === "completed", { timeoutMs: 30_000, what: "C completed" });
    expect(readFileSync(out, "utf8")).toBe("A\nB\nC\n");
    const times = (await db.pool.query("SELECT id, started_at, finished_at FROM jobs WHERE queue = 'chain' ORDER BY id")).rows;
    expect(times[1].started_at.getTime()).toBeGreaterThanOrEqual(times[0].finished_at.getTime());
    expect(times[2].started_at.getTime()).toBeGreaterThanOrEqual(times[1].finished_at.getTime());
    const a = await queuectlJson<ShowJson>(["show", "A"]);
    expect(a.downstream).toEqual([{ id: "B", state: "completed", depth: 1, command: expect.any(String) }, { id: "C", state: "completed", depth: 2, command: expect.any(String) }]);
    for (const w of workers) w.child.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
  });

  it("A dead cancels B and C; show names the dependency that failed", async () => {
    expect((await queuectl(["enqueue", "--id", "fa", "--command", "exit 3", "--queue", "doomed", "--max-retries", "0"])).code).toBe(0);
    expect((await queuectl(["enqueue", "--id", "fb", "--command", "echo never", "--queue", "doomed", "--after", "fa"])).code).toBe(0);
    expect((await queuectl(["enqueue", "--id", "fc", "--command", "echo never", "--queue", "doomed", "--after", "fb"])).code).toBe(0);
    const worker = startWorkerProcess();
    await waitFor(async () => (await jobState(db.pool, "fc"))?.state === "cancelled", { timeoutMs: 30_000, what: "fc cancelled" });
    worker.child.kill("SIGTERM");
    await worker.exited;
    expect(await jobState(db.pool, "fa")).toMatchObject({ state: "dead", attempts: 1 });
    expect(await jobState(db.pool, "fb")).toMatchObject({ state: "cancelled", attempts: 0, last_error: "cancelled: dependency fa ended dead" });
    expect(await queuectlJson<ShowJson>(["show", "fc"])).toMatchObject({ state: "cancelled", last_error: "cancelled: dependency fb ended cancelled", depends_on: [{ id: "fb", state: "cancelled" }] });
    expect((await queuectl(["show", "fb"])).stdout).toMatch(/^state\s+cancelled \(dependency fa ended dead\)$/m);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM job_attempts WHERE job_id IN ('fb', 'fc')")).rows[0].n).toBe(0);
  });

  it("enqueue --after a job that does not exist exits 3; after a dead one exits 2; nothing is inserted", async () => {
    const before = (await db.pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n;
    expect(await queuectl(["enqueue", "--command", "true", "--after", "fa", "--after", "ghost"])).toEqual({ code: 3, stdout: "", stderr: "queuectl: no job 'ghost' to depend on" });
    expect(await queuectl(["enqueue", "--command", "true", "--after", "fa"])).toEqual({ code: 2, stdout: "", stderr: "queuectl: job 'fa' is dead: a job after it would never run" });
    expect(await queuectl(["enqueue", "--command", "true", "--after", "not an id"])).toMatchObject({ code: 2, stdout: "" });
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n).toBe(before);
  });
});
