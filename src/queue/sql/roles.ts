/**
 * The privileges of each kind of client (`queuectl db grant <role> --as <kind>`), as GRANT statements
 * on this schema's tables. PostgreSQL enforces them: a client holding the role cannot do more by
 * writing SQL of its own. Where a table grant would be too coarse, a column grant or the owner's
 * SECURITY DEFINER function narrows it:
 * - an enqueuer may INSERT jobs only with the columns an enqueue sets (never `state`: its jobs start
 *   pending) and UPDATE only `dependents` (enqueueing B after A counts B on A), so it cannot cancel,
 *   requeue or retry anything;
 * - a worker keeps retention through queuectl_apply_retention, which reads the ages from config
 *   itself, without DELETE on jobs (that would be purge) or on audit_log;
 * - no role may write audit_log's db_role or at (the server fills them), nor update or delete a row;
 * - no role may write dashboard_sessions.db_role, so a session only works for its own role's dashboard.
 * Every kind reads every table: the CLI's reads (status, list, show) and the schema check need them.
 * The schema itself (CREATE, ALTER, DROP, TRUNCATE) stays with its owner, who runs `db migrate`.
 *
 * Granting revokes first, so `grant` moves a role from one kind to another; `db migrate` grants every
 * recorded role again, so a table a later migration adds reaches the roles that need it.
 */
import pg from "pg";
import type { Queryable } from "../../db/queryable.js";

export const ROLE_KINDS = ["enqueuer", "worker", "viewer", "admin"] as const;
export type RoleKind = (typeof ROLE_KINDS)[number];

/** The columns `enqueue` (and a schedule's tick) sets when it inserts a job: sql/enqueue.ts INSERT_JOBS. */
const ENQUEUE_COLUMNS = "id, queue, command, priority, max_retries, timeout_ms, run_at, unique_key, retry_on, no_retry_on, deps_pending, dependents, cwd, env";
/** audit_log's columns a client writes (not id, at, db_role). */
const AUDIT_COLUMNS = "source, os_user, host, session, client_addr, action, target, before, after";
/** dashboard_sessions' columns a dashboard writes (not db_role). */
const SESSION_COLUMNS = "id, token_digest, client, created_at, expires_at";

/** Every table the schema has; each kind may read them all. */
const TABLES = [
  "jobs",
  "job_attempts",
  "job_output",
  "dead_letters",
  "workers",
  "config",
  "queues",
  "job_dependencies",
  "schedules",
  "dashboard_sessions",
  "role_grants",
  "audit_log",
  "_prisma_migrations",
] as const;
/** The tables of the queue's data: an admin reads and writes them all. */
const DATA_TABLES = TABLES.filter((t) => !["dashboard_sessions", "role_grants", "audit_log", "_prisma_migrations"].includes(t));

const DASHBOARD_SESSIONS = [`INSERT (${SESSION_COLUMNS})`, "DELETE"];

/** What each kind may do beyond reading every table: privilege -> table. */
const WRITES: Record<RoleKind, { tables: Array<[string, string[]]>; sequences: string[]; retention: boolean }> = {
  viewer: {
    // A viewer's dashboard opens and ends its own logins.
    tables: [["dashboard_sessions", DASHBOARD_SESSIONS]],
    sequences: [],
    retention: false,
  },
  enqueuer: {
    tables: [
      ["jobs", [`INSERT (${ENQUEUE_COLUMNS})`, "UPDATE (dependents)"]],
      ["job_dependencies", ["INSERT"]],
    ],
    sequences: ["jobs_seq_seq"],
    retention: false,
  },
  worker: {
    tables: [
      // Claims, heartbeats, outcomes, the rescuer; INSERT for a schedule's ticks.
      ["jobs", [`INSERT (${ENQUEUE_COLUMNS})`, "UPDATE"]],
      ["job_attempts", ["INSERT", "UPDATE", "DELETE"]],
      ["job_output", ["INSERT", "DELETE"]],
      ["dead_letters", ["INSERT"]],
      ["workers", ["INSERT", "UPDATE"]],
      ["job_dependencies", ["INSERT", "UPDATE"]],
      ["schedules", ["UPDATE"]],
      // The claim locks the rows of limited queues (FOR UPDATE), which needs an UPDATE privilege on
      // some column: this one, which changes nothing a claim or an operator reads.
      ["queues", ["UPDATE (updated_at)"]],
    ],
    sequences: ["jobs_seq_seq", "job_attempts_id_seq", "job_output_id_seq", "dead_letters_id_seq"],
    retention: true,
  },
  admin: {
    tables: [
      ...DATA_TABLES.map((t): [string, string[]] => [t, ["INSERT", "UPDATE", "DELETE"]]),
      ["dashboard_sessions", DASHBOARD_SESSIONS],
      ["audit_log", [`INSERT (${AUDIT_COLUMNS})`]],
    ],
    sequences: ["jobs_seq_seq", "job_attempts_id_seq", "job_output_id_seq", "dead_letters_id_seq", "audit_log_id_seq"],
    retention: true,
  },
};

const RETENTION_FUNCTION = "queuectl_apply_retention(integer)";
const ALL_SEQUENCES = WRITES.admin.sequences;

const ident = (name: string) => pg.escapeIdentifier(name);

/** The statements that give `role` exactly what `kind` needs (after revokeStatements). */
export function grantStatements(schema: string, role: string, kind: RoleKind): string[] {
  const s = ident(schema);
  const r = ident(role);
  const out = [`GRANT USAGE ON SCHEMA ${s} TO ${r}`, `GRANT SELECT ON ${TABLES.map((t) => `${s}.${ident(t)}`).join(", ")} TO ${r}`];
  for (const [table, privileges] of WRITES[kind].tables) out.push(`GRANT ${privileges.join(", ")} ON ${s}.${ident(table)} TO ${r}`);
  if (WRITES[kind].sequences.length > 0) out.push(`GRANT USAGE ON SEQUENCE ${WRITES[kind].sequences.map((q) => `${s}.${ident(q)}`).join(", ")} TO ${r}`);
  if (WRITES[kind].retention) out.push(`GRANT EXECUTE ON FUNCTION ${s}.${RETENTION_FUNCTION} TO ${r}`);
  return out;
}

/** The statements that take back everything grantStatements of any kind gave (table grants take their column grants with them). */
export function revokeStatements(schema: string, role: string): string[] {
  const s = ident(schema);
  const r = ident(role);
  return [
    `REVOKE ALL ON ${TABLES.map((t) => `${s}.${ident(t)}`).join(", ")} FROM ${r}`,
    `REVOKE ALL ON SEQUENCE ${ALL_SEQUENCES.map((q) => `${s}.${ident(q)}`).join(", ")} FROM ${r}`,
    `REVOKE ALL ON FUNCTION ${s}.${RETENTION_FUNCTION} FROM ${r}`,
    // What PUBLIC holds (USAGE on a default public schema) stays: that is the database's own setting.
    `REVOKE USAGE ON SCHEMA ${s} FROM ${r}`,
  ];
}

/** Whether this connection may grant on the queue's tables: it owns them (or is a member of their owner, or a superuser). */
export async function ownsSchema(db: Queryable): Promise<boolean> {
  const res = await db.query<{ owns: boolean }>(
    "SELECT pg_has_role(current_user, c.relowner, 'USAGE') AS owns FROM pg_class c WHERE c.oid = 'jobs'::regclass",
  );
  return res.rows[0]?.owns === true;
}

export interface RoleFacts {
  exists: boolean;
  superuser: boolean;
  /** The role is the one running this statement (the owner, when it runs `db grant`). */
  isCurrent: boolean;
}

/** What `db grant` checks before granting: the role exists, is not a superuser (no grant limits one), and is not the caller. */
export async function readRoleFacts(db: Queryable, role: string): Promise<RoleFacts> {
  const res = await db.query<{ superuser: boolean; is_current: boolean }>(
    "SELECT rolsuper AS superuser, rolname = current_user AS is_current FROM pg_roles WHERE rolname = $1",
    [role],
  );
  const row = res.rows[0];
  return { exists: row !== undefined, superuser: row?.superuser ?? false, isCurrent: row?.is_current ?? false };
}

/** The schema the queue's tables are in (the connection's first schema on its search_path). */
export async function currentSchema(db: Queryable): Promise<string> {
  const res = await db.query<{ schema: string }>("SELECT current_schema() AS schema");
  return res.rows[0]!.schema;
}

/** Creates a login role with `password`, or sets an existing role's password (and LOGIN). */
export async function createOrUpdateLogin(db: Queryable, p: { role: string; password: string; exists: boolean }): Promise<void> {
  const verb = p.exists ? "ALTER" : "CREATE";
  await db.query(`${verb} ROLE ${ident(p.role)} WITH LOGIN PASSWORD ${pg.escapeLiteral(p.password)}`);
}

/** Drops a role (refused by the server while it owns objects or holds privileges in another database). */
export async function dropRole(db: Queryable, role: string): Promise<void> {
  await db.query(`DROP ROLE ${ident(role)}`);
}

/** Records (or changes) a role's kind. */
export async function upsertRoleGrant(db: Queryable, p: { role: string; kind: RoleKind }): Promise<void> {
  await db.query(
    `INSERT INTO role_grants (role, kind) VALUES ($1, $2)
     ON CONFLICT (role) DO UPDATE SET kind = EXCLUDED.kind, granted_at = now()`,
    [p.role, p.kind],
  );
}

/** Forgets a role's kind; returns the kind it had, or null. */
export async function deleteRoleGrant(db: Queryable, role: string): Promise<RoleKind | null> {
  const res = await db.query<{ kind: RoleKind }>("DELETE FROM role_grants WHERE role = $1 RETURNING kind", [role]);
  return res.rows[0]?.kind ?? null;
}

/** Every recorded role, by name, with whether it still exists (a dropped role keeps its row until revoked). */
export async function listRoleGrants(db: Queryable): Promise<Array<{ role: string; kind: RoleKind; granted_at: Date; exists: boolean }>> {
  const res = await db.query<{ role: string; kind: RoleKind; granted_at: Date; exists: boolean }>(
    `SELECT g.role, g.kind, g.granted_at, EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = g.role) AS exists
     FROM role_grants g ORDER BY g.role`,
  );
  return res.rows;
}

/**
 * Who this connection is: its login role, the kind recorded for it (null: none, e.g. the owner), and
 * whether it may act as an operator (write the audit trail; the dashboard shows action buttons then).
 */
export async function readSessionRole(db: Queryable): Promise<{ role: string; kind: RoleKind | null; can_act: boolean }> {
  const res = await db.query<{ role: string; kind: RoleKind | null; can_act: boolean }>(
    `SELECT session_user AS role, (SELECT kind FROM role_grants WHERE role = session_user) AS kind,
            has_column_privilege('audit_log', 'action', 'INSERT') AS can_act`,
  );
  return res.rows[0]!;
}
