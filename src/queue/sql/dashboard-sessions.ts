/**
 * Statements for dashboard logins (dashboard/sessions.ts). A session is one row, keyed by the SHA-256
 * of the secret its cookie holds; deleting the row ends the session for every dashboard process.
 */
import type { Queryable } from "../../db/queryable.js";

/** Stores a new session and deletes expired ones (a login is rare enough to carry the cleanup). */
export async function insertDashboardSession(db: Queryable, p: { id: string; tokenDigest: string; client: string | null; maxAgeS: number }): Promise<void> {
  await db.query(
    `WITH expired AS (DELETE FROM dashboard_sessions WHERE expires_at < now())
     INSERT INTO dashboard_sessions (id, token_digest, client, expires_at)
     VALUES ($1, $2, $3, now() + make_interval(secs => $4::float8))`,
    [p.id, p.tokenDigest, p.client, p.maxAgeS],
  );
}

/**
 * Whether a session is open: stored, not expired, opened with the token in use now, and by the role
 * this dashboard runs as (db_role defaults to current_user and no role may write it: a viewer cannot
 * make a session an admin's dashboard would accept).
 */
export async function dashboardSessionValid(db: Queryable, p: { id: string; tokenDigest: string }): Promise<boolean> {
  const res = await db.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM dashboard_sessions WHERE id = $1 AND token_digest = $2 AND expires_at > now() AND db_role = current_user) AS ok`,
    [p.id, p.tokenDigest],
  );
  return res.rows[0]?.ok === true;
}

/** Ends a session (logout). */
export async function deleteDashboardSession(db: Queryable, id: string): Promise<void> {
  await db.query(`DELETE FROM dashboard_sessions WHERE id = $1`, [id]);
}
