/**
 * `queuectl doctor`: the database's and the queue's health as findings, each with what to do about
 * it. The same report feeds the dashboard's overview and the health gauges of /metrics.
 *
 * A finding is a `problem` (doctor exits 1) or a `notice` (something doctor could not check, or
 * worth knowing, that does not make the queue unhealthy). The readings are sql/health.ts's.
 */
import type pg from "pg";
import { isPermissionDenied, isSchemaError } from "../db/errors.js";
import { migrationStatus } from "../db/migrate.js";
import { checkSchema } from "../db/schema-check.js";
import { loadConfig } from "./config.js";
import {
  listIdleReplicationSlots,
  listPreparedTransactions,
  listSilentWorkers,
  listTransactionHolders,
  readConnectionUse,
  readStrandedJobs,
  readTableHealth,
  readVacuumSettings,
  type ConnectionUse,
  type TableHealth,
} from "./sql/health.js";

/** Every kind of finding, in the order doctor reports them. */
export const HEALTH_CHECKS = [
  "long-transaction",
  "idle-in-transaction",
  "replication-slot",
  "prepared-transaction",
  "autovacuum-off",
  "dead-rows",
  "stuck-processing",
  "orphaned-waiting",
  "silent-worker",
  "schema",
  "connections",
] as const;
export type HealthCheck = (typeof HEALTH_CHECKS)[number];

export interface Finding {
  check: HealthCheck;
  level: "problem" | "notice";
  /** What is wrong, one sentence, naming the pid, table, job or worker concerned. */
  message: string;
  /** What to do about it. */
  remedy: string;
}

export interface HealthReport {
  healthy: boolean;
  findings: Finding[];
  tables: TableHealth[];
  connections: ConnectionUse;
  /** Age in seconds of the oldest transaction in this database that holds vacuum back; 0 when none. */
  oldest_transaction_age_s: number;
}

export interface DoctorOptions {
  /** A transaction (or an idle-in-transaction session) older than this is a finding, in seconds. */
  transactionAgeS: number;
  /**
   * The schema's findings: schemaFindings() for doctor; the dashboard passes a cached copy (the
   * comparison builds the schema in a scratch schema, too slow for every scrape).
   */
  schema: SchemaFindings;
}

export interface SchemaFindings {
  findings: Finding[];
  /** Migrations are applied, so the queue's own tables can be read. */
  migrated: boolean;
}

export const DEFAULT_TRANSACTION_AGE_S = 60;
/** A table is bloated when more than this share of its rows are dead... */
export const DEAD_ROW_SHARE = 0.2;
/** ...and they are more than this many (a small table's share swings with a handful of rows). */
export const DEAD_ROW_MIN = 1000;
/** Connections in use beyond this share of what clients may take. */
export const CONNECTION_SHARE = 0.8;

/** "45s", "3m 02s", "5h 10m", "3d 4h": an age for a one-line message. */
export function ageText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** "740 kB", "6.3 MB", "1.2 GB". */
export function sizeText(bytes: number): string {
  if (bytes < 1_048_576) return `${Math.round(bytes / 1024)} kB`;
  if (bytes < 1_073_741_824) return `${(bytes / 1_048_576).toFixed(1)} MB`;
  return `${(bytes / 1_073_741_824).toFixed(1)} GB`;
}

/** Reads everything and turns it into findings. */
export async function diagnose(pool: pg.Pool, options: DoctorOptions): Promise<HealthReport> {
  const [holders, slots, prepared, settings, tables, queue, connections] = await Promise.all([
    listTransactionHolders(pool, { minAgeS: 0 }),
    listIdleReplicationSlots(pool),
    listPreparedTransactions(pool, { minAgeS: options.transactionAgeS }),
    readVacuumSettings(pool),
    readTableHealth(pool),
    options.schema.migrated ? readQueueHealth(pool) : null,
    readConnectionUse(pool),
  ]);
  const stranded = queue?.stranded ?? { stuck_processing: 0, oldest_stuck_id: null, orphaned_waiting: 0, oldest_orphaned_id: null };
  const silent = queue?.silent ?? [];
  const findings: Finding[] = [];
  const add = (check: HealthCheck, message: string, remedy: string, level: Finding["level"] = "problem") =>
    findings.push({ check, level, message, remedy });

  for (const h of holders.filter((x) => x.xact_age_s > options.transactionAgeS)) {
    const who = `pid ${h.pid}${h.application ? ` (${h.application})` : ""}${h.user ? ` of ${h.user}` : ""}`;
    const end = `end it if it is not a backup or report you expect: SELECT pg_terminate_backend(${h.pid})`;
    if (h.state?.startsWith("idle in transaction")) {
      add(
        "idle-in-transaction",
        `${who} has sat idle in a transaction for ${ageText(h.state_age_s)} (open ${ageText(h.xact_age_s)})${h.holds_xmin ? ", keeping vacuum from removing dead rows" : ", holding its locks and a connection"}`,
        `${end}; set idle_in_transaction_session_timeout so the server ends such sessions`,
      );
    } else {
      add("long-transaction", `${who} has held a transaction open for ${ageText(h.xact_age_s)}, keeping vacuum from removing dead rows`, end);
    }
  }
  for (const s of slots) {
    const holds = [s.xmin_age !== null ? `rows of the last ${s.xmin_age} transactions` : null, s.retained_wal_bytes !== null ? `${sizeText(s.retained_wal_bytes)} of WAL` : null]
      .filter(Boolean)
      .join(" and ");
    add("replication-slot", `replication slot ${s.name} (${s.type}) is not in use and keeps ${holds || "WAL"} from being removed`, `drop it if its consumer is gone: SELECT pg_drop_replication_slot('${s.name}')`);
  }
  for (const x of prepared) {
    add("prepared-transaction", `prepared transaction '${x.gid}' of ${x.owner} has waited ${ageText(x.age_s)} for COMMIT PREPARED or ROLLBACK PREPARED, holding its locks and keeping vacuum from removing dead rows`, `finish it: ROLLBACK PREPARED '${x.gid}' (or COMMIT PREPARED, if its coordinator says so)`);
  }
  if (!settings.autovacuum || !settings.track_counts) {
    // The workers' vacuum duty (worker/vacuum-service.ts) still cleans the queue's own tables when it
    // is on, their role owns them and the server counts dead rows (track_counts), which it goes by;
    // what nothing does then is ANALYZE and the rest of the database.
    const duty = settings.track_counts ? (queue?.vacuumDeadRows ?? 0) : 0;
    add(
      "autovacuum-off",
      `autovacuum is switched off on the server (${!settings.autovacuum ? "autovacuum = off" : "track_counts = off"}): ` +
        (duty > 0
          ? `only the workers' vacuum duty removes the queue's dead rows (past vacuum_dead_rows = ${duty}, if their role owns the tables); nothing refreshes the planner's statistics or vacuums the rest of the database`
          : `dead rows of claimed and finished jobs are never removed (the workers' vacuum duty is ${settings.track_counts ? "off: vacuum_dead_rows = 0" : "blind: it goes by the dead rows the server counts"})`),
      "set autovacuum = on and track_counts = on in postgresql.conf and reload, or run VACUUM (ANALYZE) on the queue's tables from cron",
    );
  }
  for (const t of tables.filter((x) => x.autovacuum_disabled)) {
    add("autovacuum-off", `autovacuum is switched off for table ${t.table}`, `ALTER TABLE ${t.table} RESET (autovacuum_enabled)`);
  }
  for (const t of tables) {
    const all = t.live_rows + t.dead_rows;
    if (t.dead_rows <= DEAD_ROW_MIN || t.dead_rows <= DEAD_ROW_SHARE * all) continue;
    const last = t.last_autovacuum ?? t.last_vacuum;
    add(
      "dead-rows",
      `table ${t.table} has ${t.dead_rows} dead rows against ${t.live_rows} live (${Math.round((100 * t.dead_rows) / all)}%, ${sizeText(t.total_bytes)}); last vacuumed ${last ? `${ageText((Date.now() - last.getTime()) / 1000)} ago` : "never"}`,
      `run VACUUM (ANALYZE) ${t.table}; if it comes back, look for what holds vacuum back (the findings above) or make autovacuum visit it sooner`,
    );
  }
  if (stranded.stuck_processing > 0) {
    add(
      "stuck-processing",
      `${stranded.stuck_processing} job${stranded.stuck_processing === 1 ? " is" : "s are"} processing with a lease that expired more than two leases ago (oldest: ${stranded.oldest_stuck_id}): nothing is taking them back`,
      "start a worker (its rescuer returns them to the queue), or look at the workers' logs for why their rescuer fails",
    );
  }
  if (stranded.orphaned_waiting > 0) {
    add(
      "orphaned-waiting",
      `${stranded.orphaned_waiting} job${stranded.orphaned_waiting === 1 ? " waits" : "s wait"} on dependencies none of which can still finish (first: ${stranded.oldest_orphaned_id})`,
      "start a worker (its rescuer settles or cancels them), or `queuectl cancel` them",
    );
  }
  for (const w of silent) {
    add(
      "silent-worker",
      `worker ${w.id} (pid ${w.pid} on ${w.host}) has sent no heartbeat for ${ageText(w.silent_s)}: it was killed, or its host or network is gone`,
      "check the process on its host; its jobs return to the queue when their leases expire",
    );
  }
  findings.push(...options.schema.findings);
  const usable = connections.max_connections - connections.reserved;
  if (connections.in_use > CONNECTION_SHARE * usable) {
    add(
      "connections",
      `${connections.in_use} of the ${usable} connections clients may open are in use (max_connections ${connections.max_connections}, ${connections.reserved} reserved for superusers)`,
      "run fewer or smaller workers, put PgBouncer in front, or raise max_connections",
    );
  }
  if (!settings.sees_all_sessions) {
    add(
      "long-transaction",
      "this role cannot see other roles' sessions, so transactions they hold open are not checked",
      "run doctor as a superuser, or GRANT pg_monitor TO this role",
      "notice",
    );
  }
  const order = (f: Finding) => (f.level === "problem" ? 0 : 1) * 100 + HEALTH_CHECKS.indexOf(f.check);
  findings.sort((a, b) => order(a) - order(b));
  const oldest = holders.filter((h) => h.holds_xmin).reduce((m, h) => Math.max(m, h.xact_age_s), 0);
  return {
    healthy: !findings.some((f) => f.level === "problem"),
    findings,
    tables,
    connections,
    oldest_transaction_age_s: oldest,
  };
}

/**
 * The readings of the queue's own tables; null when a table or column they name is missing (the
 * schema's finding says which).
 */
async function readQueueHealth(pool: pg.Pool) {
  try {
    const config = await loadConfig(pool);
    const [stranded, silent] = await Promise.all([
      readStrandedJobs(pool, { leaseMs: config.lease_ms }),
      listSilentWorkers(pool, { leaseMs: config.lease_ms }),
    ]);
    return { stranded, silent, vacuumDeadRows: config.vacuum_dead_rows };
  } catch (err) {
    if (isSchemaError(err)) return null;
    throw err;
  }
}

/**
 * The schema's findings: pending migrations, or the first difference between the schema and what
 * the migrations build. The comparison needs CREATE on the database; without it, a notice says so.
 */
export async function schemaFindings(pool: pg.Pool): Promise<SchemaFindings> {
  try {
    return await compareSchema(pool);
  } catch (err) {
    if (!isPermissionDenied(err)) throw err;
    const findings: Finding[] = [
      {
        check: "schema",
        level: "notice",
        message: "the schema was not compared with its migrations: this role may not read the migrations' bookkeeping or create the scratch schema the comparison needs",
        remedy: "run doctor as the schema's owner",
      },
    ];
    return { findings, migrated: true };
  }
}

async function compareSchema(pool: pg.Pool): Promise<SchemaFindings> {
  const pending = (await migrationStatus(pool)).filter((m) => !m.applied);
  if (pending.length > 0) {
    const findings: Finding[] = [
      {
        check: "schema",
        level: "problem",
        message: `${pending.length} migration${pending.length === 1 ? " is" : "s are"} not applied (first: ${pending[0]!.name})`,
        remedy: "run queuectl db migrate",
      },
    ];
    return { findings, migrated: false };
  }
  const { problems } = await checkSchema(pool);
  const [first, ...rest] = problems;
  if (first === undefined) return { findings: [], migrated: true };
  const findings: Finding[] = [
    {
      check: "schema",
      level: "problem",
      message: `the schema differs from its migrations: ${first}${rest.length > 0 ? ` (and ${rest.length} more)` : ""}`,
      remedy: "queuectl db status lists every difference; restore them from the migration files or a backup",
    },
  ];
  return { findings, migrated: true };
}
