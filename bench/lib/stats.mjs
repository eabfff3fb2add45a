/**
 * Summary statistics of the benchmarks' samples.
 *
 * Two percentile conventions live here on purpose: bench/core.mjs reports nearest-rank percentiles
 * (`percentile`, `stats`), bench/peers.mjs and bench/claim-scale.mjs take the value at index
 * floor(p * n) (`pctl`), which is one rank higher when p * n is whole (the p95 of 100 samples is the
 * 96th). Each script's published results were computed its way; unifying them would move the figures.
 */

/** Rounds to `d` decimals; null for a missing or NaN value (it is written to JSON as null). */
export const round = (x, d = 1) => (x === null || x === undefined || Number.isNaN(x) ? null : Math.round(x * 10 ** d) / 10 ** d);

/** Nearest-rank percentile `p` (0-100) of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

export function stats(values) {
  const s = [...values].sort((x, y) => x - y);
  return {
    n: s.length,
    min: round(s[0], 2),
    p50: round(percentile(s, 50), 2),
    p95: round(percentile(s, 95), 2),
    p99: round(percentile(s, 99), 2),
    max: round(s[s.length - 1], 2),
    mean: round(s.reduce((a, b) => a + b, 0) / s.length, 2),
  };
}

/** The value at index floor(p * n) (p in 0-1) of `values`, sorted ascending (a copy; `values` is left as is). */
export function pctl(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

/** The median of the numbers among `xs` (NaN and non-numbers, e.g. a phase not run, are skipped); NaN when none. */
export const median = (xs) => {
  const v = xs.filter((x) => typeof x === "number" && !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/** The largest of `xs` (-Infinity when empty): Math.max(...xs) overflows the call stack on a long run's latencies. */
export const maxOf = (xs) => xs.reduce((m, x) => (x > m ? x : m), -Infinity);
