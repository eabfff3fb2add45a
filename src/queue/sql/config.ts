/** Statements for the `config` table: the settings every worker and CLI reads (queue/config.ts). */
import type { Queryable } from "../../db/queryable.js";
import { notifyControl } from "./control-messages.js";

/** Every stored setting, raw: config.ts validates each value and falls back to the key's default. */
export async function readConfigRows(db: Queryable): Promise<Array<{ key: string; value: string }>> {
  const res = await db.query<{ key: string; value: string }>("SELECT key, value FROM config");
  return res.rows;
}

/** One stored setting's raw value, or null when the key has no row (it has its default). */
export async function readConfigValue(db: Queryable, key: string): Promise<string | null> {
  const res = await db.query<{ value: string }>("SELECT value FROM config WHERE key = $1", [key]);
  return res.rows[0]?.value ?? null;
}

/**
 * Stores one setting, replacing its value, and tells every worker (on commit) to reload the config.
 * One upsert, so two `config set` of the same key at once both succeed and the later commit wins (no
 * read-then-write race on a missing row).
 */
export async function upsertConfigValue(db: Queryable, key: string, value: string): Promise<void> {
  await db.query(
    `WITH stored AS (
       INSERT INTO config (key, value, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
       RETURNING key
     )
     SELECT ${notifyControl("config", { key: "stored.key" })} FROM stored`,
    [key, value],
  );
}
