/**
 * Every retry delay is finite and capped for every configuration `config set` accepts, and one row
 * that cannot be written never holds up a statement that serves all rows: the rescuer goes on
 * rescuing the others, and a worker whose outcome cannot be recorded says what failed (not "database
 * unavailable") and takes no new job while it still holds that one.
 */
import { afterEach, describe, expect, it } from "vitest";
import { CONFIG_KEYS, setConfigValue } from "../src/queue/config.js";
import { failJob } from "../src/queue/sql/outcomes.js";
import { rescueExpiredJobs } from "../src/queue/sql/leases.js";
import { RescuerService } from "../src/worker/rescuer-service.js";
import { loadConfig } from "../src/queue/config.js";
import { useTestDatabase } from "./helpers/db.js";
import { claimJobs } from "./helpers/queue.js";
import { enqueue, jobState, memoryLogger, startInProcessWorker, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();

afterEach(async () => {
  await db.pool.query("DROP TRIGGER IF EXISTS refuse_for_test ON jobs; DROP FUNCTION IF EXISTS refuse_for_test()");
  await db.pool.query("TRUNCATE jobs, job_attempts, dead_letters, workers, config CASCADE");
});

/** A job claimed by worker `w` whose counted attempts are `attempts` (as after that many failures). */
async function claimedAfter(id: string, attempts: number): Promise<number> {
  await enqueue(db.pool, [{ id, command: "exit 1", max_retries: 1000, queue: `q-${id}` }]);
  await db.pool.query("UPDATE jobs SET attempts = $2, last_attempt = $2 WHERE id = $1", [id, attempts - 1]);
  const [job] = await claimJobs(db.pool, { workerId: "w", queues: [`q-${id}`], limit: 1, leaseMs: 60_000 });
  expect(job).toMatchObject({ id, attempts });
  return job!.attempt;
}

async function delaySeconds(id: string): Promise<number> {
  const res = await db.pool.query<{ s: number }>("SELECT extract(epoch FROM run_at - now())::float8 AS s FROM jobs WHERE id = $1", [id]);
  return res.rows[0]!.s;
}

describe("retry delays", () => {
  it("backoff_base 100 with backoff_max_s 0 retries at once, even after the 200th attempt (power(100, 155) overflowed)", async () => {
    const attempt = await claimedAfter("huge", 200);
    const failed = await failJob(db.pool, { jobId: "huge", workerId: "w", attempt, exitCode: 1, output: "", durationMs: 1, error: "exit code 1", backoffBase: 100, backoffMaxS: 0 });
    expect(failed).toMatchObject({ state: "failed" });
    expect(await delaySeconds("huge")).toBeLessThan(1);
  });

  it("every accepted base, cap, jitter and attempt count gives a finite delay within the cap", async () => {
    const bases = [CONFIG_KEYS.backoff_base.rule.min, 1.0001, 2, 7.5, CONFIG_KEYS.backoff_base.rule.max];
    const caps = [0, 1, 3600, CONFIG_KEYS.backoff_max_s.rule.max];
    const attempts = [1, 2, 155, 1000];
    let n = 0;
    for (const base of bases)
      for (const cap of caps)
        for (const count of attempts) {
          const id = `d-${n++}`;
          const attempt = await claimedAfter(id, count);
          const jitter = n % 2 === 0 ? 0 : 1;
          await failJob(db.pool, { jobId: id, workerId: "w", attempt, exitCode: 1, output: "", durationMs: 1, error: "exit code 1", backoffBase: base, backoffMaxS: cap, backoffJitter: jitter });
          const s = await delaySeconds(id);
          expect(Number.isFinite(s)).toBe(true);
          expect(s).toBeLessThanOrEqual(cap + 1);
          if (jitter === 0) expect(s).toBeGreaterThanOrEqual(Math.min(cap, base ** Math.min(count, 50)) - 1);
        }
  });
});

describe("one bad row", () => {
  it("the rescuer rescues every expired job, the one whose delay overflowed before included", async () => {
    await claimedAfter("overflowing", 200);
    await enqueue(db.pool, [{ id: "ordinary", command: "true", max_retries: 3 }]);
    await claimJobs(db.pool, { workerId: "w", queues: [], limit: 1, leaseMs: 60_000 });
    await db.pool.query("UPDATE jobs SET lease_expires_at = now() - interval '1 second'");
    const rescued = await rescueExpiredJobs(db.pool, { backoffBase: 100, backoffMaxS: 0, limit: 100 });
    expect(rescued.map((r) => [r.id, r.state]).sort()).toEqual([["ordinary", "failed"], ["overflowing", "failed"]]);
  });

  it("a row that cannot be written is logged and skipped; the rescuer takes the others", async () => {
    for (const id of ["r1", "r2", "r3"]) await enqueue(db.pool, [{ id, command: "true" }]);
    await claimJobs(db.pool, { workerId: "w", queues: [], limit: 3, leaseMs: 60_000 });
    await db.pool.query("UPDATE jobs SET lease_expires_at = now() - interval '1 second'");
    await db.pool.query(`
      CREATE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id = 'r2' AND NEW.state <> 'processing' THEN RAISE EXCEPTION 'r2 refused for the test'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER refuse_for_test BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION refuse_for_test();`);
    const { log, lines } = await memoryLogger();
    const config = await loadConfig(db.pool);
    const rescuer = new RescuerService({ pool: db.pool, log, config: () => config });
    expect(await rescuer.runOnce()).toBe(2);
    expect(await jobState(db.pool, "r1")).toMatchObject({ state: "failed" });
    expect(await jobState(db.pool, "r2")).toMatchObject({ state: "processing" });
    expect(await jobState(db.pool, "r3")).toMatchObject({ state: "failed" });
    expect(lines().some((l) => l.job === "r2" && /could not rescue this job/.test(l.msg) && /r2 refused for the test/.test(String(l.err)))).toBe(true);
  });

  it("a worker whose outcome cannot be recorded says why, and takes no new job while it holds that one", async () => {
    await setConfigValue(db.pool, "lease_ms", "1500");
    await setConfigValue(db.pool, "backoff_base", "1");
    await db.pool.query(`
      CREATE FUNCTION refuse_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.id = 'bad' AND NEW.state <> 'processing' THEN RAISE EXCEPTION 'bad refused for the test'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER refuse_for_test BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION refuse_for_test();`);
    const { log, lines } = await memoryLogger();
    const worker = await startInProcessWorker(db, { concurrency: 1, claimAhead: 0 }, log);
    try {
      await enqueue(db.pool, [{ id: "bad", command: "exit 1", priority: 10, max_retries: 0 }, { id: "next", command: "true" }]);
      await waitFor(() => lines().some((l) => /could not record an outcome/.test(l.msg)), { what: "the failed recording to be logged" });
      // The one slot is still taken by the job it could not record: nothing else starts.
      await new Promise((r) => setTimeout(r, 700));
      expect(await jobState(db.pool, "next")).toMatchObject({ state: "pending" });
      expect(lines().some((l) => /database unavailable/.test(l.msg))).toBe(false);
      // Once the row can be written, the rescuer takes it after its lease, and the slot is free again.
      await db.pool.query("DROP TRIGGER refuse_for_test ON jobs");
      await waitFor(async () => (await jobState(db.pool, "bad"))?.state === "dead", { timeoutMs: 10_000, what: "the rescuer to take the job" });
      await waitFor(async () => (await jobState(db.pool, "next"))?.state === "completed", { timeoutMs: 10_000, what: "the next job to run" });
    } finally {
      worker.requestStop("test over");
      await worker.finished();
    }
  });
});
