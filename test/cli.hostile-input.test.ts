/**
 * Bad input as a hostile user tries it, through the real CLI: huge and deeply nested JSON, NUL bytes,
 * invalid UTF-8, SQL fragments in every string field, 10 000-character ids, dates past year 9999 or
 * not dates at all, numbers beyond int range, and two shells retrying the same dead job at once.
 * Each is a clear one-line error (or handled correctly), and rejected input leaves the database as it
 * was.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { failJob } from "../src/queue/sql/outcomes.js";
import { queuectl, type CliResult } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";
import { enqueue } from "./helpers/workers.js";
import { claimJobs } from "./helpers/queue.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-hostile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Every row of every table, as text: equal snapshots mean nothing changed. */
async function snapshot(): Promise<string> {
  const tables = ["jobs", "job_attempts", "dead_letters", "workers", "config"];
  const parts = await Promise.all(tables.map((t) => db.pool.query(`SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS h, count(*)::int AS n FROM ${t} x`)));
  return parts.map((p, i) => `${tables[i]}:${p.rows[0].n}:${p.rows[0].h}`).join(" ");
}

function expectError(res: CliResult, code: number, message: RegExp, what: string): void {
  expect(res.code, `${what}: ${res.stderr}`).toBe(code);
  expect(res.stdout, what).toBe("");
  const lines = res.stderr.trim().split("\n");
  expect(lines.length, `${what}: ${res.stderr}`).toBe(1);
  expect(lines[0]!.length, what).toBeLessThan(400);
  expect(lines[0], what).toMatch(message);
}

describe("hostile input", () => {
  it("a job too large to exec (env, cwd) or an id of a schedule tick is refused with one line, nothing written", async () => {
    const before = await snapshot();
    const bigEnv = file("big-env.json", JSON.stringify({ command: "true", env: { BIG: "x".repeat(12 * 1024 * 1024) } }));
    const justOver = file("env-just-over.json", JSON.stringify({ command: "true", env: { A: "x".repeat(65_536 - 2) } }));
    const longCwd = file("long-cwd.json", JSON.stringify({ command: "true", cwd: "/" + "d".repeat(5000) }));
    const [a, b, c, d] = await Promise.all([
      queuectl(["enqueue", "--file", bigEnv]),
      queuectl(["enqueue", "--file", justOver]),
      queuectl(["enqueue", "--file", longCwd]),
      queuectl(["enqueue", JSON.stringify({ id: "nightly@2026-12-08T03:00:00.000Z", command: "true" })]),
    ]);
    expectError(a, 2, /'env' must be at most 65536 bytes in all \(names and values\)/, "a 12 MB env");
    expectError(b, 2, /'env' must be at most 65536 bytes in all/, "an env one byte over");
    expectError(c, 2, /'cwd' must be at most 4096 bytes/, "a 5000-byte cwd");
    expectError(d, 2, /'id' must not end in @<time>: those ids belong to schedule ticks/, "a schedule tick's id");
    expect(await snapshot()).toBe(before);
    // Just within the bound (A=value and its NUL: 65 536 bytes), and an id with @ that is not a tick's, are taken.
    const within = file("env-within.json", JSON.stringify({ id: "env-within", command: "true", env: { A: "x".repeat(65_536 - 3) } }));
    expect((await queuectl(["enqueue", "--file", within])).code).toBe(0);
    expect((await queuectl(["enqueue", JSON.stringify({ id: "report@2026-12-08", command: "true" })])).code).toBe(0);
  });


  it("huge and deeply nested JSON are refused with one line, nothing written", async () => {
    const before = await snapshot();
    const huge = file("huge.json", JSON.stringify({ command: "x".repeat(10 * 1024 * 1024) }));
    const hugeField = file("huge-field.json", JSON.stringify({ command: "true", note: "y".repeat(10 * 1024 * 1024) }));
    const nested = "[".repeat(100_000) + "]".repeat(100_000);
    const nestedInField = `{"command":"true","queue":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const [a, b, c, d] = await Promise.all([
      queuectl(["enqueue", "--file", huge]),
      queuectl(["enqueue", "--file", hugeField]),
      queuectl(["enqueue", "-"], { input: nested }),
      queuectl(["enqueue", "-"], { input: nestedInField }),
    ]);
    expectError(a, 2, /'command' must be at most 65536 bytes/, "10 MB command");
    expectError(b, 2, /unknown field 'note'/, "10 MB unknown field");
    expectError(c, 2, /a job must be a JSON object/, "100 000 nested arrays");
    expectError(d, 2, /'queue' must be a string/, "nested arrays in a field");
    expect(await snapshot()).toBe(before);
  });

  it("NUL bytes and invalid UTF-8 are refused, never stored altered", async () => {
    const before = await snapshot();
    const results = await Promise.all([
      queuectl(["enqueue", "-"], { input: '{"command":"echo a\\u0000b"}' }),
      queuectl(["enqueue", "-"], { input: '{"command":"echo a\u0000b"}' }),
      queuectl(["enqueue", "-"], { input: '{"command":"true","id":"a\\u0000b"}' }),
      queuectl(["enqueue", "--file", file("latin1.json", Buffer.from('{"command":"echo caf\xe9"}', "latin1"))]),
      queuectl(["enqueue", "--file", file("bad-utf8.jsonl", Buffer.concat([Buffer.from('{"command":"true"}\n{"command":"echo '), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]))]),
    ]);
    expectError(results[0]!, 2, /'command' must not contain NUL bytes/, "escaped NUL");
    expectError(results[1]!, 2, /invalid JSON: Bad control character/, "raw NUL");
    expectError(results[2]!, 2, /'id' must be 1-200 characters/, "NUL in id");
    expectError(results[3]!, 2, /is not valid UTF-8 \(first bad byte at offset 20\)/, "Latin-1 file");
    expectError(results[4]!, 2, /is not valid UTF-8 \(first bad byte at offset 36\)/, "bad byte on line 2");
    expect(await snapshot()).toBe(before);
  });

  it("SQL fragments: stored verbatim where allowed, refused by validation elsewhere, never executed", async () => {
    const sql = `x'; DROP TABLE jobs; --`;
    const command = `echo "${sql}" $(echo '"); DELETE FROM jobs; --')`;
    const ok = await queuectl(["enqueue", "--json", JSON.stringify({ id: "sql-ok", command, unique_key: sql })]);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await db.pool.query("SELECT command, unique_key FROM jobs WHERE id = 'sql-ok'")).rows[0]).toEqual({ command, unique_key: sql });

    const before = await snapshot();
    const cases: Array<[string[], number, RegExp]> = [
      [["enqueue", JSON.stringify({ id: sql, command: "true" })], 2, /'id' must be 1-200 characters/],
      [["enqueue", JSON.stringify({ command: "true", queue: sql })], 2, /'queue' must be 1-64 characters/],
      [["enqueue", JSON.stringify({ command: "true", run_at: sql })], 2, /'run_at' must be an ISO 8601/],
      [["enqueue", "--command", "true", "--priority", "1; DROP TABLE jobs"], 2, /--priority must be an integer/],
      [["show", sql], 3, /no job 'x'; DROP TABLE jobs; --'/],
      [["dlq", "retry", sql], 3, /no job/],
      [["list", "--state", sql], 2, /unknown state/],
      [["config", "set", sql, "1"], 3, /unknown config key/],
      [["config", "set", "lease_ms", `1000; ${sql}`], 2, /config lease_ms: invalid value/],
      [["config", "get", sql], 3, /unknown config key/],
      [["queue", "pause", sql], 2, /is not a queue name/],
      [["enqueue", JSON.stringify({ command: "true", retry_on: [1, sql] })], 2, /'retry_on.1' must be a number/],
    ];
    const results = await Promise.all(cases.map(([args]) => queuectl(args)));
    results.forEach((res, i) => expectError(res, cases[i]![1], cases[i]![2], cases[i]![0].join(" ")));
    const list = await queuectl(["list", "--queue", sql, "--json"]);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
    expect(await snapshot()).toBe(before);
  });

  it("ids of 10 000 characters: refused, or not found with a message cut to one short line", async () => {
    const before = await snapshot();
    const long = "a".repeat(10_000);
    const [enq, enqJson, ...notFound] = await Promise.all([
      queuectl(["enqueue", "--command", "true", "--id", long]),
      queuectl(["enqueue", JSON.stringify({ id: long, command: "true" })]),
      ...["show", "dlq retry", "cancel", "kill", "logs", "requeue", "wait"].map((c) => queuectl([...c.split(" "), long])),
    ]);
    expectError(enq, 2, /'id' must be 1-200 characters/, "enqueue --id");
    expectError(enqJson, 2, /'id' must be 1-200 characters/, "enqueue JSON id");
    for (const res of notFound) expectError(res, 3, /^queuectl: no job 'a{60}…' \(10000 characters\)$/, "a command naming a job");
    expect(await snapshot()).toBe(before);
  });

  it("run_at: year 9999 is kept exactly; past 9999, impossible days and non-dates are refused", async () => {
    const ok = await queuectl(["enqueue", JSON.stringify({ id: "far-future", command: "true", run_at: "9999-12-31T23:59:59Z" })]);
    expect(ok.code, ok.stderr).toBe(0);
    const row = (await db.pool.query("SELECT to_char(run_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS t FROM jobs WHERE id = 'far-future'")).rows[0];
    expect(row.t).toBe("9999-12-31 23:59:59");
    const show = await queuectl(["show", "far-future", "--json"]);
    expect(JSON.parse(show.stdout).run_at).toBe("9999-12-31T23:59:59.000Z");

    const before = await snapshot();
    const bad = ["+010000-01-01T00:00:00Z", "10000-01-01", "9999-12-31T23:59:59-05:00", "tomorrow", "2026-02-30T00:00:00Z", "2027-02-29", "2026-01-01T24:30:00Z", "2026-01-01T12:60:00Z", "", "0000-01-01"];
    const results = await Promise.all([
      ...bad.map((run_at) => queuectl(["enqueue", JSON.stringify({ command: "true", run_at })])),
      queuectl(["enqueue", "--command", "true", "--run-at", "not a date"]),
      queuectl(["enqueue", JSON.stringify({ command: "true", run_at: 1_700_000_000 })]),
    ]);
    results.forEach((res, i) => expectError(res, 2, /'run_at' must (be an ISO 8601|be between the years 1970 and 9999|be a string)/, `run_at ${bad[i] ?? "(flag or number)"}`));
    expect(await snapshot()).toBe(before);
  });

  it("priority, max_retries and timeout beyond their range or int range name the range", async () => {
    const before = await snapshot();
    const cases: Array<[string[], RegExp]> = [
      [["enqueue", '{"command":"true","priority":2147483648}'], /'priority' must be an integer from -1000000 to 1000000/],
      [["enqueue", '{"command":"true","priority":1e20}'], /'priority' must be an integer from -1000000 to 1000000/],
      [["enqueue", '{"command":"true","priority":-1e400}'], /'priority' must be a number/],
      [["enqueue", '{"command":"true","priority":1.5}'], /'priority' must be an integer/],
      [["enqueue", '{"command":"true","priority":"5"}'], /'priority' must be a number/],
      [["enqueue", '{"command":"true","max_retries":99999999999999999999}'], /'max_retries' must be an integer from 0 to 1000/],
      [["enqueue", '{"command":"true","timeout":2147483648}'], /'timeout' must be an integer from 0 to 2147483647/],
      [["enqueue", "--command", "true", "--priority", "99999999999999999999999"], /--priority is out of range/],
      [["enqueue", "--command", "true", "--max-retries", "-99999999999999999999999"], /--max-retries is out of range/],
      [["enqueue", "--command", "true", "--priority", "1000001"], /'priority' must be an integer from -1000000 to 1000000/],
    ];
    const results = await Promise.all(cases.map(([args]) => queuectl(args)));
    results.forEach((res, i) => expectError(res, 2, cases[i]![1], cases[i]![0].join(" ")));
    expect(await snapshot()).toBe(before);
  });

  it("two shells retrying the same dead job at once: it comes back once, the other shell is told", async () => {
    for (let round = 0; round < 5; round++) {
      const id = `dead-${round}`;
      await enqueue(db.pool, [{ id, command: "false", queue: `racing-${round}`, max_retries: 0 }]);
      const [claimed] = await claimJobs(db.pool, { workerId: "w1", queues: [`racing-${round}`], limit: 1, leaseMs: 30_000 });
      await failJob(db.pool, { jobId: id, workerId: "w1", attempt: claimed!.attempt, exitCode: 1, output: "", durationMs: 1, error: "exit code 1", backoffBase: 2, backoffMaxS: 60 });

      const [a, b] = await Promise.all([queuectl(["dlq", "retry", id]), queuectl(["dlq", "retry", id])]);
      const codes = [a.code, b.code].sort();
      expect(codes, `${a.stderr} ${b.stderr}`).toEqual([0, 2]);
      const loser = a.code === 2 ? a : b;
      expect(loser.stderr.trim()).toMatch(new RegExp(`job '${id}' (is not in the DLQ \\(it is pending\\)|left the DLQ while retrying it)`));
      const job = (await db.pool.query("SELECT state, attempts FROM jobs WHERE id = $1", [id])).rows[0];
      expect(job).toEqual({ state: "pending", attempts: 0 });
      const dl = await db.pool.query("SELECT retried_at IS NOT NULL AS retried FROM dead_letters WHERE job_id = $1", [id]);
      expect(dl.rows).toEqual([{ retried: true }]);
    }
  });
});
