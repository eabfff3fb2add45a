/**
 * Numbers, durations and times as the pages write them. Ages ("3s ago") are judged by the database
 * clock: every API answer carries its `now`, and api.js reports it here.
 */

/** Database clock minus browser clock, in ms, from the latest answer's "now". */
let clockOffset = 0;

/** @param {string} iso the database's "now" of an API answer */
export function setServerNow(iso) {
  const t = new Date(iso).getTime();
  if (Number.isFinite(t)) clockOffset = t - Date.now();
}

/** The current time by the database clock, in ms since the epoch. */
export function serverNow() {
  return Date.now() + clockOffset;
}

/** @type {ReadonlyArray<readonly [number, string]>} */
const UNITS = [
  [86400000, "d"],
  [3600000, "h"],
  [60000, "m"],
  [1000, "s"],
];

/**
 * The largest whole unit: 3d, 5h, 12m, 40s, 250ms.
 * @param {number} ms
 */
export function compact(ms) {
  for (const [size, unit] of UNITS) {
    if (ms >= size) return Math.floor(ms / size) + unit;
  }
  return Math.round(ms) + "ms";
}

/**
 * "3m ago", "in 2h", "now"; "-" without a time.
 * @param {string | null} iso
 */
export function relative(iso) {
  if (!iso) return "-";
  const diff = new Date(iso).getTime() - serverNow();
  if (Math.abs(diff) < 1000) return "now";
  return diff < 0 ? compact(-diff) + " ago" : "in " + compact(diff);
}

/** @param {number} n */
function pad2(n) {
  return (n < 10 ? "0" : "") + n;
}

/**
 * 250ms, 4.2s, 3m07s, 2h05m; "-" without a value.
 * @param {number | null | undefined} ms
 */
export function duration(ms) {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1000) return Math.round(ms) + "ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + "s";
  if (ms < 3600000) return Math.floor(ms / 60000) + "m" + pad2(Math.floor((ms % 60000) / 1000)) + "s";
  return Math.floor(ms / 3600000) + "h" + pad2(Math.floor((ms % 3600000) / 60000)) + "m";
}

/**
 * Local date and time, "2026-01-31 14:05:09"; "" without a time.
 * @param {string | null} iso
 */
export function absolute(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const day = d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate());
  return day + " " + pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
}

/**
 * 12,345
 * @param {number | null | undefined} n
 */
export function num(n) {
  return Number(n || 0).toLocaleString("en-US");
}

/**
 * Short form for small cards: 950, 12.4k, 3.1M.
 * @param {number | null | undefined} value
 */
export function short(value) {
  const n = Number(value || 0);
  if (n < 10000) return num(n);
  if (n < 1000000) return (n / 1000).toFixed(n < 100000 ? 1 : 0) + "k";
  return (n / 1000000).toFixed(1) + "M";
}
