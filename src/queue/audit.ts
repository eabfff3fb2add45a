/**
 * The audit trail: every operator action (AUDIT_ACTIONS) is recorded in the same transaction as the
 * action itself — who, what, the target, and the values before and after — so a row exists exactly
 * when the action happened. Who: the database role is filled in by the server (sql/audit.ts); the
 * client adds what only it knows (the OS user and host for the CLI, the session and the client's
 * address for the dashboard). Values are stored masked (secrets.ts): the trail never holds a secret
 * the jobs table would not show.
 */
import { hostname, userInfo } from "node:os";
import type pg from "pg";
import { inTransaction } from "../db/transaction.js";
import { maskEnv, maskSecrets } from "./secrets.js";
import { InvalidInputError } from "../errors.js";
import type { Queryable } from "../db/queryable.js";
import { insertAuditRows, listAuditRows, type AuditRow } from "./sql/audit.js";

/** What the trail records; `queuectl audit --action` takes these (or their first word). */
export const AUDIT_ACTIONS = [
  "cancel",
  "kill",
  "requeue",
  "dlq retry",
  "dlq retry --edit",
  "purge",
  "config set",
  "queue pause",
  "queue resume",
  "queue set-concurrency",
  "schedule add",
  "schedule remove",
  "schedule pause",
  "schedule resume",
  "worker stop",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who acts, as the client knows it. */
export type Actor =
  | { source: "cli"; osUser: string | null; host: string }
  | { source: "dashboard"; session: string | null; clientAddr: string | null };

/** This process, as the CLI: the OS user and host it runs as. */
export function localActor(): Actor {
  let osUser: string | null = null;
  try {
    osUser = userInfo().username;
  } catch {
    // A uid without a passwd entry (some containers): the database role still says who.
    osUser = process.env.USER ?? null;
  }
  return { source: "cli", osUser, host: hostname() };
}

export interface AuditedChange<T> {
  result: T;
  before?: unknown;
  after?: unknown;
  /** The targets, when known only from the result (the ids `dlq retry --all` retried): replaces the entry's. */
  targets?: readonly string[];
}

/**
 * Runs `work` and records it in one transaction: when `work` throws (a refusal, a conflict), nothing
 * changed and nothing is recorded. `actor` defaults to this process as the CLI. `target` may be a
 * function of the result (the ids a `dlq retry --all` retried): a row per target.
 */
export async function audited<T>(
  pool: pg.Pool,
  entry: { actor?: Actor; action: AuditAction; target: string | readonly string[] },
  work: (client: pg.PoolClient) => Promise<AuditedChange<T>>,
): Promise<T> {
  return inTransaction(pool, async (client) => {
    const change = await work(client);
    await recordAudit(client, { ...entry, target: change.targets ?? entry.target, before: change.before, after: change.after });
    return change.result;
  });
}

/** Writes one row on `client`, inside the caller's transaction (audited, or a statement of its own). */
export async function recordAudit(
  client: pg.PoolClient,
  entry: { actor?: Actor; action: AuditAction; target: string | readonly string[]; before?: unknown; after?: unknown },
): Promise<void> {
  const actor = entry.actor ?? localActor();
  const targets = typeof entry.target === "string" ? [entry.target] : entry.target;
  if (targets.length === 0) return;
  await insertAuditRows(client, {
    source: actor.source,
    osUser: actor.source === "cli" ? actor.osUser : null,
    host: actor.source === "cli" ? actor.host : null,
    session: actor.source === "dashboard" ? actor.session : null,
    clientAddr: actor.source === "dashboard" ? actor.clientAddr : null,
    action: entry.action,
    targets,
    before: masked(entry.before),
    after: masked(entry.after),
  });
}

/** A value for the trail with secrets masked: strings through maskSecrets, an `env` object through maskEnv. */
function masked(value: unknown): unknown {
  if (value === undefined || value === null) return value;
  if (typeof value === "string") return maskSecrets(value);
  if (Array.isArray(value)) return value.map(masked);
  if (typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        k === "env" && v !== null && typeof v === "object" ? maskEnv(v as Record<string, string>) : masked(v),
      ]),
    );
  }
  return value;
}

/** Most rows `queuectl audit` prints unless --limit says otherwise. */
export const DEFAULT_AUDIT_LIMIT = 100;

/**
 * The trail, newest first: since `sinceS` seconds ago (null: all), of one action or a group of them
 * (`dlq` is `dlq retry` and `dlq retry --edit`). An action that is not one of AUDIT_ACTIONS, nor the
 * first word of one, is InvalidInputError.
 */
export async function listAudit(db: Queryable, p: { sinceS: number | null; action: string | null; limit: number }): Promise<AuditRow[]> {
  if (p.action !== null && !AUDIT_ACTIONS.some((a) => a === p.action || a.startsWith(`${p.action} `))) {
    throw new InvalidInputError(`unknown action '${p.action}' (one of: ${AUDIT_ACTIONS.join(", ")})`);
  }
  return listAuditRows(db, p);
}
