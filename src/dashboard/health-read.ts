/**
 * The dashboard's copy of `queuectl doctor`'s report, for the overview's health card and the health
 * gauges of /metrics: one read shared by every tab and scrape within HEALTH_SHARE_MS, and the schema
 * comparison (it builds the schema in a scratch schema, ~100 ms) redone at most every SCHEMA_SHARE_MS.
 */
import type pg from "pg";
import { DEFAULT_TRANSACTION_AGE_S, diagnose, schemaFindings, type HealthReport } from "../queue/doctor.js";
import { sharedRead } from "./shared-read.js";

export const HEALTH_SHARE_MS = 5_000;
export const SCHEMA_SHARE_MS = 600_000;

export type HealthRead = () => Promise<HealthReport>;

export function createHealthRead(pool: pg.Pool): HealthRead {
  const schema = sharedRead(() => schemaFindings(pool), { ttlMs: SCHEMA_SHARE_MS });
  return sharedRead(async () => diagnose(pool, { transactionAgeS: DEFAULT_TRANSACTION_AGE_S, schema: await schema() }), { ttlMs: HEALTH_SHARE_MS });
}
