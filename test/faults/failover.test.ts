/**
 * Failover mid-run: workers run jobs through PgBouncer (transaction mode) in front of a primary with a
 * synchronous streaming standby; the primary is stopped hard, PgBouncer re-pointed at the standby
 * (still read-only for a moment), and the standby promoted. Every job ends completed, none twice at once, every run recorded; the CLI fails
 * with one clear line while there is no primary and works after.
 *
 * Each job's command is the randomized checker's recorder (helpers/chaos/recorder.pl): it appends its
 * start and end to a history file, and notices an earlier run of the same job still alive.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkAttemptNumbers, checkNoOverlap } from "../helpers/chaos/checker.js";
import { RECORDER } from "../helpers/chaos/driver.js";
import { History } from "../helpers/chaos/history.js";
import { queuectl } from "../helpers/cli.js";
import { startPgBouncer, type Bouncer } from "../helpers/pgbouncer.js";
import { startReplicaPair, type ReplicaPair } from "../helpers/replica-pair.js";
import { startWorkerProcess, waitFor, type WorkerProcess } from "../helpers/workers.js";

const JOBS = 300;
let pair: ReplicaPair;
let bouncer: Bouncer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "queuectl-failover-"));
  pair = await startReplicaPair();
  bouncer = await startPgBouncer({ server: pair.url(pair.primaryPort), poolSize: 8 });
});

afterAll(async () => {
  await bouncer?.stop();
  pair?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

describe("failover to a promoted standby", () => {
  it("loses no job, runs none twice at once, and the CLI says what is wrong meanwhile", async () => {
    const url = bouncer.via(pair.url(pair.primaryPort));
    const env = { DATABASE_URL: url };
    writeFileSync(join(dir, "history"), "");
    const lines = Array.from({ length: JOBS }, (_, i) => JSON.stringify({ id: `fo-${i}`, command: `perl ${RECORDER} ${dir}/history plain 40 0` })).join("\n");
    expect((await queuectl(["enqueue", "--file", "-"], { env, input: lines })).code).toBe(0);

    const workers: WorkerProcess[] = Array.from({ length: 3 }, () =>
      startWorkerProcess(["--concurrency", "4", "--poll-interval", "200", "--log-format", "json"], { ...env, QUEUECTL_LOG_LEVEL: "info" }),
    );
    // Read the standby after the switch; before it, the primary (both through their own address).
    const completed = async (port: number) => {
      const c = new pg.Client({ connectionString: pair.url(port) });
      await c.connect();
      try {
        return (await c.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE state = 'completed'")).rows[0]!.n;
      } finally {
        await c.end();
      }
    };
    try {
      await waitFor(async () => (await completed(pair.primaryPort)) >= JOBS / 3, { timeoutMs: 60_000, what: "a third of the jobs completed" });

      pair.crashPrimary();
      const during = await queuectl(["status"], { env });
      expect(during.code).toBe(1);
      expect(during.stdout).toBe("");
      expect(during.stderr.split("\n")).toHaveLength(1);
      expect(during.stderr).toMatch(/^queuectl: database unavailable: /);

      // The address follows before the promotion is done, as it may in a real switch: for a while
      // every write meets a server that only reads (SQLSTATE 25006), an outage and not a job failure.
      await bouncer.repoint(pair.standbyPort);
      // Until PgBouncer has dropped its dead server connections the line names the lost connection.
      const readOnly = await waitFor(
        async () => {
          const res = await queuectl(["enqueue", "--command", "true"], { env });
          expect(res.code).toBe(1);
          expect(res.stderr.split("\n")).toHaveLength(1);
          expect(res.stderr).toMatch(/^queuectl: database unavailable: /);
          return /read-only transaction/.test(res.stderr) ? res : undefined;
        },
        { timeoutMs: 15_000, what: "enqueue refused by the read-only standby" },
      );
      expect(readOnly?.stderr).toMatch(/^queuectl: database unavailable: cannot execute \w+ in a read-only transaction$/);
      await new Promise((r) => setTimeout(r, 1500));

      await pair.promoteStandby();
      await waitFor(async () => (await queuectl(["status", "--json"], { env })).code === 0, { timeoutMs: 30_000, what: "the CLI through the promoted standby" });

      await waitFor(async () => (await completed(pair.standbyPort)) === JOBS, { timeoutMs: 120_000, what: "every job completed on the new primary" });
    } finally {
      for (const w of workers) w.child.kill("SIGTERM");
      // A failed run must not wait for workers still riding out an outage that will not end.
      const killLater = setTimeout(() => workers.forEach((w) => w.child.kill("SIGKILL")), 20_000);
      await Promise.all(workers.map((w) => w.exited));
      clearTimeout(killLater);
    }

    const history = new History(join(dir, "history"));
    history.poll();
    expect(checkNoOverlap(history)).toEqual([]);
    expect(checkAttemptNumbers(history)).toEqual([]);
    // Every run the commands recorded is an attempt in the table, and every job ran.
    const db = new pg.Client({ connectionString: pair.url(pair.standbyPort) });
    await db.connect();
    try {
      const attempts = await db.query<{ job_id: string; attempt: number; finished: boolean }>("SELECT job_id, attempt, finished_at IS NOT NULL AS finished FROM job_attempts");
      const recorded = new Set(attempts.rows.map((a) => `${a.job_id}#${a.attempt}`));
      expect(history.runs.filter((r) => !recorded.has(`${r.job}#${r.attempt}`)).map((r) => `${r.job}#${r.attempt}`)).toEqual([]);
      expect(new Set(history.runs.map((r) => r.job)).size).toBe(JOBS);
      expect(attempts.rows.every((a) => a.finished)).toBe(true);
      const states = await db.query<{ state: string; n: number }>("SELECT state::text, count(*)::int AS n FROM jobs GROUP BY state");
      expect(states.rows).toEqual([{ state: "completed", n: JOBS }]);
      const reruns = attempts.rows.length - JOBS;
      console.log(`failover: ${JOBS} jobs, ${attempts.rows.length} attempts (${reruns} re-run after the switch), ${history.runs.length} runs recorded`);
    } finally {
      await db.end();
    }
    // The workers rode it out as an outage: they logged it, and no job failed for it.
    for (const w of workers) expect(w.log()).not.toMatch(/"msg":"job failed"/);
    const logs = workers.map((w) => w.log()).join("\n");
    const readOnlyLines = logs.split("\n").filter((l) => l.includes("read-only transaction")).length;
    console.log(`failover: workers logged ${logs.split("\n").filter((l) => l.includes('"level":40')).length} warnings, ${readOnlyLines} of them a write refused by the read-only standby`);
  });
});
