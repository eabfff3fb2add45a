/** Clocks and waiting, shared by the benchmarks. */

/** Monotonic milliseconds, for durations. */
export const nowMs = () => performance.now();
/** Wall clock with sub-millisecond resolution (performance.timeOrigin + monotonic offset). */
export const wallMs = () => performance.timeOrigin + performance.now();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
