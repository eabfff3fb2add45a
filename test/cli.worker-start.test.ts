/**
 * `worker start` options as a user types them: bad values are refused with exit 2 and one line, and
 * start nothing; --claim-ahead reaches the workers it starts, in the foreground and in the background.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { alive, countByState, enqueue, waitFor } from "./helpers/workers.js";

const db = useTestDatabase();

describe("worker start", () => {
  it("refuses bad option values with exit 2 and one line, and starts nothing", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["--concurrency", "0"], /--concurrency must be a whole number from 1 to 256/],
      [["--concurrency", "1.5"], /--concurrency must be a whole number from 1 to 256/],
      [["--count", "many"], /--count must be a whole number from 1 to 64/],
      [["--stop-timeout", "-1"], /must be seconds from 0 to 86400/],
      [["--claim-ahead", "-1"], /--claim-ahead must be a whole number from 0 to 64/],
      [["--claim-ahead", "65"], /--claim-ahead must be a whole number from 0 to 64/],
      [["--claim-ahead", "2x"], /--claim-ahead must be a whole number from 0 to 64/],
      [["--queue", "no spaces"], /'no spaces' is not a queue name/],
      [["--foreground", "--count", "2"], /--foreground runs one worker/],
    ];
    const results = await Promise.all(cases.map(([args]) => queuectl(["worker", "start", ...args], { timeoutMs: 20_000 })));
    results.forEach((res, i) => {
      expect(res.code, `${cases[i]![0].join(" ")}: ${res.stderr}`).toBe(2);
      expect(res.stdout).toBe("");
      expect(res.stderr.trim()).toMatch(cases[i]![1]);
      expect(res.stderr.trim().split("\n")).toHaveLength(1);
    });
    const workers = await db.pool.query("SELECT count(*)::int AS n FROM workers");
    expect(workers.rows[0].n).toBe(0);
  });

  it("--claim-ahead 0 runs jobs in the foreground; a background start passes it on to its processes", async () => {
    await enqueue(db.pool, Array.from({ length: 20 }, (_, i) => ({ command: `true ${i}` })));
    const fg = await queuectl(["worker", "start", "--foreground", "--exit-when-idle", "--concurrency", "2", "--claim-ahead", "0"], { timeoutMs: 20_000 });
    expect(fg.code, fg.stderr).toBe(0);
    expect(await countByState(db.pool)).toEqual({ completed: 20 });

    const started = await queuectlJson<Array<{ pid: number; log: string }>>(["worker", "start", "--claim-ahead", "3"]);
    expect(started).toHaveLength(1);
    const pid = started[0]!.pid;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      expect(cmdline.join(" ")).toContain("--claim-ahead 3");
    } finally {
      expect((await queuectl(["worker", "stop", "--wait"])).code).toBe(0);
      await waitFor(() => !alive(pid), { what: "the background worker to exit" });
    }
  });
});
