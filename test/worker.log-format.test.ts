/**
 * A worker you can watch: `worker start --foreground --log-format pretty` prints one readable line per
 * job event (started with queue, priority and attempt n/max; completed with its duration; failed with
 * the retry delay; moved to the DLQ; cancelled); `--log-format json` keeps JSON lines with the same events.
 */
import { describe, expect, it } from "vitest";
import { queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, startWorkerProcess, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();

async function finished(ids: string[]): Promise<void> {
  await waitFor(
    async () => {
      const r = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND state IN ('completed', 'dead', 'cancelled')", [ids]);
      return r.rows[0]!.n === ids.length;
    },
    { what: `jobs ${ids.join(", ")} to finish`, timeoutMs: 30_000 },
  );
}

describe("worker log format", () => {
  it("pretty: one readable line per job event", async () => {
    await queuectl(["config", "set", "backoff_base", "1"]);
    const worker = startWorkerProcess(["--queue", "pretty", "--log-format", "pretty"]);
    try {
      await enqueue(db.pool, [
        { id: "jobB", command: "true", queue: "pretty", priority: 10, max_retries: 3 },
        { id: "jobC", command: "exit 3", queue: "pretty", max_retries: 1 },
      ]);
      await finished(["jobB", "jobC"]);
      await waitFor(() => worker.log().includes("dead       jobC"), { what: `the DLQ line; log: ${worker.log()}` });
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
    const lines = worker.log().split("\n");
    const time = "\\d\\d:\\d\\d:\\d\\d  ";
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^${time}worker started  worker=`)),
        expect.stringMatching(new RegExp(`^${time}started    jobB  pretty, priority 10, attempt 1/4$`)),
        expect.stringMatching(new RegExp(`^${time}completed  jobB  in \\d+\\.\\d\\ds$`)),
        expect.stringMatching(new RegExp(`^${time}started    jobC  pretty, priority 0, attempt 1/2$`)),
        expect.stringMatching(new RegExp(`^${time}failed     jobC  exit code 3; retry in [01]s$`)),
        expect.stringMatching(new RegExp(`^${time}started    jobC  pretty, priority 0, attempt 2/2$`)),
        expect.stringMatching(new RegExp(`^${time}dead       jobC  exit code 3; moved to the DLQ$`)),
      ]),
    );
    // Nothing of it is JSON.
    expect(lines.filter((l) => l.startsWith("{"))).toEqual([]);
  });

  it("json (the default off a terminal): the same events as JSON lines", async () => {
    const worker = startWorkerProcess(["--queue", "json"]);
    try {
      await enqueue(db.pool, [{ id: "jobJ", command: "true", queue: "json", priority: 5 }]);
      await finished(["jobJ"]);
      await waitFor(() => worker.log().includes('"msg":"job completed"'), { what: "the completed line" });
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
    const events = worker
      .log()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((o) => o.job === "jobJ");
    expect(events).toEqual([
      expect.objectContaining({ msg: "job started", queue: "json", priority: 5, attempt: 1, maxAttempts: 4 }),
      expect.objectContaining({ msg: "job completed", durationMs: expect.any(Number) }),
    ]);
  });

  it("refuses a format it does not know", async () => {
    const res = await queuectl(["worker", "start", "--foreground", "--log-format", "xml"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/option '--log-format <format>' argument 'xml' is invalid/);
  });
});
