/**
 * `queuectl enqueue` as a user runs it: every input form, flags overriding JSON, and every kind of bad
 * input exiting 2 with one line on stderr and nothing inserted.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { queuectl, queuectlJson } from "./helpers/cli.js";
import { useTestDatabase } from "./helpers/db.js";

const db = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), "queuectl-enqueue-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function jobCount(): Promise<number> {
  return (await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs")).rows[0]!.n;
}

async function job(id: string) {
  const res = await db.pool.query("SELECT id, queue, command, state, priority, attempts, max_retries, timeout_ms, run_at FROM jobs WHERE id = $1", [id]);
  return res.rows[0];
}

interface BadCase {
  args: string[];
  message: RegExp;
  input?: string;
}

/**
 * Runs enqueue with each bad input (at once: none of them may write) expecting exit 2, the message
 * on stderr's first line, nothing on stdout, and no rows added.
 */
async function rejects(...cases: BadCase[]): Promise<void> {
  const before = await jobCount();
  const results = await Promise.all(cases.map((c) => queuectl(["enqueue", ...c.args], { input: c.input })));
  results.forEach((res, i) => {
    const what = `enqueue ${cases[i]!.args.join(" ")}: ${res.stderr}`;
    expect(res.code, what).toBe(2);
    expect(res.stdout, what).toBe("");
    // Exactly one line, commander's own usage errors included.
    const lines = res.stderr.trim().split("\n");
    expect(lines.length, what).toBe(1);
    expect(lines[0], what).toMatch(cases[i]!.message);
  });
  expect(await jobCount()).toBe(before);
}

describe("enqueue: what the shell did to the input, and what to type instead", () => {
  it("unquoted JSON, JSON split into words, a command without --command: exit 2, one line with the fix, nothing added", async () => {
    const cases: Array<[string[], string]> = [
      // What bash passes for: queuectl enqueue {"command":"echo hi"}
      [["enqueue", "{command:echo hi}"], `queuectl: the job JSON lost its quotes to the shell ({command:echo hi}): put all of it in single quotes, e.g. queuectl enqueue '{"command":"echo hello"}'`],
      // ... and for: queuectl enqueue { "command": "echo hi" }
      [["enqueue", "{", "command:", "echo hi", "}"], `queuectl: the job JSON reached queuectl as 4 words (the shell split it at spaces and took its quotes): put all of it in single quotes, e.g. queuectl enqueue '{"command":"echo hello"}'`],
      [["enqueue", "echo", "hello"], "queuectl: enqueue takes one job (JSON or a file), not 2 words: to run a shell command, use queuectl enqueue --command 'echo hello'"],
      [["enqueue", "echo"], "queuectl: 'echo' is neither a JSON job nor an existing file (to enqueue a shell command, use --command 'echo')"],
    ];
    for (const [args, message] of cases) {
      const res = await queuectl(args);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toBe(message);
    }
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs")).rows[0].n).toBe(0);
  });
});

describe("enqueue: success", () => {
  it("adds one job from JSON and prints its id; defaults come from config", async () => {
    const res = await queuectl(["enqueue", '{"id":"hello","command":"echo hello"}']);
    expect(res).toMatchObject({ code: 0, stdout: "hello", stderr: "" });
    expect(await job("hello")).toMatchObject({ queue: "default", command: "echo hello", state: "pending", priority: 0, attempts: 0, max_retries: 3, timeout_ms: null });

    await db.pool.query("INSERT INTO config (key, value) VALUES ('max_retries', '7')");
    const out = await queuectlJson<{ id: string }>(["enqueue", '{"command":"echo generated"}']);
    expect(out.id).toMatch(/^[0-9a-z]{12}$/);
    expect(await job(out.id)).toMatchObject({ command: "echo generated", max_retries: 7 });
    await db.pool.query("DELETE FROM config");
  });

  it("builds a job from flags alone", async () => {
    const res = await queuectl(["enqueue", "--command", "make all", "--id", "flags-only", "--queue", "builds", "--priority", "-5", "--max-retries", "0", "--timeout", "1500"]);
    expect(res.code, res.stderr).toBe(0);
    expect(await job("flags-only")).toMatchObject({ queue: "builds", command: "make all", priority: -5, max_retries: 0, timeout_ms: 1500 });
  });

  it("lets flags override the JSON's fields", async () => {
    const res = await queuectl(["enqueue", '{"id":"over","command":"old","queue":"q1","priority":1,"max_retries":5}', "--command", "new", "--queue", "q2", "--priority", "9"]);
    expect(res.code, res.stderr).toBe(0);
    expect(await job("over")).toMatchObject({ command: "new", queue: "q2", priority: 9, max_retries: 5 });
  });

  it("schedules with --run-at and --delay", async () => {
    await queuectl(["enqueue", "--command", "later", "--id", "at", "--run-at", "2099-01-02T03:04:05Z"]);
    expect((await job("at")).run_at.toISOString()).toBe("2099-01-02T03:04:05.000Z");

    const before = Date.now();
    await queuectl(["enqueue", "--command", "soon", "--id", "delayed", "--delay", "2h"]);
    const runAt = (await job("delayed")).run_at.getTime();
    expect(runAt - before).toBeGreaterThanOrEqual(2 * 3_600_000 - 1000);
    expect(runAt - before).toBeLessThan(2 * 3_600_000 + 30_000);
  });

  it("reads a JSON array file with --file and prints every id", async () => {
    const path = file("jobs.json", JSON.stringify([{ id: "arr-1", command: "a" }, { id: "arr-2", command: "b", queue: "other" }]));
    const res = await queuectl(["enqueue", "--file", path]);
    expect(res).toMatchObject({ code: 0, stdout: "arr-1\narr-2" });
    expect(await job("arr-2")).toMatchObject({ queue: "other" });
  });

  it("reads JSON lines from a positional path, with flags applied to every job", async () => {
    const path = file("jobs.jsonl", '{"id":"line-1","command":"a"}\n\n{"id":"line-2","command":"b","queue":"x"}\n');
    const out = await queuectlJson<{ ids: string[] }>(["enqueue", path, "--queue", "batch"]);
    expect(out).toEqual({ ids: ["line-1", "line-2"] });
    expect((await job("line-1")).queue).toBe("batch");
    expect((await job("line-2")).queue).toBe("batch");
  });

  it("reads stdin with -", async () => {
    const res = await queuectl(["enqueue", "-", "--json"], { input: '{"id":"stdin-1","command":"a"}\n{"id":"stdin-2","command":"b"}\n' });
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ ids: ["stdin-1", "stdin-2"] });
    const single = await queuectl(["enqueue", "--file", "-", "--json"], { input: '{"id":"stdin-3","command":"c"}' });
    expect(JSON.parse(single.stdout)).toEqual({ id: "stdin-3" });
  });

  it("puts 12 000 jobs in (3 batches, one transaction) and says each id once", async () => {
    const before = await jobCount();
    const lines = Array.from({ length: 12_000 }, (_, i) => JSON.stringify({ command: `echo ${i}`, priority: i % 3 })).join("\n");
    const res = await queuectl(["enqueue", "-", "--json"], { input: lines });
    expect(res.code, res.stderr).toBe(0);
    const ids = (JSON.parse(res.stdout) as { ids: string[] }).ids;
    expect(new Set(ids).size).toBe(12_000);
    expect(await jobCount()).toBe(before + 12_000);
  });
});

describe("enqueue: bad input changes nothing", () => {
  it("invalid JSON, unknown field, wrong numbers, empty commands", async () => {
    await rejects(
      { args: ['{"command": "x"'], message: /invalid JSON/ },
      { args: ['{"command":"x","prio":1}'], message: /unknown field 'prio'/ },
      { args: ['{"command":"x","priority":1.5}'], message: /'priority' must be an integer/ },
      { args: ['{"command":"x","max_retries":-1}'], message: /'max_retries' must be an integer from 0 to 1000/ },
      { args: ['{"command":"x","timeout":-5}'], message: /'timeout' must be an integer from 0 to 2147483647/ },
      { args: ['{"command":""}'], message: /'command' must not be empty/ },
      { args: ['{"command":"   "}'], message: /'command' must not be empty/ },
      { args: ['{"queue":"q"}'], message: /'command'/ },
      { args: ['{"command":"x","run_at":"tomorrow"}'], message: /'run_at' must be an ISO 8601/ },
    );
  });

  it("bad flags: non-integers, negative retries, --run-at with --delay, a bad delay", async () => {
    await rejects(
      { args: ["--command", "x", "--priority", "high"], message: /--priority must be an integer/ },
      { args: ["--command", "x", "--max-retries", "-1"], message: /'max_retries' must be an integer from 0 to 1000/ },
      { args: ["--command", "x", "--run-at", "2030-01-01T00:00:00Z", "--delay", "5m"], message: /cannot be used with/ },
      { args: ["--command", "x", "--delay", "soon"], message: /--delay 'soon' is not a delay/ },
      { args: ["--command", "   "], message: /'command' must not be empty/ },
    );
  });

  it("nothing to enqueue, or a word that is no JSON and no file", async () => {
    await rejects(
      { args: [], message: /nothing to enqueue/ },
      { args: ["echo hi"], message: /neither a JSON job nor an existing file.*--command/ },
      { args: ["--file", join(dir, "missing.jsonl")], message: /no such file/ },
    );
  });

  it("a duplicate id, against the table or within the input, inserts nothing", async () => {
    // The clash is in the last of 3 insert batches: the first two are rolled back too.
    const lines = Array.from({ length: 11_000 }, (_, i) => JSON.stringify({ id: i === 10_999 ? "hello" : `dup-${i}`, command: "x" })).join("\n");
    await rejects(
      { args: ['{"id":"hello","command":"again"}'], message: /^queuectl: job id 'hello' already exists$/ },
      { args: ["-"], message: /^queuectl: job id 'hello' already exists$/, input: lines },
      { args: [file("dups.json", '[{"id":"d","command":"a"},{"id":"d","command":"b"}]')], message: /index 1: job id 'd' appears twice/ },
    );
  });

  it("a bad line in JSON lines names the line and inserts nothing", async () => {
    const path = file("bad.jsonl", '{"id":"ok-1","command":"a"}\n{"id":"ok-2","command":"b"}\n{"id":"bad","command":"c","retries":3}\n');
    await rejects(
      { args: ["--file", path], message: /line 3: unknown field 'retries'/ },
      { args: ["-"], message: /stdin: line 2: invalid JSON/, input: '{"command":"a"}\n{"command":\n' },
    );
  });

  it("an oversized stdin is refused with a clear message", async () => {
    const big = `${JSON.stringify({ command: "x".repeat(1000) })}\n`.repeat(70 * 1024);
    await rejects({ args: ["-"], message: /stdin is larger than 64 MiB/, input: big });
  });
});
