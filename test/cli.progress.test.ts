/**
 * Progress bars: bulk enqueue, `wait` and `run` draw one on a terminal (run under script(1) for a pty)
 * and erase it at the end; through a pipe they print nothing extra. `wait` and `run` on one job that
 * reports progress ($QUEUECTL_PROGRESS) show its percentage and message.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { setConfigValue } from "../src/queue/config.js";
import { CLI, queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, startWorkerProcess } from "./helpers/workers.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-progress-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("progress bar", () => {
  it("bulk enqueue shows batches done on a TTY, and nothing through a pipe", async () => {
    const file = join(dir, "jobs.jsonl");
    writeFileSync(file, Array.from({ length: 12_000 }, (_, i) => JSON.stringify({ id: `pb-${i}`, command: "true", queue: "pb" })).join("\n"));
    const tty = await execa("script", ["-qec", `${process.execPath} ${CLI} enqueue --file ${file} > /dev/null`, "/dev/null"], { env: { ...process.env } });
    expect(tty.stdout).toContain("enqueueing [");
    expect(tty.stdout).toContain("12000/12000 jobs");
    expect(tty.stdout.endsWith("\r\u001b[K")).toBe(true);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE queue = 'pb'")).rows[0].n).toBe(12_000);

    writeFileSync(file, Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: `pp-${i}`, command: "true" })).join("\n"));
    const piped = await queuectl(["enqueue", "--file", file]);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe("");
  });

  it("wait on one job draws the percentage and message its command reported", async () => {
    await enqueue(db.pool, [{ id: "copier", command: "true" }]);
    await db.pool.query(
      `UPDATE jobs SET state = 'processing', worker_id = 'w', lease_expires_at = now() + interval '1 hour',
              progress_pct = 40, progress_message = 'copying table 3/7', progress_at = now() WHERE id = 'copier'`,
    );
    const tty = await execa("script", ["-qec", `${process.execPath} ${CLI} wait copier --timeout 0.5`, "/dev/null"], { env: { ...process.env }, reject: false });
    expect(tty.stdout).toMatch(/waiting \[#{12}-{18}\] 40% copying table 3\/7/);
    expect(tty.stdout).toContain("timed out waiting for copier (processing)");
  });

  it("run streams the output with the job's progress bar below it, and the bar is gone at the end", async () => {
    // A beat every 300 ms: the report reaches the database within one.
    await setConfigValue(db.pool, "lease_ms", "900");
    // A queue of its own: the jobs the tests above enqueued are not for this worker.
    const worker = startWorkerProcess(["--queue", "runbar"]);
    try {
      const command = `echo first line; echo "50 halfway" > "$QUEUECTL_PROGRESS"; sleep 2.5; echo last line`;
      const tty = await execa("script", ["-qec", `${process.execPath} ${CLI} run --queue runbar -- '${command}'`, "/dev/null"], { env: { ...process.env }, reject: false, timeout: 30_000 });
      expect(tty.exitCode, `${tty.stdout}\n${worker.log()}`).toBe(0);
      const out = tty.stdout;
      expect(out).toMatch(/job \S+ \[#{15}-{15}\] 50% halfway/);
      expect(out).toContain("first line");
      // The report is stored at a heartbeat and read within a second: well before the command's 2.5 s end.
      expect(out.indexOf("50% halfway")).toBeLessThan(out.indexOf("last line"));
      expect(out.trimEnd().endsWith("last line")).toBe(true);
    } finally {
      worker.child.kill("SIGTERM");
      await worker.exited;
    }
  });
});
