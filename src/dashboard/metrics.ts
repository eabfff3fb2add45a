/**
 * `/metrics` in the Prometheus text format, rendered by prom-client.
 *
 * Where the numbers come from: the dashboard runs no jobs, so it cannot count events as they happen
 * (that would need every worker to expose its own metrics, and a worker that dies takes its counts
 * with it). Instead every scrape reads the database, the single source of truth, in one
 * REPEATABLE READ snapshot:
 * - gauges (jobs per queue and state, queue lag, live workers, DLQ size) are current values;
 * - counters (finished attempts per outcome, dead-lettered jobs) and the attempt-duration histogram
 *   are totals over job_attempts / dead_letters. Totals rather than deltas since the last scrape
 *   because they are stateless: any number of dashboards (or a restarted one) report the same values,
 *   and no attempt is missed when its row commits after a watermark moved. The cost is one scan of
 *   job_attempts per scrape (an aggregate in PostgreSQL; only a few rows come back). If rows are ever
 *   deleted (retention), a counter drops and Prometheus treats it as a counter reset, which rate()
 *   and increase() already handle.
 */
import type pg from "pg";
import { Counter, Gauge, Histogram, Registry, type LabelValues, type MetricType } from "prom-client";
import { inTransaction } from "../db/transaction.js";
import { loadConfig } from "../queue/config.js";
import { JOB_STATES } from "../queue/job.js";
import { countJobsByQueueAndState, type QueueStateCount } from "../queue/sql/dashboard-reads.js";
import {
  aggregateAttempts,
  countDeadLettered,
  countOpenDeadLetters,
  DURATION_BUCKETS_S,
  queueLagSeconds,
  type AttemptAggregate,
} from "../queue/sql/metrics-reads.js";
import { countLiveWorkers } from "../queue/sql/workers.js";
import type { HealthRead } from "./health-read.js";
import { createHealthGauges } from "./health-metrics.js";
import { sharedRead } from "./shared-read.js";

/** Everything one scrape reports, read in one snapshot. */
export interface MetricsSnapshot {
  jobs: QueueStateCount[];
  lag: Array<{ queue: string; seconds: number }>;
  attempts: AttemptAggregate[];
  deadLettered: Array<{ queue: string; count: number }>;
  workersAlive: number;
  dlqSize: number;
}

/**
 * Reads a MetricsSnapshot: the job and attempt numbers in one read-only REPEATABLE READ transaction so
 * they agree with each other; live workers (from the workers table) beside it.
 */
export async function loadMetricsSnapshot(pool: pg.Pool): Promise<MetricsSnapshot> {
  const config = await loadConfig(pool);
  const [numbers, workersAlive] = await Promise.all([loadJobNumbers(pool), countLiveWorkers(pool, { leaseMs: config.lease_ms })]);
  return { ...numbers, workersAlive };
}

async function loadJobNumbers(pool: pg.Pool): Promise<Omit<MetricsSnapshot, "workersAlive">> {
  return inTransaction(
    pool,
    async (client) => {
      // One connection runs one statement at a time; sequential keeps it simple and consistent.
      const jobs = await countJobsByQueueAndState(client);
      const lag = await queueLagSeconds(client);
      const attempts = await aggregateAttempts(client);
      const deadLettered = await countDeadLettered(client);
      const dlqSize = await countOpenDeadLetters(client);
      return { jobs, lag, attempts, deadLettered, dlqSize };
    },
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
  );
}

type AttemptLabels = "queue" | "outcome";
/** The histogram's series carry `le` besides its own labels. */
type BucketLabels = AttemptLabels | "le";

/**
 * A histogram whose buckets PostgreSQL already counted. prom-client's Histogram only learns through
 * observe() (one call per value: a million calls per scrape here), so this subclass reports the
 * precomputed series instead, in the same shape prom-client's own histogram produces; the registry
 * formats and escapes them as usual. This is the "custom collector" Prometheus recommends for
 * exporters of pre-aggregated data.
 */
class PrecomputedHistogram extends Histogram<BucketLabels> {
  private series: AttemptAggregate[] = [];

  constructor(private readonly meta: { name: string; help: string }) {
    super({ ...meta, labelNames: ["queue", "outcome"], buckets: [...DURATION_BUCKETS_S], registers: [] });
  }

  setSeries(series: AttemptAggregate[]): void {
    this.series = series;
  }

  override async get(): ReturnType<Histogram<BucketLabels>["get"]> {
    const name = this.meta.name;
    const values = this.series.flatMap((s) => {
      const labels: LabelValues<BucketLabels> = { queue: s.queue, outcome: s.outcome };
      return [
        ...DURATION_BUCKETS_S.map((le, i) => ({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: s.buckets[i] ?? 0 })),
        { metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: s.count },
        { metricName: `${name}_sum`, labels, value: s.sum_s },
        { metricName: `${name}_count`, labels, value: s.count },
      ];
    });
    // prom-client's typings declare `type` as a numeric enum that its JavaScript never exports; the
    // registry prints the string, which is what its own Histogram puts there.
    const type = "histogram" as unknown as MetricType;
    return { name, help: this.meta.help, type, values, aggregator: "sum", collect: () => {} };
  }

  /** The registry prefers this method of prom-client's Histogram when present; report the same. */
  async getForPromString(): ReturnType<Histogram<BucketLabels>["get"]> {
    return this.get();
  }
}

export interface DashboardMetrics {
  /** The Content-Type of render()'s text. */
  contentType: string;
  /** Reads the database and renders every metric. Concurrent calls share one read. */
  render(): Promise<string>;
}

export function createMetrics(ctx: { pool: pg.Pool; health: HealthRead }): DashboardMetrics {
  const registry = new Registry();
  const healthGauges = createHealthGauges(registry);
  const jobs = new Gauge({
    name: "queuectl_jobs",
    help: "Jobs per queue and state (every state is reported for every queue that has jobs)",
    labelNames: ["queue", "state"] as const,
    registers: [registry],
  });
  const lag = new Gauge({
    name: "queuectl_queue_lag_seconds",
    help: "Age of the oldest runnable job (pending or failed, run_at passed) per queue; 0 when none waits",
    labelNames: ["queue"] as const,
    registers: [registry],
  });
  const workers = new Gauge({
    name: "queuectl_workers_alive",
    help: "Workers running or stopping whose heartbeat is fresher than 2 x lease_ms",
    registers: [registry],
  });
  const dlq = new Gauge({
    name: "queuectl_dead_letter_queue_jobs",
    help: "Jobs waiting in the Dead Letter Queue (not retried)",
    registers: [registry],
  });
  const attempts = new Counter({
    name: "queuectl_job_attempts_total",
    help: "Finished job attempts per queue and outcome (completed, or failed: non-zero exit, timeout, lease expired)",
    labelNames: ["queue", "outcome"] as const,
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: "queuectl_jobs_dead_lettered_total",
    help: "Jobs that were moved to the Dead Letter Queue after their last retry, per queue",
    labelNames: ["queue"] as const,
    registers: [registry],
  });
  const duration = new PrecomputedHistogram({
    name: "queuectl_job_attempt_duration_seconds",
    help: "Duration of finished job attempts (finished_at - started_at) per queue and outcome",
  });
  registry.registerMetric(duration);

  function apply(s: MetricsSnapshot): void {
    jobs.reset();
    const queues = [...new Set(s.jobs.map((r) => r.queue))];
    for (const queue of queues) for (const state of JOB_STATES) jobs.set({ queue, state }, 0);
    for (const r of s.jobs) jobs.set({ queue: r.queue, state: r.state }, r.count);

    lag.reset();
    for (const queue of queues) lag.set({ queue }, 0);
    for (const r of s.lag) lag.set({ queue: r.queue }, r.seconds);

    workers.set(s.workersAlive);
    dlq.set(s.dlqSize);

    // Counters from totals: reset, then add the total once (prom-client counters have no set()).
    attempts.reset();
    for (const a of s.attempts) attempts.inc({ queue: a.queue, outcome: a.outcome } satisfies LabelValues<AttemptLabels>, a.count);
    deadLettered.reset();
    for (const d of s.deadLettered) deadLettered.inc({ queue: d.queue }, d.count);

    duration.setSeries(s.attempts);
  }

  // Concurrent scrapes share one read (the metric objects are shared, so two renders must not
  // interleave their reset/set); a scrape right after another gets a fresh one.
  const render = sharedRead(
    async () => {
      const [snapshot, report] = await Promise.all([loadMetricsSnapshot(ctx.pool), ctx.health()]);
      apply(snapshot);
      healthGauges.apply(report);
      return registry.metrics();
    },
    { ttlMs: 0 },
  );

  return { contentType: registry.contentType, render };
}
