/**
 * The per-queue settings `queue set-concurrency`, `queue pause` and `queue resume` change, checked
 * here before sql/queues.ts stores them (which also lists the queues for `queue list` and the
 * dashboard). The limit and the pause are enforced by the claim statements in sql/claim.ts, across
 * every worker.
 */
import type pg from "pg";
import { InvalidInputError } from "../errors.js";
import { QUEUE_NAME_PATTERN } from "./job-spec.js";
import { setQueueSettings } from "./sql/queues.js";

export function parseQueueName(raw: string): string {
  if (!QUEUE_NAME_PATTERN.test(raw)) throw new InvalidInputError(`'${raw}' is not a queue name (1-64 characters: letters, digits and . _ -)`);
  return raw;
}

/** Largest concurrency limit accepted. */
export const MAX_CONCURRENCY_LIMIT = 100_000;

/** `limit` null removes the limit. */
export async function setQueueConcurrency(db: pg.Pool, p: { name: string; limit: number | null }): Promise<void> {
  await setQueueSettings(db, { name: parseQueueName(p.name), concurrencyLimit: p.limit });
}

export async function setQueuePaused(db: pg.Pool, p: { name: string; paused: boolean }): Promise<void> {
  await setQueueSettings(db, { name: parseQueueName(p.name), paused: p.paused });
}
