/**
 * The worker's vacuum duty (worker/vacuum-service.ts): which of the queue's tables have piled up
 * dead rows, and VACUUM for one of them.
 *
 * Why the queue vacuums its own tables: every claim and completion changes `state`, an indexed
 * column, so neither update can be HOT and each leaves a dead row version (3 per job across jobs and
 * job_attempts). Autovacuum visits a database at most once per autovacuum_naptime (a minute by
 * default) and, by default, only once a fifth of a table is dead: at 80 jobs/s that is 15 000 dead
 * rows between visits, which the claim's index scans step over. A plain VACUUM takes a SHARE UPDATE
 * EXCLUSIVE lock, which conflicts with no reads or writes, only with another VACUUM or DDL; with
 * SKIP_LOCKED a second worker vacuuming the same table skips it instead of waiting.
 */
import { escapeIdentifier } from "pg";
import type { Queryable } from "../../db/queryable.js";

export interface DeadRows {
  table: string;
  dead_rows: number;
}

/**
 * Tables of the queue's schema with more than `minDead` dead rows (pg_stat_user_tables, the estimate
 * autovacuum decides on) that this role may vacuum: it owns them (or is a member of their owner).
 */
export async function tablesToVacuum(db: Queryable, p: { minDead: number }): Promise<DeadRows[]> {
  const res = await db.query<DeadRows>(
    `SELECT s.relname AS table, s.n_dead_tup::float8 AS dead_rows
     FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
     WHERE s.schemaname = current_schema() AND s.relname <> '_prisma_migrations' AND s.n_dead_tup > $1
       AND pg_has_role(current_user, c.relowner, 'USAGE')
     ORDER BY s.n_dead_tup DESC`,
    [p.minDead],
  );
  return res.rows;
}

/** Whether this role owns the queue's jobs table (and so may vacuum it). */
export async function mayVacuum(db: Queryable): Promise<boolean> {
  const res = await db.query<{ owns: boolean | null }>(
    `SELECT pg_has_role(current_user, c.relowner, 'USAGE') AS owns
     FROM pg_class c WHERE c.oid = to_regclass(quote_ident(current_schema()) || '.jobs')`,
  );
  return res.rows[0]?.owns === true;
}

/**
 * The transaction that sets this database's vacuum horizon: the xid of the oldest snapshot or
 * transaction another session holds (sessions of this database or of none, such as a walsender with
 * hot_standby_feedback; replication slots; prepared transactions), as text; null when none does.
 * VACUUM can remove a row version only once the transaction that deleted it is older than the
 * horizon, so after a VACUUM at horizon H another VACUUM at the same H finds nothing new to remove:
 * every row deleted since was deleted by a transaction no older than H.
 *
 * Sessions running VACUUM (autovacuum workers, other workers' duty) are left out, as PostgreSQL
 * leaves them out of the horizon; so are sessions whose type and query this role may not see (they
 * could be either). A holder left out mostly makes the horizon read here newer and changing, so the
 * duty vacuums as it would without the check; the one loss: when a hidden holder older than a visible
 * one ends, the rows it kept wait for the visible one to end too (or for autovacuum).
 */
export async function readVacuumHorizon(db: Queryable): Promise<string | null> {
  const res = await db.query<{ horizon: string }>(
    `SELECT x::text AS horizon FROM (
       SELECT unnest(ARRAY[backend_xmin, backend_xid]) AS x FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND (datname = current_database() OR datname IS NULL)
          AND backend_type IS NOT NULL AND backend_type <> 'autovacuum worker'
          AND NOT (state = 'active' AND query ~* '^\\s*vacuum')
       UNION ALL
       SELECT xmin FROM pg_replication_slots WHERE xmin IS NOT NULL
       UNION ALL
       SELECT transaction FROM pg_prepared_xacts WHERE database = current_database()
     ) held WHERE x IS NOT NULL ORDER BY age(x) DESC LIMIT 1`,
  );
  return res.rows[0]?.horizon ?? null;
}

/** VACUUM of one table, skipped when another session is vacuuming it (SKIP_LOCKED). Not in a transaction. */
export async function vacuumTable(db: Queryable, table: string): Promise<void> {
  await db.query(`VACUUM (SKIP_LOCKED) ${escapeIdentifier(table)}`);
}
