/**
 * bench/soak.mjs's summary: each system's samples split into phases, the goals checked against them,
 * the tables printed, and the CSV rows and chart written. The method and every threshold are described
 * in bench/soak.mjs's header and docs/benchmarks.md ("Sustained load (soak)").
 */
import { maxOf, median, pctl, round } from "./stats.mjs";
import { renderChart } from "./svg-plot.mjs";

export const COLORS = { queuectl: "#1f77b4", "graphile-worker": "#e6550d", "pg-boss": "#2ca02c" };
/** Dashes, so the peers' lines stay apart where they coincide (their dead tuples often do). */
const DASHES = { queuectl: null, "graphile-worker": "8 4", "pg-boss": "2 3" };

/** Seconds after the blocker ends that backlog may still drain and dead tuples may take to fall back. */
export const RECOVERY_S = 60;
/** Dead-tuple baseline floor: autovacuum's own threshold (autovacuum_vacuum_threshold, 50 rows). */
export const DEAD_BASELINE_FLOOR = 50;
/** Goal thresholds. */
export const GOALS = {
  backlogSecondsOfLoad: 2, // backlog outside the blocker never above this many seconds of offered jobs
  e2eBlockerRatio: 2, // end-to-end p95 during the blocker / baseline
  claimEndRatio: 1.5, // claim p95 at the end / baseline
  deadMedian: 1000, // median of the dead tuples of all the system's tables over the run
  deadRecoveryRatio: 2, // dead tuples back under this x baseline ...
  sizeRatio: 2, // size after the run / the size the rows it keeps need (VACUUM FULL)
  sizeSlackBytes: 1024 * 1024, // ... or at most this much above it (a system that keeps almost nothing)
};

/**
 * Which phase a sample (taken at t seconds, covering the 10 s before it) belongs to: the first sample
 * is warm-up; baseline until the blocker starts; blocker while it is open; after; and the last 10% of
 * the run (at least 2 samples) is also "end".
 */
export function phaseOf(t, s) {
  if (t <= s.sampleS) return "warmup";
  if (t <= s.blockerStartS) return "baseline";
  if (t <= s.blockerEndS) return "blocker";
  return "after";
}

const pooled = (samples, key) => samples.flatMap((x) => x.raw[key]);
const p = (xs, q) => (xs.length ? pctl(xs, q) : NaN);

/** Per-phase figures of one system's samples (each sample has .raw.e2e and .raw.claim, ms). */
export function summarize(samples, schedule, rate) {
  const nEnd = Math.max(2, Math.ceil(samples.length * 0.1));
  const groups = {
    baseline: samples.filter((x) => x.phase === "baseline"),
    blocker: samples.filter((x) => x.phase === "blocker"),
    after: samples.filter((x) => x.phase === "after"),
    end: samples.slice(-nEnd),
    run: samples,
  };
  // With a single sample before the blocker, it is the baseline (warm-up included).
  if (groups.baseline.length === 0) groups.baseline = samples.filter((x) => x.phase === "warmup");
  const phases = {};
  for (const [name, g] of Object.entries(groups)) {
    const e2e = pooled(g, "e2e");
    const claim = pooled(g, "claim");
    const seconds = g.reduce((a, x) => a + x.window_s, 0);
    phases[name] = {
      samples: g.length,
      from_s: g[0]?.t_s ?? null,
      to_s: g[g.length - 1]?.t_s ?? null,
      jobs: e2e.length,
      completed_per_s: seconds ? round(e2e.length / seconds, 1) : null,
      backlog_max: g.length ? Math.max(...g.map((x) => x.backlog)) : null,
      e2e_p50_ms: round(p(e2e, 0.5), 1),
      e2e_p95_ms: round(p(e2e, 0.95), 1),
      e2e_max_ms: e2e.length ? round(maxOf(e2e), 1) : null,
      claim_p50_ms: round(p(claim, 0.5), 1),
      claim_p95_ms: round(p(claim, 0.95), 1),
      dead_median: g.length ? median(g.map((x) => x.dead_tup)) : null,
      dead_max: g.length ? Math.max(...g.map((x) => x.dead_tup)) : null,
    };
  }
  return phases;
}

/** The goals, each { goal, value, pass (true/false/null = not measurable in this run), note }. */
export function evaluateGoals({ samples, phases, schedule, rate, sizes }) {
  const goals = {};
  const verdict = (ok) => (ok === null ? null : !!ok);

  const outside = samples.filter((x) => x.t_s <= schedule.blockerStartS || x.t_s > schedule.blockerEndS + RECOVERY_S);
  const backlogLimit = Math.ceil(GOALS.backlogSecondsOfLoad * rate);
  const backlogMax = outside.length ? Math.max(...outside.map((x) => x.backlog)) : null;
  goals.backlog = {
    goal: `no backlog growth outside the blocker (max <= ${backlogLimit} = ${GOALS.backlogSecondsOfLoad} s of offered jobs; ${RECOVERY_S} s after it excluded)`,
    value: backlogMax === null ? "n/a" : `max ${backlogMax}, last ${samples[samples.length - 1]?.backlog}`,
    pass: verdict(backlogMax === null ? null : backlogMax <= backlogLimit),
  };

  const b = phases.baseline;
  const k = phases.blocker;
  const e = phases.end;
  const r1 = k.e2e_p95_ms / b.e2e_p95_ms;
  goals.e2eBlocker = {
    goal: `end-to-end p95 during the blocker <= ${GOALS.e2eBlockerRatio}x baseline`,
    value: `${k.e2e_p95_ms} vs ${b.e2e_p95_ms} ms = ${round(r1, 2)}x`,
    pass: verdict(Number.isFinite(r1) ? r1 <= GOALS.e2eBlockerRatio : null),
  };
  const r2 = e.claim_p95_ms / b.claim_p95_ms;
  goals.claimEnd = {
    goal: `claim latency p95 at the end <= ${GOALS.claimEndRatio}x baseline`,
    value: `${e.claim_p95_ms} vs ${b.claim_p95_ms} ms = ${Number.isFinite(r2) ? `${round(r2, 2)}x` : "n/a"}`,
    pass: verdict(Number.isFinite(r2) ? r2 <= GOALS.claimEndRatio : b.claim_p95_ms === 0 && e.claim_p95_ms === 0 ? true : null),
  };

  const deadMedian = phases.run.dead_median;
  goals.deadMedian = {
    goal: `median dead tuples over the run <= ${GOALS.deadMedian} (all the system's tables)`,
    value: `${deadMedian} (max ${phases.run.dead_max})`,
    pass: verdict(deadMedian <= GOALS.deadMedian),
  };

  const baseDead = b.dead_median ?? 0;
  const threshold = GOALS.deadRecoveryRatio * Math.max(baseDead, DEAD_BASELINE_FLOOR);
  const afterBlocker = samples.filter((x) => x.t_s > schedule.blockerEndS);
  const back = afterBlocker.find((x) => x.dead_tup <= threshold);
  const observedS = schedule.durationS - schedule.blockerEndS;
  const recoveredS = back ? back.t_s - schedule.blockerEndS : null;
  goals.deadRecovery = {
    goal: `dead tuples back under ${GOALS.deadRecoveryRatio}x baseline within ${RECOVERY_S} s after the blocker`,
    value: back
      ? `${back.dead_tup} <= ${threshold} after ${round(recoveredS, 0)} s (peak ${Math.max(...afterBlocker.map((x) => x.dead_tup), k.dead_max ?? 0)})`
      : `not under ${threshold} in the ${round(observedS, 0)} s observed (last ${afterBlocker[afterBlocker.length - 1]?.dead_tup ?? "n/a"})`,
    pass: back ? verdict(recoveredS <= RECOVERY_S) : observedS >= RECOVERY_S ? false : null,
  };

  if (sizes) {
    const ratio = sizes.after_bytes / sizes.needed_bytes;
    const ok = ratio <= GOALS.sizeRatio || sizes.after_bytes - sizes.needed_bytes <= GOALS.sizeSlackBytes;
    goals.size = {
      goal: `size after the run <= ${GOALS.sizeRatio}x what its rows need (VACUUM FULL), or <= 1 MiB above it`,
      value: `${mib(sizes.after_bytes)} vs ${mib(sizes.needed_bytes)} = ${round(ratio, 2)}x`,
      pass: ok,
    };
  }
  return goals;
}

export const mib = (b) => `${round(b / 1048576, 2)} MiB`;

function table(head, rows) {
  const widths = head.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i] ?? "").length)));
  const line = (r) => r.map((c, i) => (i === 0 ? String(c ?? "").padEnd(widths[i]) : String(c ?? "").padStart(widths[i]))).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const fmt = (x) => (x === null || x === undefined || Number.isNaN(x) ? "n/a" : typeof x === "number" ? x.toLocaleString("en-US") : x);

/** The phase table of one system. */
export function phaseTable(phases) {
  const order = ["baseline", "blocker", "after", "end", "run"];
  const rows = order.map((n) => {
    const x = phases[n];
    const span = x.samples ? `${fmt(x.from_s)}-${fmt(x.to_s)} s` : "-";
    return [n, span, fmt(x.completed_per_s), fmt(x.backlog_max), fmt(x.e2e_p50_ms), fmt(x.e2e_p95_ms), fmt(x.e2e_max_ms), fmt(x.claim_p95_ms), fmt(x.dead_median), fmt(x.dead_max)];
  });
  return table(["phase", "samples at", "done/s", "backlog max", "e2e p50 ms", "e2e p95 ms", "e2e max ms", "claim p95 ms", "dead median", "dead max"], rows);
}

/** The goals of every system side by side. */
export function goalsTable(results) {
  const keys = ["backlog", "e2eBlocker", "claimEnd", "deadMedian", "deadRecovery", "size"];
  const v = (g) => (!g ? "-" : `${g.pass === null ? "n/a" : g.pass ? "PASS" : "FAIL"}: ${g.value}`);
  const rows = keys.map((k) => [results.find((r) => r.goals[k])?.goals[k].goal ?? k, ...results.map((r) => v(r.goals[k]))]);
  rows.push(["DB size after the run (pg_database_size)", ...results.map((r) => (r.sizes ? mib(r.sizes.database_bytes) : "-"))]);
  const head = ["goal", ...results.map((r) => r.system)];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const csvCell = (x) => {
  if (x === null || x === undefined || (typeof x === "number" && Number.isNaN(x))) return "";
  const s = String(x);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
export const toCsv = (columns, rows) => [columns.join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(","))].join("\n") + "\n";

export const SAMPLE_COLUMNS = [
  "system", "autovacuum", "sample", "t_s", "phase", "offered_per_s", "enqueued_per_s", "completed_per_s", "backlog",
  "e2e_p50_ms", "e2e_p95_ms", "e2e_max_ms", "claim_p50_ms", "claim_p95_ms", "jobs_in_window", "window_s", "enqueue_call_p95_ms",
  "dead_tup", "live_tup", "heap_bytes", "index_bytes", "total_bytes", "db_bytes", "autovacuums", "oldest_xmin_age", "blocker_open", "dead_by_table",
];
export const RELATION_COLUMNS = ["system", "autovacuum", "sample", "t_s", "relation", "kind", "on_table", "live_tup", "dead_tup", "bytes", "total_bytes", "autovacuums", "vacuums"];

/** The chart: end-to-end p95 and dead tuples per sample, one line per system, the blocker shaded. */
export function chart(results, { title, subtitle, schedule }) {
  // Seconds on the x axis for a short run, minutes otherwise.
  const inSeconds = schedule.durationS <= 300;
  const mins = (t) => (inSeconds ? t : t / 60);
  const series = (key) =>
    results.map((r) => ({ name: r.system, color: COLORS[r.system] ?? "#555", dash: DASHES[r.system], points: r.samples.map((x) => [mins(x.t_s), x[key]]) }));
  const e2e = results.flatMap((r) => r.samples.map((x) => x.e2e_p95_ms)).filter((x) => x > 0);
  // A log axis once the latencies span more than 1.5 decades (a blocker can multiply them).
  const logE2e = e2e.length > 0 && Math.max(...e2e) / Math.min(...e2e) > 30;
  return renderChart({
    title,
    subtitle,
    xLabel: inSeconds ? "seconds into the run" : "minutes into the run",
    shade: { from: mins(schedule.blockerStartS), to: mins(schedule.blockerEndS), label: "REPEATABLE READ transaction open" },
    legend: results.map((r) => ({ name: r.system, color: COLORS[r.system] ?? "#555", dash: DASHES[r.system] })),
    panels: [
      { title: "End-to-end latency p95 (enqueue to finish, jobs finished in each sample)", yLabel: "ms", log: logE2e, series: series("e2e_p95_ms") },
      { title: "Dead tuples, all of the system's tables (pg_stat_user_tables.n_dead_tup)", yLabel: "dead tuples", series: series("dead_tup") },
    ],
  });
}

/** The chart of a run, from what the run's JSON holds (bench/soak.mjs writes it, and --replot reads it). */
export function soakChart(run) {
  const s = run.schedule;
  return chart(run.systems, {
    title: `Sustained load: ${run.rate_jobs_per_s} jobs/s of sh -c true, ${run.slots} slots, ${run.minutes} min, autovacuum ${run.autovacuum}`,
    subtitle:
      `${run.date}; a REPEATABLE READ transaction open from ${round(s.blockerStartS, 0)} s to ${round(s.blockerEndS, 0)} s (shaded); ` +
      `one sample every ${run.sample_seconds} s; each system on a fresh PostgreSQL ${run.systems[0]?.postgres ?? ""}`,
    schedule: s,
  });
}
