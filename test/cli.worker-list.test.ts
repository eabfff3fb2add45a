/**
 * `queuectl worker list`: each live worker's slots as busy/concurrency, and the jobs it claimed ahead
 * of them counted apart, so a worker holding more jobs than its concurrency does not read as overfull.
 */
import { describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue } from "./helpers/workers.js";

const db = useTestDatabase();

describe("worker list", () => {
  it("shows busy slots out of the concurrency, and jobs claimed ahead as +N ahead", async () => {
    await enqueue(db.pool, ["a1", "a2", "a3", "b1"].map((id) => ({ id, command: "sleep 60" })));
    await db.pool.query(`
      INSERT INTO workers (id, host, pid, queues, concurrency, state, heartbeat_at) VALUES
        ('w-ahead', 'h', 1, '{}', 1, 'running', now()),
        ('w-half', 'h', 2, '{}', 4, 'running', now() - interval '1 second'),
        ('w-idle', 'h', 3, '{}', 2, 'running', now() - interval '2 seconds');
      UPDATE jobs SET state = 'processing', worker_id = 'w-ahead', started_at = now(), lease_expires_at = now() + interval '1 hour'
        WHERE id IN ('a1', 'a2', 'a3');
      UPDATE jobs SET state = 'processing', worker_id = 'w-half', started_at = now(), lease_expires_at = now() + interval '1 hour'
        WHERE id = 'b1';
    `);
    const res = await queuectl(["worker", "list"]);
    expect(res.code, res.stderr).toBe(0);
    const slots = (id: string) => res.stdout.split("\n").find((l) => l.startsWith(id))?.split(/\s{2,}/)[5];
    expect(slots("w-ahead")).toBe("1/1 +2 ahead");
    expect(slots("w-half")).toBe("1/4");
    expect(slots("w-idle")).toBe("0/2");
    // Scripts keep every job the worker holds.
    const json = await queuectlJson<Array<{ id: string; current_jobs: string[] }>>(["worker", "list"]);
    expect(json.find((w) => w.id === "w-ahead")?.current_jobs).toHaveLength(3);
  });
});
