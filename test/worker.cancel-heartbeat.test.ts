/**
 * Cancel and kill do not depend on the NOTIFY arriving: with the row changed and no notification
 * sent, the worker's heartbeat finds the cancel request and ends the command (the job then ends
 * cancelled), and delivers a signal left on the row.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, jobState, startInProcessWorker, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-hb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("cancel and kill through the heartbeat alone", () => {
  it("a job cancelled without a NOTIFY has its command ended at the next heartbeat; a signal left on the row is delivered", async () => {
    // lease_ms 1500: a heartbeat every 500 ms.
    await db.pool.query("INSERT INTO config (key, value) VALUES ('lease_ms', '1500')");
    const worker = await startInProcessWorker(db, { concurrency: 2 });
    const events: string[] = [];
    worker.on("job:fail", (e) => events.push(`${e.id}: ${e.state}`));
    try {
      const pidFile = join(dir, "pid");
      const ready = join(dir, "ready");
      const got = join(dir, "got");
      await enqueue(db.pool, [
        { id: "hb-cancel", command: `echo $$ > ${pidFile}; exec sleep 60` },
        { id: "hb-kill", command: `trap 'echo hup > ${got}; exit 0' HUP; touch ${ready}; while :; do sleep 0.05; done` },
      ]);
      await waitFor(() => existsSync(pidFile) && existsSync(ready) && readFileSync(pidFile, "utf8").trim() !== "", { what: "both commands to start" });
      const pid = Number(readFileSync(pidFile, "utf8"));

      // What cancelJob and requestJobSignal write, without their NOTIFY.
      const t0 = Date.now();
      await db.pool.query("UPDATE jobs SET cancel_requested_at = now() WHERE id = 'hb-cancel'");
      await db.pool.query("UPDATE jobs SET signal_requested = 'SIGHUP' WHERE id = 'hb-kill'");
      await waitFor(() => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }, { timeoutMs: 5000, everyMs: 20, what: "the cancelled command to end" });
      const cancelMs = Date.now() - t0;
      await waitFor(async () => (await jobState(db.pool, "hb-kill"))?.state === "completed", { timeoutMs: 5000, what: "hb-kill to exit on SIGHUP" });
      const killMs = Date.now() - t0;
      console.log(`heartbeat fallback (lease_ms 1500): cancel ended the command after ${cancelMs} ms, SIGHUP delivered and handled within ${killMs} ms`);
      expect(cancelMs).toBeLessThan(2500);
      expect(readFileSync(got, "utf8")).toBe("hup\n");
      await waitFor(() => events.includes("hb-cancel: cancelled"), { what: "the attempt to end cancelled" });
      expect(await jobState(db.pool, "hb-cancel")).toMatchObject({ state: "cancelled", attempts: 1, last_error: "cancelled by an operator" });
    } finally {
      worker.requestStop("test over");
      await worker.finished();
    }
  });
});
