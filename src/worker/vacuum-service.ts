/**
 * Vacuums the queue's tables once their dead rows pass config `vacuum_dead_rows` (0: leave it to
 * autovacuum), checked every VACUUM_INTERVAL_MS: sql/vacuum.ts says why the queue does this itself.
 * While a long transaction holds the vacuum horizon, the dead rows stay past the threshold but no
 * VACUUM can remove them: a table vacuumed at the current horizon waits until the horizon moves,
 * instead of being scanned again every 2 s for nothing.
 * Every worker runs one; a table another worker is vacuuming is skipped, and one just vacuumed no
 * longer has the dead rows to qualify. A role that does not own the tables (a `worker` role made by
 * `db grant`) cannot vacuum them: the service says so once and leaves them to autovacuum.
 */
import type pg from "pg";
import type { QueueConfig } from "../queue/config.js";
import { mayVacuum, readVacuumHorizon, tablesToVacuum, vacuumTable, type DeadRows } from "../queue/sql/vacuum.js";
import type { Logger } from "./logger.js";
import { PeriodicService } from "./periodic-service.js";

/** Time between checks, in ms (plus up to 10% jitter so workers spread out). */
export const VACUUM_INTERVAL_MS = 2_000;

export class VacuumService extends PeriodicService {
  private allowed: boolean | undefined;
  /** The horizon (readVacuumHorizon) each table was last vacuumed at. */
  private readonly vacuumedAt = new Map<string, string>();

  constructor(private readonly deps: { pool: pg.Pool; log: Logger; config: () => QueueConfig }) {
    super("vacuum", deps.log);
  }

  protected intervalMs(): number {
    return Math.floor(VACUUM_INTERVAL_MS * (1 + Math.random() * 0.1));
  }

  /** Vacuums every table over the threshold; returns those it vacuumed (with their dead rows before). */
  async runOnce(): Promise<DeadRows[]> {
    const minDead = this.deps.config().vacuum_dead_rows;
    if (minDead === 0) return [];
    if (this.allowed === undefined) {
      this.allowed = await mayVacuum(this.deps.pool);
      if (!this.allowed) this.deps.log.info({}, "vacuum: this role does not own the queue's tables; autovacuum alone removes their dead rows");
    }
    if (!this.allowed) return [];
    const over = await tablesToVacuum(this.deps.pool, { minDead });
    if (over.length === 0) return [];
    const horizon = await readVacuumHorizon(this.deps.pool);
    const due = over.filter((t) => horizon === null || this.vacuumedAt.get(t.table) !== horizon);
    for (const t of due) {
      await vacuumTable(this.deps.pool, t.table);
      // With no horizon nothing is skipped, and an xid once past never holds the horizon again.
      if (horizon !== null) this.vacuumedAt.set(t.table, horizon);
    }
    if (due.length > 0) this.deps.log.debug({ tables: due }, "vacuum: removed dead rows");
    return due;
  }
}
