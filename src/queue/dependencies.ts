/**
 * Settling dependencies after jobs finish: a completed job releases its dependents, a dead or
 * cancelled one cancels them, and their dependents in turn (transitively). Each round is one
 * statement (sql/dependencies.ts settleDependencies); the rounds follow the chain until nothing more changes.
 */
import type pg from "pg";
import { settleDependencies } from "./sql/dependencies.js";

/** Deepest chain followed in one call; a longer one is finished by the rescuer's next sweep. */
export const MAX_SETTLE_ROUNDS = 1000;

export interface SettledJobs {
  released: string[];
  cancelled: string[];
}

/** Settles the dependents of the finished jobs `ids`, following cancellations down the chain. */
export async function settleFinishedJobs(db: pg.Pool | pg.PoolClient, ids: readonly string[]): Promise<SettledJobs> {
  const all: SettledJobs = { released: [], cancelled: [] };
  let next = [...ids];
  for (let round = 0; next.length > 0 && round < MAX_SETTLE_ROUNDS; round++) {
    const r = await settleDependencies(db, next);
    all.released.push(...r.released);
    all.cancelled.push(...r.cancelled);
    next = r.cancelled;
  }
  return all;
}
