/**
 * `worker start --run-as USER` (the worker is root): job commands run as USER, so a job cannot signal
 * its worker nor read the worker's environment. The same job under a worker without --run-as can:
 * that is what the option takes away. Runs where the tests run as root (CI does).
 */
import { describe, expect, it } from "vitest";
import { queuectl } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue, startWorkerProcess, waitFor, type WorkerProcess } from "./helpers/workers.js";

const db = useTestDatabase();
const root = process.getuid?.() === 0;

/** What a job could do to `worker`, as its output says. */
function probe(worker: WorkerProcess): string {
  const pid = worker.child.pid!;
  return `id -un; kill -0 ${pid} 2>/dev/null; echo "signal=$?"; cat /proc/${pid}/environ >/dev/null 2>&1; echo "environ=$?"; echo "home=$HOME user=$USER"`;
}

async function outputOf(id: string): Promise<string> {
  return waitFor<string | undefined>(
    async () => {
      const r = await db.pool.query<{ state: string; output: string | null }>(
        "SELECT j.state, a.output FROM jobs j LEFT JOIN job_attempts a ON a.job_id = j.id WHERE j.id = $1 ORDER BY a.attempt DESC LIMIT 1",
        [id],
      );
      const row = r.rows[0];
      return row && (row.state === "completed" || row.state === "dead") ? `${row.state}\n${row.output ?? ""}` : undefined;
    },
    { timeoutMs: 30_000, what: `job ${id} to finish` },
  ).then((out) => out ?? "");
}

describe.skipIf(!root)("worker start --run-as", () => {
  it("runs commands as the user: they cannot signal the worker or read its environment; without it they can", async () => {
    const confined = startWorkerProcess(["--queue", "confined", "--run-as", "nobody"], { QUEUECTL_LOG_LEVEL: "warn" });
    const plain = startWorkerProcess(["--queue", "plain"], { QUEUECTL_LOG_LEVEL: "warn" });
    try {
      await enqueue(db.pool, [
        { id: "as-nobody", command: probe(confined), queue: "confined", cwd: "/" },
        { id: "as-root", command: probe(plain), queue: "plain", cwd: "/" },
      ]);
      const confinedOut = await outputOf("as-nobody");
      expect(confinedOut).toMatch(/^completed\nnobody\nsignal=1\nenviron=1\nhome=\/\S* user=nobody\n$/);
      const plainOut = await outputOf("as-root");
      expect(plainOut).toMatch(/^completed\nroot\nsignal=0\nenviron=0\n/);
      expect(confined.child.exitCode).toBeNull();
    } finally {
      confined.child.kill("SIGTERM");
      plain.child.kill("SIGTERM");
      await Promise.all([confined.exited, plain.exited]);
    }
  });

  it("refuses an unknown user before starting anything: exit 2, one line", async () => {
    const res = await queuectl(["worker", "start", "--run-as", "no-such-user-here"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe("queuectl: --run-as: no user 'no-such-user-here' on this host"); // execa strips the final newline
    expect((await db.pool.query("SELECT count(*)::int AS n FROM workers WHERE state = 'running'")).rows[0].n).toBe(0);
  });
});
