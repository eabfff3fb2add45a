/**
 * Settings shared by every worker and CLI, stored in the `config` table (SPEC §2). Defaults are named
 * here once; `config set` validates against the same schema the workers read with.
 */
import { z } from "zod";
import type pg from "pg";
import { InvalidInputError, NotFoundError } from "../errors.js";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Seconds, given as a number or with a unit: 90s, 30m, 12h, 7d. */
const durationSeconds = z
  .string()
  .trim()
  .regex(/^\d+(s|m|h|d)?$/i, "a whole number of seconds, or with a unit: 90s, 30m, 12h, 7d")
  .transform((v) => {
    const m = /^(\d+)(s|m|h|d)?$/i.exec(v)!;
    return Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86_400 } as Record<string, number>)[(m[2] ?? "s").toLowerCase()]!;
  })
  .pipe(z.number().int().min(0).max(3_153_600_000));

/** Each key's schema, default and meaning; the order is the order `config list` prints. */
export const CONFIG_KEYS = {
  max_retries: { schema: int(0, 1000), default: 3, help: "retries after the first attempt for jobs that do not set max_retries" },
  backoff_base: { schema: z.coerce.number().min(1).max(100), default: 2, help: "the retry after attempt n waits backoff_base^n seconds" },
  backoff_max_s: { schema: int(0, 31_536_000), default: 3600, help: "cap on one retry delay, in seconds" },
  job_timeout_ms: { schema: int(0, 2_147_483_647), default: 0, help: "default per-job timeout in ms (0 = none)" },
  poll_interval_ms: { schema: int(10, 3_600_000), default: 1000, help: "how often idle workers poll when no notification arrives, in ms" },
  lease_ms: { schema: int(500, 86_400_000), default: 30_000, help: "how long a claimed job stays held without a heartbeat, in ms" },
  output_limit_bytes: { schema: int(0, 67_108_864), default: 262_144, help: "captured output kept per attempt (the tail), in bytes" },
  backoff_jitter: { schema: z.coerce.number().min(0).max(1), default: 0, help: "0..1: each retry delay is shortened by a random share of up to this much" },
  retention_completed: { schema: durationSeconds, default: 0, help: "workers delete completed jobs older than this, in seconds or 30m, 12h, 7d (0 = keep)" },
  env_allowlist: {
    schema: z
      .string()
      .transform((s) => s.split(",").map((p) => p.trim()).filter((p) => p !== "").join(","))
      .refine((s) => s === "*" || s === "-" || s.split(",").every((p) => /^([A-Za-z_][A-Za-z0-9_]*)?\*?$/.test(p) && p !== ""), {
        message: "use * (any), - (none), or a comma list of names and prefixes such as APP_*,TZ,LANG",
      }),
    default: "*",
    help: "environment variables a job may set (checked at enqueue): * any, - none, or names/prefixes like APP_*,TZ",
  },
} as const;

export type ConfigKey = keyof typeof CONFIG_KEYS;
export type QueueConfig = { [K in ConfigKey]: z.output<(typeof CONFIG_KEYS)[K]["schema"]> };

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
  const parsed = CONFIG_KEYS[key].schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidInputError(`config ${key}: invalid value '${raw}' (${issue?.message ?? "invalid"})`);
  }
  return parsed.data;
}

/** Reads every key, stored values over defaults. A stored value that no longer validates falls back to the default. */
export async function loadConfig(db: pg.Pool | pg.PoolClient): Promise<QueueConfig> {
  const res = await db.query<{ key: string; value: string }>("SELECT key, value FROM config");
  const config = defaultConfig();
  for (const row of res.rows) {
    if (!isConfigKey(row.key)) continue;
    const parsed = CONFIG_KEYS[row.key].schema.safeParse(row.value);
    if (parsed.success) (config as Record<ConfigKey, number | string>)[row.key] = parsed.data;
  }
  return config;
}

export async function setConfigValue(db: pg.Pool, key: string, raw: string): Promise<number | string> {
  const value = parseConfigValue(key, raw);
  await db.query(
    `INSERT INTO config (key, value, updated_at) VALUES ($1, $2, now())
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [key, String(value)],
  );
  return value;
}

/** Whether an environment variable name passes `env_allowlist` (* any, - none, names and PREFIX_*). */
export function envNameAllowed(allowlist: string, name: string): boolean {
  if (allowlist === "*") return true;
  if (allowlist === "-") return false;
  return allowlist.split(",").some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p));
}
