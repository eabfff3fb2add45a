/**
 * A worker's heartbeat and its completions update several of its jobs at once, on two connections:
 * they must lock those rows in one order, or they deadlock (and each waits a second for PostgreSQL's
 * detector before one fails). Completions here come in descending id order and the heartbeat's list
 * in ascending, the order that deadlocked when each statement locked rows in the order it was given.
 */
import { describe, expect, it } from "vitest";
import { completeAndClaimJobs } from "../src/queue/sql/claim.js";
import { heartbeat } from "../src/queue/sql/leases.js";
import { useTestDatabase } from "./helpers/db.js";
import { claimJobs } from "./helpers/queue.js";
import { enqueue } from "./helpers/workers.js";

const db = useTestDatabase();

describe("lock order", () => {
  it("heartbeats and batched completions of the same jobs never deadlock", async () => {
    // Three rounds: with the rows locked in the order given, about every other round deadlocked.
    for (let round = 0; round < 3; round++) await heartbeatsBesideCompletions(`lk${round}`);
  });
});

async function heartbeatsBesideCompletions(prefix: string): Promise<void> {
  const N = 600;
  await enqueue(db.pool, Array.from({ length: N }, (_, i) => ({ id: `${prefix}-${String(i).padStart(4, "0")}`, command: "true" })));
  const claimed = await claimJobs(db.pool, { workerId: "W", queues: [], limit: N, leaseMs: 600_000 });
  expect(claimed).toHaveLength(N);
  const byId = [...claimed].sort((a, b) => a.id.localeCompare(b.id));
  let open = new Set(byId.map((j) => j.id));
  let done = false;
  const errors: string[] = [];
  const beats = (async () => {
    while (!done) {
      const running = byId.filter((j) => open.has(j.id)).map((j) => ({ id: j.id, attempt: j.attempt }));
      await heartbeat(db.pool, { workerId: "W", running, unrecorded: [], leaseMs: 600_000 }).catch((e: Error) => errors.push(e.message));
    }
  })();
  const descending = [...byId].reverse();
  for (let i = 0; i < N; i += 30) {
    const batch = descending.slice(i, i + 30);
    // Each batch overlaps the rows the running heartbeat is locking, in the opposite order.
    const res = await completeAndClaimJobs(db.pool, {
      workerId: "W",
      queues: [],
      limit: 0,
      leaseMs: 600_000,
      completions: batch.map((j) => ({ jobId: j.id, attempt: j.attempt, exitCode: 0, output: "", durationMs: 1 })),
    }).catch((e: Error) => {
      errors.push(e.message);
      return null;
    });
    if (res) for (const id of res.completed.keys()) open.delete(id);
    open = new Set(open);
  }
  done = true;
  await beats;
  expect(errors).toEqual([]);
  const states = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE state = 'completed' AND id LIKE $1", [`${prefix}-%`]);
  expect(states.rows[0]!.n).toBe(N);
}
