/**
 * Turns what a user hands `queuectl enqueue` into validated job specs, before any database work:
 * a JSON argument, a file or stdin holding one JSON object, a JSON array, or JSON lines (one object per
 * line), and the flags (`--command --id --queue --priority --max-retries --timeout --run-at --delay`)
 * that override the fields of every job read. Errors name where the problem is ("line 3: ...",
 * "index 2: ...") and are thrown before anything is written, so invalid input changes nothing.
 */
import { createReadStream, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { InvalidInputError } from "../errors.js";
import { resolve } from "node:path";
import { ENV_NAME_PATTERN, fastJobSpec, type JobSpec } from "./job-spec.js";

/**
 * Largest file or stdin accepted, in bytes (64 MiB: about 600 000 typical jobs). Input is read up to
 * this size and then rejected with a clear message, so `enqueue - < /dev/zero` cannot exhaust memory.
 */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** Job fields given as flags, still raw strings as commander parsed them. */
export interface EnqueueFlags {
  command?: string;
  id?: string;
  queue?: string;
  priority?: string;
  maxRetries?: string;
  timeout?: string;
  runAt?: string;
  delay?: string;
  uniqueKey?: string;
  /** Comma-separated exit codes. */
  retryOn?: string;
  /** --never-retry-on: exit codes never retried (no_retry_on). */
  neverRetryOn?: string;
  /** --after: ids of jobs this one runs after (repeatable). */
  after?: string[];
  /** --env NAME (value from the enqueuing shell) or NAME=value (repeatable). */
  env?: string[];
  /** --cwd: working directory (relative to the enqueuing shell's). */
  cwd?: string;
}

/** What --env NAME and --cwd read from the enqueuing shell. */
export interface EnqueuingShell {
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** What was read: the specs and whether the input was one object (`{"id"}`) or a list (`{"ids"}`). */
export interface EnqueueInput {
  specs: JobSpec[];
  /** True for one JSON object or flags only; false for an array or JSON lines (even of one job). */
  single: boolean;
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a delay: `30s`, `5m`, `2h`, `1d`, `250ms`, or a bare number of milliseconds. Returns milliseconds. */
export function parseDelay(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(raw);
  if (!m) throw new InvalidInputError(`--delay '${raw}' is not a delay: use e.g. 30s, 5m, 2h, 1d or a number of milliseconds`);
  const ms = Number(m[1]) * UNITS_MS[(m[2] ?? "ms").toLowerCase()]!;
  if (!Number.isFinite(ms) || ms > 100 * 365 * 86_400_000) throw new InvalidInputError(`--delay '${raw}' is too long (at most 100 years)`);
  return Math.round(ms);
}

function parseIntFlag(flag: string, raw: string): number {
  if (!/^\s*[-+]?\d+\s*$/.test(raw)) throw new InvalidInputError(`${flag} must be an integer (got '${raw}')`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new InvalidInputError(`${flag} is out of range (got '${raw}')`);
  return n;
}

/** "2,127" as [2, 127] (validated as exit codes by the job schema). */
function parseExitCodes(flag: string, raw: string): number[] {
  const parts = raw.split(",").map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new InvalidInputError(`${flag} must be exit codes separated by commas, e.g. 2,127 (got '${raw}')`);
  return parts.map(Number);
}

/**
 * The flags as job fields (snake_case, like the job JSON), to lay over each job read. `now` fixes the
 * clock --delay counts from.
 */
export function flagOverrides(flags: EnqueueFlags, now = Date.now(), shell: EnqueuingShell = { env: process.env, cwd: process.cwd() }): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (flags.command !== undefined) o.command = flags.command;
  if (flags.id !== undefined) o.id = flags.id;
  if (flags.queue !== undefined) o.queue = flags.queue;
  if (flags.priority !== undefined) o.priority = parseIntFlag("--priority", flags.priority);
  if (flags.maxRetries !== undefined) o.max_retries = parseIntFlag("--max-retries", flags.maxRetries);
  if (flags.timeout !== undefined) o.timeout = parseIntFlag("--timeout", flags.timeout);
  if (flags.runAt !== undefined && flags.delay !== undefined) {
    throw new InvalidInputError("--run-at and --delay cannot be used together");
  }
  if (flags.runAt !== undefined) o.run_at = flags.runAt;
  if (flags.uniqueKey !== undefined) o.unique_key = flags.uniqueKey;
  if (flags.retryOn !== undefined) o.retry_on = parseExitCodes("--retry-on", flags.retryOn);
  if (flags.neverRetryOn !== undefined) o.no_retry_on = parseExitCodes("--never-retry-on", flags.neverRetryOn);
  if (flags.delay !== undefined) o.run_at = new Date(now + parseDelay(flags.delay)).toISOString();
  if (flags.after !== undefined && flags.after.length > 0) o.depends_on = flags.after;
  if (flags.cwd !== undefined) o.cwd = resolve(shell.cwd, flags.cwd);
  if (flags.env !== undefined && flags.env.length > 0) {
    const env: Record<string, string> = {};
    for (const item of flags.env) {
      const eq = item.indexOf("=");
      const name = eq < 0 ? item : item.slice(0, eq);
      if (!ENV_NAME_PATTERN.test(name)) throw new InvalidInputError(`--env '${item}': the name must be letters, digits and _ (not starting with a digit)`);
      const value = eq < 0 ? shell.env[name] : item.slice(eq + 1);
      if (value === undefined) throw new InvalidInputError(`--env ${name}: not set in this shell (give a value: --env ${name}=value)`);
      env[name] = value;
    }
    o.env = env;
  }
  return o;
}

/** JSON.parse with the position turned into a line and column a person can find. */
function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    let msg = (err as Error).message;
    const pos = /at position (\d+)/.exec(msg);
    if (pos && text.includes("\n")) {
      const before = text.slice(0, Number(pos[1]));
      const line = before.split("\n").length;
      const col = Number(pos[1]) - before.lastIndexOf("\n");
      msg = msg.replace(/at position \d+(?: \(line \d+ column \d+\))?/, `at line ${line} column ${col}`);
    }
    // V8 quotes the input back for some errors; keep the message one short line.
    msg = msg.replace(/,\s+".*" is not valid JSON$/s, "");
    throw new InvalidInputError(`${where}invalid JSON: ${msg}`);
  }
}

/** What the shell leaves of unquoted JSON: `{"command":"true"}` arrives as `{command:true}`. */
const UNQUOTED_JSON = /^\s*[[{]\s*\{?\s*[A-Za-z_][\w-]*\s*:/;
const QUOTING_EXAMPLE = `'{"command":"echo hello"}'`;

/** The job argument as JSON; JSON whose quotes the shell took gets a hint on how to quote it. */
function parseArgumentJson(arg: string): JobDocument {
  try {
    return parseJobDocument(arg, "argument");
  } catch (err) {
    if (err instanceof InvalidInputError && UNQUOTED_JSON.test(arg)) {
      throw new InvalidInputError(`the job JSON lost its quotes to the shell (${arg.slice(0, 40)}): put all of it in single quotes, e.g. queuectl enqueue ${QUOTING_EXAMPLE}`);
    }
    throw err;
  }
}

/**
 * Why `enqueue` got several words where it takes one job: JSON the shell split at its spaces, or a
 * command typed without --command. One line that says what to type instead.
 */
export function describeSplitArgument(words: readonly string[]): string {
  const head = words[0]?.trimStart()[0];
  if (head === "{" || head === "[") {
    return `the job JSON reached queuectl as ${words.length} words (the shell split it at spaces and took its quotes): put all of it in single quotes, e.g. queuectl enqueue ${QUOTING_EXAMPLE}`;
  }
  const command = words.join(" ").replace(/'/g, "'\\''");
  return `enqueue takes one job (JSON or a file), not ${words.length} words: to run a shell command, use queuectl enqueue --command '${command}'`;
}

/**
 * Splits a document into job objects: one JSON object, a JSON array of them, or JSON lines. A
 * pretty-printed object spanning lines is one job; a document whose first line is a complete JSON
 * value is read as JSON lines.
 */
export interface JobDocument {
  /** Each job as parsed, with `at` naming it in errors ("line 3", "index 2"; empty for a lone object). */
  items: Array<{ value: unknown; at: string }>;
  single: boolean;
}

/** "'jobs.jsonl': line 3: " — the prefix of an error about one job. */
function prefix(source: string, at: string): string {
  if (source === "argument") return at ? `${at}: ` : "";
  return at ? `${source}: ${at}: ` : `${source}: `;
}

export function parseJobDocument(text: string, source: string): JobDocument {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const trimmed = body.trim();
  if (trimmed === "") throw new InvalidInputError(`no jobs in ${source}: it is empty`);

  let whole: unknown;
  let wholeError: InvalidInputError | undefined;
  try {
    whole = parseJson(trimmed, prefix(source, ""));
  } catch (err) {
    wholeError = err as InvalidInputError;
  }
  if (!wholeError) {
    if (Array.isArray(whole)) return { items: whole.map((value, i) => ({ value, at: `index ${i}` })), single: false };
    return { items: [{ value: whole, at: "" }], single: true };
  }

  // Not one JSON value. JSON lines if the first non-blank line stands on its own; otherwise the
  // document is broken JSON and the whole-document error says where.
  const lines = body.split("\n");
  const first = lines.findIndex((l) => l.trim() !== "");
  try {
    JSON.parse(lines[first]!);
  } catch {
    throw wholeError;
  }
  const items: JobDocument["items"] = [];
  for (let i = first; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const at = `line ${i + 1}`;
    items.push({ value: parseJson(line, prefix(source, at)), at });
  }
  return { items, single: false };
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

/** Reads a stream up to MAX_INPUT_BYTES, then stops reading and rejects. */
export async function readCapped(stream: Readable, source: string, maxBytes = MAX_INPUT_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > maxBytes) {
      stream.destroy();
      throw new InvalidInputError(`${source} is larger than ${formatSize(maxBytes)}; split it into smaller files`);
    }
    chunks.push(buf);
  }
  return decodeUtf8(Buffer.concat(chunks), source);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Input must be UTF-8: a lenient decode would turn stray bytes into U+FFFD and silently store a
 * different command than the one in the file.
 */
function decodeUtf8(buf: Buffer, source: string): string {
  try {
    return strictUtf8.decode(buf);
  } catch {
    // Where the first replacement character lands is where the first bad byte was.
    const lenient = buf.toString("utf8");
    const offset = Buffer.byteLength(lenient.slice(0, Math.max(0, lenient.indexOf("\uFFFD"))));
    throw new InvalidInputError(`${source} is not valid UTF-8 (first bad byte at offset ${offset})`);
  }
}

/** A file to read jobs from: a regular file, or a pipe such as bash's <(generate-jobs). */
function isReadableFile(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() || st.isFIFO() || st.isCharacterDevice();
  } catch {
    return false;
  }
}

async function readFileInput(path: string): Promise<string> {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new InvalidInputError(`'${path}' is a directory, not a file of jobs`);
    size = st.size;
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(`cannot read '${path}': ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  if (size > MAX_INPUT_BYTES) {
    throw new InvalidInputError(`'${path}' is larger than ${formatSize(MAX_INPUT_BYTES)}; split it into smaller files`);
  }
  try {
    return await readCapped(createReadStream(path), `'${path}'`);
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(`cannot read '${path}': ${(err as Error).message}`);
  }
}

export interface ReadEnqueueInputParams {
  /** The positional argument: JSON, `-` for stdin, or a file path. */
  arg?: string;
  /** `--file`; `-` means stdin. */
  file?: string;
  flags: EnqueueFlags;
  /** Where `-` reads from (process.stdin in the CLI). */
  stdin: Readable;
  /** Clock for --delay, in ms since the epoch. */
  now?: number;
  /** Where --env NAME and a relative --cwd are read from; default this process. */
  shell?: EnqueuingShell;
}

/**
 * Reads and validates everything `enqueue` was given. Flags override the fields of every job read;
 * flags alone (with --command) make one job. Throws InvalidInputError on any problem.
 */
export async function readEnqueueInput(p: ReadEnqueueInputParams): Promise<EnqueueInput> {
  const overrides = flagOverrides(p.flags, p.now, p.shell);
  if (p.arg !== undefined && p.file !== undefined) {
    throw new InvalidInputError("give the jobs either as an argument or with --file, not both");
  }

  let source: string;
  let doc: JobDocument;
  if (p.file !== undefined || p.arg === "-") {
    const path = p.file ?? "-";
    source = path === "-" ? "stdin" : `'${path}'`;
    doc = parseJobDocument(path === "-" ? await readCapped(p.stdin, "stdin") : await readFileInput(path), source);
  } else if (p.arg !== undefined) {
    const head = p.arg.trimStart()[0];
    if (head === "{" || head === "[") {
      source = "argument";
    } else if (isReadableFile(p.arg)) {
      source = `'${p.arg}'`;
    } else {
      const hint = p.flags.command === undefined ? ` (to enqueue a shell command, use --command '${p.arg.replace(/'/g, "'\\''")}')` : "";
      throw new InvalidInputError(`'${p.arg}' is neither a JSON job nor an existing file${hint}`);
    }
    doc = source === "argument" ? parseArgumentJson(p.arg) : parseJobDocument(await readFileInput(p.arg), source);
  } else if (p.flags.command !== undefined) {
    source = "argument";
    doc = { items: [{ value: {}, at: "" }], single: true };
  } else {
    throw new InvalidInputError("nothing to enqueue: give a job as JSON, a file, - for stdin, or --command \"...\"");
  }

  if (overrides.id !== undefined && doc.items.length > 1) {
    throw new InvalidInputError(`--id names one job, but the input holds ${doc.items.length}`);
  }

  const hasOverrides = Object.keys(overrides).length > 0;
  const specs: JobSpec[] = new Array(doc.items.length);
  const seen = new Map<string, string>();
  // zod (job-spec-schema.ts) is loaded only for a job the fast path does not accept: its ~100 modules
  // were a third of the CLI's start-up.
  let parseJobSpec: ((input: unknown, where: string) => JobSpec) | undefined;
  for (let i = 0; i < doc.items.length; i++) {
    const { value, at } = doc.items[i]!;
    const where = prefix(source, at);
    let merged = value;
    if (hasOverrides) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) throw new InvalidInputError(`${where}a job must be a JSON object`);
      const job = value as Record<string, unknown>;
      merged = { ...job, ...overrides };
      // --env adds to the job's own env instead of replacing it.
      if (overrides.env !== undefined && job.env !== null && typeof job.env === "object" && !Array.isArray(job.env)) {
        (merged as Record<string, unknown>).env = { ...(job.env as object), ...(overrides.env as object) };
      }
    }
    const spec = fastJobSpec(merged) ?? (parseJobSpec ??= (await import("./job-spec-schema.js")).parseJobSpec)(merged, where);
    if (spec.id !== undefined) {
      const earlier = seen.get(spec.id);
      if (earlier !== undefined) {
        throw new InvalidInputError(`${where}job id '${spec.id}' appears twice in the input (also at ${earlier})`);
      }
      seen.set(spec.id, at);
    }
    specs[i] = spec;
  }
  return { specs, single: doc.single };
}
