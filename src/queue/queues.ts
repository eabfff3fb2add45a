/**
 * The per-queue settings `queue set-concurrency`, `queue pause` and `queue resume` change, checked
 * here before sql/queues.ts stores them (which also lists the queues for `queue list` and the
 * dashboard). The limit and the pause are enforced by the claim statements in sql/claim.ts, across
 * every worker.
 */
import type pg from "pg";
import { InvalidInputError } from "../errors.js";
import { QUEUE_NAME_PATTERN } from "./job-spec.js";
import { audited, type Actor } from "./audit.js";
import { readQueueSettings, setQueueSettings } from "./sql/queues.js";

export function parseQueueName(raw: string): string {
  if (!QUEUE_NAME_PATTERN.test(raw)) throw new InvalidInputError(`'${raw}' is not a queue name (1-64 characters: letters, digits and . _ -)`);
  return raw;
}

/** Largest concurrency limit accepted. */
export const MAX_CONCURRENCY_LIMIT = 100_000;

/** `limit` null removes the limit. Recorded in the audit trail with the limit before. */
export async function setQueueConcurrency(db: pg.Pool, p: { name: string; limit: number | null; actor?: Actor }): Promise<void> {
  const name = parseQueueName(p.name);
  await audited(db, { actor: p.actor, action: "queue set-concurrency", target: name }, async (client) => {
    const before = await readQueueSettings(client, name);
    await setQueueSettings(client, { name, concurrencyLimit: p.limit });
    return { result: undefined, before: { concurrency_limit: before?.concurrency_limit ?? null }, after: { concurrency_limit: p.limit } };
  });
}

/** Pauses or resumes a queue. Recorded in the audit trail with whether it was paused before. */
export async function setQueuePaused(db: pg.Pool, p: { name: string; paused: boolean; actor?: Actor }): Promise<void> {
  const name = parseQueueName(p.name);
  await audited(db, { actor: p.actor, action: p.paused ? "queue pause" : "queue resume", target: name }, async (client) => {
    const before = await readQueueSettings(client, name);
    await setQueueSettings(client, { name, paused: p.paused });
    return { result: undefined, before: { paused: before?.paused ?? false }, after: { paused: p.paused } };
  });
}
