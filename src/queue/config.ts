/**
 * Settings shared by every worker and CLI, stored in the `config` table (one row per key that was
 * set; a key without a row has its default). Defaults are named here once; `config set` validates with
 * the same rules the workers read with.
 */
import type pg from "pg";
import { InvalidInputError, NotFoundError } from "../errors.js";
import { audited, type Actor } from "./audit.js";
import { readConfigRows, readConfigValue, upsertConfigValue } from "./sql/config.js";

/**
 * How a key's value is read. Checked by hand, not with zod: loadConfig runs in nearly every CLI
 * command, and loading zod cost a third of a command's start-up.
 */
type ValueRule =
  | { kind: "int" | "number"; min: number; max: number }
  /** Seconds, given as a number or with a unit: 90s, 30m, 12h, 7d. */
  | { kind: "duration"; max: number }
  /** env_allowlist: *, -, or a comma list of names and PREFIX_* (normalised: no spaces, no empty items). */
  | { kind: "allowlist" }
  /** pass_env: a comma list of environment variable names (normalised), or empty. */
  | { kind: "names" };

const int = (min: number, max: number) => ({ kind: "int", min, max }) as const;
const number = (min: number, max: number) => ({ kind: "number", min, max }) as const;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Each key's rule, default and meaning; the order is the order `config list` prints. */
export const CONFIG_KEYS = {
  max_retries: { rule: int(0, 1000), default: 3, help: "retries after the first attempt for jobs that do not set max_retries" },
  backoff_base: { rule: number(1, 100), default: 2, help: "the retry after attempt n waits backoff_base^n seconds" },
  backoff_max_s: { rule: int(0, 31_536_000), default: 3600, help: "cap on one retry delay, in seconds" },
  job_timeout_ms: { rule: int(0, 2_147_483_647), default: 0, help: "default per-job timeout in ms (0 = none)" },
  poll_interval_ms: { rule: int(10, 3_600_000), default: 1000, help: "how often idle workers poll when no notification arrives, in ms" },
  lease_ms: { rule: int(500, 86_400_000), default: 30_000, help: "how long a claimed job stays held without a heartbeat, in ms" },
  output_limit_bytes: { rule: int(0, 67_108_864), default: 262_144, help: "captured output kept per attempt (the tail), in bytes" },
  backoff_jitter: { rule: number(0, 1), default: 0, help: "0..1: each retry delay is shortened by a random share of up to this much" },
  retention_completed: { rule: { kind: "duration", max: 3_153_600_000 }, default: 0, help: "workers delete completed jobs older than this, in seconds or 30m, 12h, 7d (0 = keep)" },
  retention_audit: { rule: { kind: "duration", max: 3_153_600_000 }, default: 0, help: "workers delete audit rows older than this, in seconds or 30m, 12h, 90d (0 = keep)" },
  vacuum_dead_rows: {
    rule: int(0, 1_000_000_000),
    default: 300,
    help: "workers VACUUM a queue table once it has this many dead rows, checked every 2 s (0 = leave it to autovacuum)",
  },
  env_allowlist: {
    rule: { kind: "allowlist" },
    default: "*",
    help: "environment variables a job may set (checked at enqueue): * any, - none, or names/prefixes like APP_*,TZ; PATH, LD_* and the like only when named exactly",
  },
  pass_env: {
    rule: { kind: "names" },
    default: "",
    help: "variables of the worker's own environment every job gets too, as a comma list, - for none (besides PATH, HOME, LANG, LC_*, TZ, USER, LOGNAME, SHELL, TMPDIR)",
  },
} as const satisfies Record<string, { rule: ValueRule; default: number | string; help: string }>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export type QueueConfig = { [K in ConfigKey]: (typeof CONFIG_KEYS)[K]["rule"] extends { kind: "allowlist" | "names" } ? string : number };

/** The value `raw` stands for under `rule`, or what is wrong with it (worded for the error message). */
function readValue(rule: ValueRule, raw: string): { value: number | string } | { problem: string } {
  switch (rule.kind) {
    case "int":
    case "number": {
      const n = raw.trim() === "" ? NaN : Number(raw);
      const whole = rule.kind === "int";
      if (Number.isFinite(n) && (!whole || Number.isInteger(n)) && n >= rule.min && n <= rule.max) return { value: n };
      return { problem: `must be ${whole ? "a whole number" : "a number"} from ${rule.min} to ${rule.max}` };
    }
    case "duration": {
      const m = /^(\d+)(s|m|h|d)?$/i.exec(raw.trim());
      if (!m) return { problem: "a whole number of seconds, or with a unit: 90s, 30m, 12h, 7d" };
      const seconds = Number(m[1]) * UNIT_SECONDS[(m[2] ?? "s").toLowerCase()]!;
      return seconds <= rule.max ? { value: seconds } : { problem: `must be at most ${rule.max} seconds` };
    }
    case "names": {
      if (raw.trim() === "-") return { value: "" };
      const names = raw.split(",").map((p) => p.trim()).filter((p) => p !== "");
      if (names.every((n) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(n))) return { value: names.join(",") };
      return { problem: "a comma list of environment variable names, such as AWS_REGION,HTTP_PROXY (- for none)" };
    }
    case "allowlist": {
      const list = raw.split(",").map((p) => p.trim()).filter((p) => p !== "").join(",");
      if (list === "*" || list === "-" || (list !== "" && list.split(",").every((p) => /^([A-Za-z_][A-Za-z0-9_]*)?\*?$/.test(p) && p !== ""))) return { value: list };
      return { problem: "use * (any), - (none), or a comma list of names and prefixes such as APP_*,TZ,LANG" };
    }
  }
}

export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];

export function isConfigKey(key: string): key is ConfigKey {
  return Object.prototype.hasOwnProperty.call(CONFIG_KEYS, key);
}

export function defaultConfig(): QueueConfig {
  return Object.fromEntries(CONFIG_KEY_NAMES.map((k) => [k, CONFIG_KEYS[k].default])) as QueueConfig;
}

/** Parses a value given on the command line; throws InvalidInputError naming the key and its range. */
export function parseConfigValue(key: string, raw: string): number | string {
  if (!isConfigKey(key)) throw new NotFoundError(`unknown config key '${key}' (known: ${CONFIG_KEY_NAMES.join(", ")})`);
  if (raw.trim() === "") throw new InvalidInputError(`config ${key}: a value is required`);
  const read = readValue(CONFIG_KEYS[key].rule, raw);
  if ("problem" in read) throw new InvalidInputError(`config ${key}: invalid value '${raw}' (${read.problem})`);
  return read.value;
}

/** Reads every key, stored values over defaults. A stored value that no longer validates falls back to the default. */
export async function loadConfig(db: pg.Pool | pg.PoolClient): Promise<QueueConfig> {
  const config = defaultConfig();
  for (const row of await readConfigRows(db)) {
    if (!isConfigKey(row.key)) continue;
    const read = readValue(CONFIG_KEYS[row.key].rule, row.value);
    if ("value" in read) (config as Record<ConfigKey, number | string>)[row.key] = read.value;
  }
  return config;
}

/** Stores a setting and records it in the audit trail (the stored value before, if any, and after). */
export async function setConfigValue(db: pg.Pool, key: string, raw: string, actor?: Actor): Promise<number | string> {
  const value = parseConfigValue(key, raw);
  return audited(db, { actor, action: "config set", target: key }, async (client) => {
    const before = await readConfigValue(client, key);
    await upsertConfigValue(client, key, String(value));
    return { result: value, before: { value: before }, after: { value: String(value) } };
  });
}

/** Whether an environment variable name passes `env_allowlist` (* any, - none, names and PREFIX_*). */
export function envNameAllowed(allowlist: string, name: string): boolean {
  if (allowlist === "*") return true;
  if (allowlist === "-") return false;
  return allowlist.split(",").some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p));
}

/** The names in a `names` value (pass_env): "" is none. */
export function nameList(value: string): string[] {
  return value === "" ? [] : value.split(",");
}
