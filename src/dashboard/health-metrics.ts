/**
 * `queuectl doctor`'s report as Prometheus gauges, beside the queue's own metrics in /metrics: a
 * count of problems per check (every check reported, 0 when fine, so an alert can name the check),
 * each table's live and dead rows and size, the oldest transaction holding vacuum back, and the
 * connections in use.
 */
import { Gauge, type Registry } from "prom-client";
import { HEALTH_CHECKS, type HealthReport } from "../queue/doctor.js";

export function createHealthGauges(registry: Registry): { apply(report: HealthReport): void } {
  const registers = [registry];
  const problems = new Gauge({
    name: "queuectl_health_problems",
    help: "Problems `queuectl doctor` reports, per check (0 when the check finds nothing)",
    labelNames: ["check"] as const,
    registers,
  });
  const live = new Gauge({ name: "queuectl_table_live_rows", help: "Live rows per queuectl table (pg_stat_user_tables.n_live_tup)", labelNames: ["table"] as const, registers });
  const dead = new Gauge({
    name: "queuectl_table_dead_rows",
    help: "Dead rows per queuectl table, not yet removed by vacuum (pg_stat_user_tables.n_dead_tup)",
    labelNames: ["table"] as const,
    registers,
  });
  const size = new Gauge({ name: "queuectl_table_size_bytes", help: "Size per queuectl table with its indexes and TOAST", labelNames: ["table"] as const, registers });
  const oldest = new Gauge({
    name: "queuectl_oldest_transaction_age_seconds",
    help: "Age of the oldest transaction in this database that keeps vacuum from removing dead rows; 0 when none",
    registers,
  });
  const inUse = new Gauge({ name: "queuectl_connections_in_use", help: "Client connections open on the server, every database", registers });
  const usable = new Gauge({ name: "queuectl_connections_usable", help: "max_connections less the slots reserved for superusers", registers });

  return {
    apply(report) {
      problems.reset();
      for (const check of HEALTH_CHECKS) problems.set({ check }, 0);
      for (const f of report.findings) if (f.level === "problem") problems.inc({ check: f.check });
      live.reset();
      dead.reset();
      size.reset();
      for (const t of report.tables) {
        live.set({ table: t.table }, t.live_rows);
        dead.set({ table: t.table }, t.dead_rows);
        size.set({ table: t.table }, t.total_bytes);
      }
      oldest.set(report.oldest_transaction_age_s);
      inUse.set(report.connections.in_use);
      usable.set(report.connections.max_connections - report.connections.reserved);
    },
  };
}
