/**
 * The readings behind `queuectl doctor`, the dashboard's health panel and the health gauges of
 * /metrics: what holds vacuum back, whether autovacuum runs, each table's dead rows, jobs and
 * workers recovery has not dealt with, and connections in use.
 *
 * All are reads of PostgreSQL's statistics views and of the queue's tables; none takes a lock beyond
 * a plain SELECT's, so they are safe to run at any time beside workers. The statistics views are
 * per-session snapshots (pg_stat_*): each statement here runs on whichever pooled connection is free,
 * and sees the server's counters as they were last flushed (up to ~0.5 s old).
 */
import type { Queryable } from "../../db/queryable.js";

/** A session whose open transaction keeps vacuum from removing dead rows, or that sits idle inside one. */
export interface TransactionHolder {
  pid: number;
  user: string | null;
  application: string | null;
  /** `active`, `idle in transaction`, `idle in transaction (aborted)`, ... */
  state: string | null;
  /** Seconds since the transaction began. */
  xact_age_s: number;
  /** Seconds since the session last changed state (how long it has been idle, for idle ones). */
  state_age_s: number;
  /** The session holds a snapshot or a transaction id: vacuum cannot remove rows it might see. */
  holds_xmin: boolean;
}

/**
 * Sessions of this database (other than this one) in a transaction older than `minAgeS`: those that
 * hold a snapshot or a transaction id (they stop vacuum), and those idle in a transaction (they hold
 * locks and a connection even without a snapshot). Since PostgreSQL 14 only sessions of the same
 * database hold back vacuum of its tables. Without pg_read_all_stats (pg_monitor), a role sees other
 * roles' sessions with these columns empty; readStatsVisibility says whether that is the case.
 */
export async function listTransactionHolders(db: Queryable, p: { minAgeS: number }): Promise<TransactionHolder[]> {
  const res = await db.query<TransactionHolder>(
    `SELECT pid, usename AS user, nullif(application_name, '') AS application, state,
            extract(epoch FROM now() - xact_start)::float8 AS xact_age_s,
            extract(epoch FROM now() - state_change)::float8 AS state_age_s,
            (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL) AS holds_xmin
     FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
       AND now() - xact_start > make_interval(secs => $1::float8)
       AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL OR state LIKE 'idle in transaction%')
     ORDER BY xact_start`,
    [p.minAgeS],
  );
  return res.rows;
}

/** A replication slot that keeps rows (xmin, catalog_xmin) or WAL from being removed while nothing reads it. */
export interface IdleSlot {
  name: string;
  type: string;
  /** Transactions since the slot's xmin (or catalog_xmin): how far it holds vacuum back; null when it holds none. */
  xmin_age: number | null;
  /** Bytes of WAL the server keeps for it. */
  retained_wal_bytes: number | null;
}

/**
 * Inactive replication slots of this server (physical ones, and logical ones of this database): a
 * consumer that went away leaves its slot behind, and the slot keeps WAL, and with an xmin also dead
 * rows, forever. Active slots are being read and are left to replication monitoring.
 */
export async function listIdleReplicationSlots(db: Queryable): Promise<IdleSlot[]> {
  const res = await db.query<IdleSlot>(
    `SELECT slot_name AS name, slot_type AS type,
            greatest(age(xmin), age(catalog_xmin))::int AS xmin_age,
            CASE WHEN pg_is_in_recovery() THEN NULL
                 ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 END AS retained_wal_bytes
     FROM pg_replication_slots
     WHERE NOT active AND (database IS NULL OR database = current_database())
     ORDER BY slot_name`,
  );
  return res.rows;
}

/** A prepared (two-phase) transaction nobody committed or rolled back: it holds its snapshot and locks. */
export interface PreparedTransaction {
  gid: string;
  owner: string;
  age_s: number;
}

export async function listPreparedTransactions(db: Queryable, p: { minAgeS: number }): Promise<PreparedTransaction[]> {
  const res = await db.query<PreparedTransaction>(
    `SELECT gid, owner, extract(epoch FROM now() - prepared)::float8 AS age_s
     FROM pg_prepared_xacts
     WHERE database = current_database() AND now() - prepared > make_interval(secs => $1::float8)
     ORDER BY prepared`,
    [p.minAgeS],
  );
  return res.rows;
}

/** Server settings that decide whether dead rows are ever removed, and whether this role sees other sessions. */
export interface VacuumSettings {
  autovacuum: boolean;
  track_counts: boolean;
  /** The role may read every session's details (superuser, or a member of pg_read_all_stats). */
  sees_all_sessions: boolean;
}

export async function readVacuumSettings(db: Queryable): Promise<VacuumSettings> {
  const res = await db.query<VacuumSettings>(
    `SELECT current_setting('autovacuum')::boolean AS autovacuum,
            current_setting('track_counts')::boolean AS track_counts,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
              OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS sees_all_sessions`,
  );
  return res.rows[0]!;
}

/** One of the queue's tables, as the statistics collector and the catalog see it. */
export interface TableHealth {
  table: string;
  live_rows: number;
  dead_rows: number;
  /** Heap, indexes and TOAST, in bytes. */
  total_bytes: number;
  /** Autovacuum switched off for this table by a storage parameter (ALTER TABLE ... SET (autovacuum_enabled = off)). */
  autovacuum_disabled: boolean;
  last_autovacuum: Date | null;
  last_vacuum: Date | null;
}

/**
 * Every table of the current schema (the queue's tables; Prisma's bookkeeping table aside) with its
 * live and dead row counts, size and vacuum history. n_live_tup and n_dead_tup are estimates the
 * server keeps as rows change; they are what autovacuum itself decides on.
 */
export async function readTableHealth(db: Queryable): Promise<TableHealth[]> {
  const res = await db.query<TableHealth>(
    `SELECT c.relname AS table, coalesce(s.n_live_tup, 0)::float8 AS live_rows, coalesce(s.n_dead_tup, 0)::float8 AS dead_rows,
            pg_total_relation_size(c.oid)::float8 AS total_bytes,
            coalesce('autovacuum_enabled=false' = ANY(c.reloptions) OR 'autovacuum_enabled=off' = ANY(c.reloptions), false) AS autovacuum_disabled,
            s.last_autovacuum, s.last_vacuum
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> '_prisma_migrations'
     ORDER BY c.relname`,
  );
  return res.rows;
}

/** Jobs recovery should have taken back, and has not. */
export interface StrandedJobs {
  /** Jobs `processing` whose lease expired more than two leases ago: the rescuer is not running, or failing. */
  stuck_processing: number;
  oldest_stuck_id: string | null;
  /**
   * Jobs pending on dependencies none of which can still settle: every open edge points at a job
   * that already finished (or at none), so nothing will ever release them unless the rescuer's
   * repair runs.
   */
  orphaned_waiting: number;
  oldest_orphaned_id: string | null;
}

/**
 * Counts the jobs of StrandedJobs. The first part reads jobs_lease_idx (processing rows only); the
 * second jobs_waiting_idx (rows with dependencies pending) and each one's open edges.
 */
export async function readStrandedJobs(db: Queryable, p: { leaseMs: number }): Promise<StrandedJobs> {
  const res = await db.query<StrandedJobs>(
    `WITH stuck AS (
       SELECT id, lease_expires_at FROM jobs
       WHERE state = 'processing' AND lease_expires_at < now() - make_interval(secs => 2 * $1::float8 / 1000)
     ), orphaned AS (
       SELECT j.id, j.seq FROM jobs j
       WHERE j.deps_pending > 0 AND j.state = 'pending'
         AND NOT EXISTS (
           SELECT 1 FROM job_dependencies d JOIN jobs dep ON dep.id = d.depends_on
           WHERE d.job_id = j.id AND d.settled_at IS NULL AND dep.state NOT IN ('completed', 'dead', 'cancelled'))
     )
     SELECT (SELECT count(*) FROM stuck)::int AS stuck_processing,
            (SELECT id FROM stuck ORDER BY lease_expires_at LIMIT 1) AS oldest_stuck_id,
            (SELECT count(*) FROM orphaned)::int AS orphaned_waiting,
            (SELECT id FROM orphaned ORDER BY seq LIMIT 1) AS oldest_orphaned_id`,
    [p.leaseMs],
  );
  return res.rows[0]!;
}

/** A worker whose row says it runs, whose heartbeat stopped more than two leases ago. */
export interface SilentWorker {
  id: string;
  host: string;
  pid: number;
  silent_s: number;
}

/**
 * Workers running or stopping by their row, silent for more than two leases (the rule every read of
 * workers uses for "alive") but less than a day: the window `worker list` shows lost workers in. A
 * worker killed last month is history, not a finding.
 */
export async function listSilentWorkers(db: Queryable, p: { leaseMs: number }): Promise<SilentWorker[]> {
  const res = await db.query<SilentWorker>(
    `SELECT id, host, pid, extract(epoch FROM now() - heartbeat_at)::float8 AS silent_s
     FROM workers
     WHERE state IN ('running', 'stopping')
       AND heartbeat_at < now() - make_interval(secs => 2 * $1::float8 / 1000)
       AND heartbeat_at > now() - interval '1 day'
     ORDER BY heartbeat_at`,
    [p.leaseMs],
  );
  return res.rows;
}

/** Client connections against what the server allows. */
export interface ConnectionUse {
  /** Client sessions on the whole server (every database): they share one max_connections. */
  in_use: number;
  max_connections: number;
  /** Slots only superusers may take. */
  reserved: number;
}

export async function readConnectionUse(db: Queryable): Promise<ConnectionUse> {
  const res = await db.query<ConnectionUse>(
    `SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS in_use,
            current_setting('max_connections')::int AS max_connections,
            current_setting('superuser_reserved_connections')::int AS reserved`,
  );
  return res.rows[0]!;
}
