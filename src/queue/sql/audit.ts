/**
 * Statements for the audit trail (queue/audit.ts). Rows are only ever inserted here; db_role and at
 * are left to their defaults (session_user, now()): roles are granted INSERT on the other columns only
 * (sql/roles.ts), so a client cannot write another role's name or another time.
 */
import type { Queryable } from "../../db/queryable.js";

export interface AuditRowInput {
  source: string;
  osUser: string | null;
  host: string | null;
  session: string | null;
  clientAddr: string | null;
  action: string;
  /** One row per target, alike otherwise (a requeue of five jobs is five rows). */
  targets: readonly string[];
  before: unknown;
  after: unknown;
}

export interface AuditRow {
  id: string;
  at: Date;
  db_role: string;
  source: string;
  os_user: string | null;
  host: string | null;
  session: string | null;
  client_addr: string | null;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

/** Appends a row per target; called inside the action's transaction, so the rows exist exactly when the action committed. */
export async function insertAuditRows(db: Queryable, r: AuditRowInput): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (source, os_user, host, session, client_addr, action, target, before, after)
     SELECT $1, $2, $3, $4, $5, $6, t, $8::jsonb, $9::jsonb FROM unnest($7::text[]) AS t`,
    [r.source, r.osUser, r.host, r.session, r.clientAddr, r.action, r.targets, json(r.before), json(r.after)],
  );
}

function json(v: unknown): string | null {
  return v === undefined ? null : JSON.stringify(v);
}

/** Rows newest first, optionally since a time and of one action (or actions starting with it: `dlq` finds `dlq retry`). */
export async function listAuditRows(db: Queryable, p: { sinceS: number | null; action: string | null; limit: number }): Promise<AuditRow[]> {
  const res = await db.query<AuditRow>(
    `SELECT id::text, at, db_role, source, os_user, host, session, client_addr, action, target, before, after
     FROM audit_log
     WHERE ($1::float8 IS NULL OR at >= now() - make_interval(secs => $1::float8))
       AND ($2::text IS NULL OR action = $2 OR action LIKE $2 || ' %')
     ORDER BY at DESC, id DESC
     LIMIT $3`,
    [p.sinceS, p.action, p.limit],
  );
  return res.rows;
}
