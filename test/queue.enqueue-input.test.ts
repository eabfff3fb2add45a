/**
 * Reading `enqueue` input (src/queue/enqueue-input.ts) without a database: formats, flag overrides,
 * and errors that say where the problem is.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidInputError } from "../src/errors.js";
import { flagOverrides, parseDelay, readCapped, readEnqueueInput, type EnqueueFlags } from "../src/queue/enqueue-input.js";
import { MAX_COMMAND_BYTES } from "../src/queue/job-spec.js";
import { jobSpecSchema, parseJobSpec } from "../src/queue/job-spec-schema.js";

const dir = mkdtempSync(join(tmpdir(), "queuectl-input-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const noStdin = () => Readable.from([]);
const read = (p: { arg?: string; file?: string; flags?: EnqueueFlags; stdin?: Readable }) =>
  readEnqueueInput({ arg: p.arg, file: p.file, flags: p.flags ?? {}, stdin: p.stdin ?? noStdin(), now: Date.parse("2030-01-01T00:00:00Z") });

async function errorOf(promise: Promise<unknown>): Promise<InvalidInputError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidInputError);
  return err as InvalidInputError;
}

describe("formats", () => {
  it("reads one JSON object from the argument as a single job", async () => {
    expect(await read({ arg: '{"command":"echo hi","priority":2}' })).toEqual({ specs: [{ command: "echo hi", priority: 2 }], single: true });
  });

  it("reads a JSON array, JSON lines with blank lines, and a pretty-printed object from files", async () => {
    const arr = await read({ file: file("a.json", '[{"command":"a"},{"command":"b"}]') });
    expect(arr).toEqual({ specs: [{ command: "a" }, { command: "b" }], single: false });

    const lines = await read({ file: file("l.jsonl", '{"command":"a"}\n\n  {"command":"b"}\r\n\n') });
    expect(lines).toEqual({ specs: [{ command: "a" }, { command: "b" }], single: false });

    const pretty = await read({ file: file("p.json", '{\n  "command": "a",\n  "queue": "q"\n}\n') });
    expect(pretty).toEqual({ specs: [{ command: "a", queue: "q" }], single: true });
  });

  it("reads stdin with -, and a positional path as that file", async () => {
    expect((await read({ arg: "-", stdin: Readable.from(['{"command":"x"}\n{"command":"y"}\n']) })).specs).toHaveLength(2);
    expect((await read({ file: "-", stdin: Readable.from(['{"command":"x"}']) })).specs).toEqual([{ command: "x" }]);
    expect((await read({ arg: file("pos.jsonl", '{"command":"p"}\n') })).specs).toEqual([{ command: "p" }]);
  });

  it("strips a UTF-8 byte order mark", async () => {
    expect((await read({ file: file("bom.json", '\ufeff{"command":"x"}') })).specs).toEqual([{ command: "x" }]);
  });
});

describe("errors name the place", () => {
  it("a bad line of JSON lines, by line number", async () => {
    const path = file("bad.jsonl", '{"command":"a"}\n{"command":"b"}\n{"command": }\n');
    expect((await errorOf(read({ file: path }))).message).toMatch(/line 3: invalid JSON/);
    const invalid = file("invalid.jsonl", '{"command":"a"}\n\n{"command":"b","priority":1.5}\n');
    expect((await errorOf(read({ file: invalid }))).message).toMatch(/line 3: 'priority' must be an integer/);
  });

  it("a bad element of an array, by index", async () => {
    expect((await errorOf(read({ arg: '[{"command":"a"},{"command":"  "}]' }))).message).toBe("index 1: 'command' must not be empty");
  });

  it("broken JSON spanning lines, by line and column", async () => {
    const path = file("broken.json", '{\n  "command": "a",\n}\n');
    expect((await errorOf(read({ file: path }))).message).toMatch(/invalid JSON: .* at line 3 column 1/);
  });

  it("unknown fields, wrong types, empty input, duplicate ids", async () => {
    expect((await errorOf(read({ arg: '{"command":"a","prio":1}' }))).message).toBe("unknown field 'prio'");
    expect((await errorOf(read({ arg: '{"command":"a","max_retries":-1}' }))).message).toBe("'max_retries' must be an integer from 0 to 1000");
    expect((await errorOf(read({ arg: '{"command":""}' }))).message).toBe("'command' must not be empty");
    expect((await errorOf(read({ file: file("empty.json", "\n  \n") }))).message).toMatch(/empty/);
    expect((await errorOf(read({ arg: '[{"id":"a","command":"x"},{"id":"a","command":"y"}]' }))).message).toBe(
      "index 1: job id 'a' appears twice in the input (also at index 0)",
    );
  });

  it("a word that is neither JSON nor a file suggests --command", async () => {
    expect((await errorOf(read({ arg: "echo hi" }))).message).toBe("'echo hi' is neither a JSON job nor an existing file (to enqueue a shell command, use --command 'echo hi')");
    expect((await errorOf(read({}))).message).toMatch(/nothing to enqueue/);
    expect((await errorOf(read({ file: join(dir, "missing.json") }))).message).toMatch(/no such file/);
  });

  it("input over the size cap is rejected without reading it all", async () => {
    const big = Readable.from((function* () {
      for (let i = 0; i < 1000; i++) yield Buffer.alloc(1024, 0x20);
    })());
    expect((await errorOf(readCapped(big, "stdin", 64 * 1024))).message).toBe("stdin is larger than 64 KiB; split it into smaller files");
  });
});

describe("flags", () => {
  it("override the JSON's fields, for every job of a file", async () => {
    const one = await read({ arg: '{"command":"a","queue":"q1","priority":1}', flags: { queue: "q2", priority: "-5", maxRetries: "0", timeout: "1500" } });
    expect(one.specs).toEqual([{ command: "a", queue: "q2", priority: -5, max_retries: 0, timeout: 1500 }]);

    const many = await read({ file: file("m.jsonl", '{"command":"a"}\n{"command":"b","queue":"x"}\n'), flags: { queue: "batch" } });
    expect(many.specs.map((s) => s.queue)).toEqual(["batch", "batch"]);
  });

  it("make a job on their own with --command", async () => {
    expect(await read({ flags: { command: "make", id: "build-1" } })).toEqual({ specs: [{ command: "make", id: "build-1" }], single: true });
  });

  it("reject non-integers, --id for many jobs, and --run-at with --delay", async () => {
    expect((await errorOf(read({ flags: { command: "x", priority: "high" } }))).message).toBe("--priority must be an integer (got 'high')");
    expect((await errorOf(read({ flags: { command: "x", timeout: "1.5" } }))).message).toMatch(/--timeout must be an integer/);
    expect((await errorOf(read({ arg: '[{"command":"a"},{"command":"b"}]', flags: { id: "x" } }))).message).toMatch(/--id names one job/);
    expect(() => flagOverrides({ runAt: "2030-01-01T00:00:00Z", delay: "5m" })).toThrow(InvalidInputError);
  });

  it("--delay counts from now", async () => {
    const { specs } = await read({ flags: { command: "x", delay: "90s" } });
    expect(specs[0]!.run_at).toBe("2030-01-01T00:01:30.000Z");
  });
});

describe("dependencies and run environment flags", () => {
  const shell = { env: { API_TOKEN: "t0k", HOME: "/home/me" }, cwd: "/srv/app" };

  it("--after sets depends_on; --cwd resolves against the shell's directory; --env takes NAME=value or the shell's NAME", () => {
    expect(flagOverrides({ after: ["a", "b"], cwd: "build", env: ["MODE=fast", "API_TOKEN", "EMPTY="] }, 0, shell)).toEqual({
      depends_on: ["a", "b"],
      cwd: "/srv/app/build",
      env: { MODE: "fast", API_TOKEN: "t0k", EMPTY: "" },
    });
    expect(flagOverrides({ cwd: "/abs" }, 0, shell)).toEqual({ cwd: "/abs" });
  });

  it("--env adds to the job's own env instead of replacing it", async () => {
    const { specs } = await readEnqueueInput({ arg: '{"command":"x","env":{"A":"1","B":"2"}}', flags: { env: ["B=3"] }, stdin: noStdin(), shell });
    expect(specs[0]!.env).toEqual({ A: "1", B: "3" });
  });

  it("rejects an unset --env NAME, a bad name, a relative cwd in JSON, and a non-id in depends_on", async () => {
    expect(() => flagOverrides({ env: ["NOPE"] }, 0, shell)).toThrow(new InvalidInputError("--env NOPE: not set in this shell (give a value: --env NOPE=value)"));
    expect(() => flagOverrides({ env: ["1X=a"] }, 0, shell)).toThrow(/--env '1X=a': the name must be letters, digits and _/);
    await expect(read({ arg: '{"command":"x","cwd":"rel/dir"}' })).rejects.toThrow("'cwd' must be an absolute path");
    await expect(read({ arg: '{"command":"x","depends_on":["has space"]}' })).rejects.toThrow(/'depends_on.0' must hold job ids/);
    await expect(read({ arg: '{"command":"x","env":{"A":1}}' })).rejects.toThrow(/'env.A' must be a string/);
  });
});

describe("parseJobSpec's hand-written path for common jobs", () => {
  it("accepts exactly what the schema accepts, with the same output (the rest goes to zod for its error)", () => {
    const ok = { command: "true" };
    const values: Record<string, unknown[]> = {
      id: ["a", "A.b_c:d@e+f-g", "x".repeat(200), "x".repeat(201), "-a", "a b", "", 5, null, undefined],
      command: ["true", " x ", "", "   ", "a\u0000b", "é".repeat(MAX_COMMAND_BYTES / 2), "é".repeat(MAX_COMMAND_BYTES / 2 + 1), "x".repeat(MAX_COMMAND_BYTES), "x".repeat(MAX_COMMAND_BYTES + 1), "𝄞".repeat(MAX_COMMAND_BYTES / 4 + 1), 1, null],
      queue: ["q", "a.b-c_d", "x".repeat(64), "x".repeat(65), "_q", "q q", "", 1, null, undefined],
      priority: [0, -0, 5, -1_000_000, 1_000_000, 1_000_001, 1.5, Number.NaN, Infinity, "1", null, 1e20],
      max_retries: [0, 1000, 1001, -1, 2.5, "3", null],
      timeout: [0, 2_147_483_647, 2_147_483_648, -1, 1.1, null],
      unique_key: ["k", "x".repeat(200), "x".repeat(201), "", "a\u0000", 3, null],
      cwd: ["/", "/tmp/x y", "tmp", "", "/a\u0000", 1, null],
      run_at: ["2030-01-01T00:00:00Z", "2030-02-30"],
      retry_on: [[1, 2], [256]],
      env: [{ A: "b" }, { "1A": "b" }],
      depends_on: [["a"], ["a b"]],
      bogus: [1],
    };
    const inputs: unknown[] = [null, [], "x", 1, ok, {}, { ...ok, queue: "q", priority: 3, max_retries: 2, timeout: 5, unique_key: "k", cwd: "/w", id: "i" }, Object.create({ command: "inherited" })];
    for (const [field, list] of Object.entries(values)) for (const v of list) inputs.push({ ...ok, [field]: v });
    for (const input of inputs) {
      const zod = jobSpecSchema.safeParse(input);
      let got: unknown;
      try {
        got = parseJobSpec(input);
      } catch (err) {
        got = err;
      }
      if (zod.success) {
        expect(got, JSON.stringify(input)?.slice(0, 100)).toStrictEqual(zod.data);
        expect(Object.keys(got as object)).toEqual(Object.keys(zod.data));
      } else {
        expect(got, JSON.stringify(input)?.slice(0, 100)).toBeInstanceOf(InvalidInputError);
      }
    }
  });
});

describe("parseDelay", () => {
  it("accepts units and bare milliseconds", () => {
    expect([parseDelay("250ms"), parseDelay("30s"), parseDelay("5m"), parseDelay("2h"), parseDelay("1d"), parseDelay("1500"), parseDelay("1.5s")]).toEqual([
      250, 30_000, 300_000, 7_200_000, 86_400_000, 1500, 1500,
    ]);
  });

  it("rejects anything else", () => {
    for (const bad of ["", "-5s", "5 minutes", "1w", "s"]) expect(() => parseDelay(bad), bad).toThrow(InvalidInputError);
  });
});
