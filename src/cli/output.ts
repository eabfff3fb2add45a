/**
 * Rendering, kept apart from fetching: each command builds its result once and renders it either as
 * JSON (scripts) or as a table (people). Times in JSON are ISO 8601; in tables, relative.
 */
import { forStdout } from "./terminal-text.js";

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One line (or a few) of text; on a terminal, control characters from job text are shown as escapes. */
export function printLine(line = ""): void {
  process.stdout.write(`${forStdout(line)}\n`);
}

/** Text a job produced (its output), as it is or, on a terminal, with control characters escaped. */
export function printJobText(text: string, raw = false): void {
  process.stdout.write(raw ? text : forStdout(text));
}

/** Printable ASCII only: one terminal column per character. */
const PLAIN = /^[\x20-\x7e]*$/;

/**
 * How many terminal columns a text takes: its length for plain ASCII, else string-width's count (wide
 * characters two, combining marks none). string-width is loaded only for a table that needs it:
 * loading it (Unicode property regexes, a grapheme segmenter) costs ~35 ms, a third of the CLI's
 * start-up budget.
 */
async function widthMeasure(texts: readonly string[]): Promise<(text: string) => number> {
  if (texts.every((t) => PLAIN.test(t))) return (text) => text.length;
  const { default: stringWidth } = await import("string-width");
  return (text) => stringWidth(text);
}

/**
 * A borderless table that scans in a second: columns two spaces apart, each as wide as its widest
 * line, a cell of several lines taking as many rows; the header bold on a terminal. Empty → a
 * one-line note instead. Drawn here: a table library cost every `list` ~20 ms of start-up.
 */
export async function printTable(head: string[], rows: Array<Array<string | number>>, empty = "(none)"): Promise<void> {
  if (rows.length === 0) {
    printLine(empty);
    return;
  }
  const cells = rows.map((r) => r.map((c) => forStdout(String(c), true).split("\n")));
  const width = await widthMeasure([...head, ...cells.flat(2)]);
  const widths = head.map((h, i) => Math.max(width(h), ...cells.map((r) => Math.max(...(r[i] ?? [""]).map(width)))));
  const pad = (cell: string, w: number) => cell + " ".repeat(Math.max(0, w - width(cell)));
  const bold = process.stdout.isTTY ? (text: string) => `\x1b[1m${text}\x1b[22m` : (text: string) => text;
  const lines = [head.map((h, i) => bold(pad(h, widths[i]!))).join("  ")];
  for (const r of cells) {
    const height = Math.max(...r.map((c) => c.length));
    for (let l = 0; l < height; l++) lines.push(widths.map((w, i) => pad(r[i]?.[l] ?? "", w)).join("  "));
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

/** "3s ago", "in 2m", "5h ago": what a person reads at a glance. */
export function relativeTime(date: Date | null | undefined, now = new Date()): string {
  if (!date) return "-";
  const diff = date.getTime() - now.getTime();
  const abs = Math.abs(diff);
  const units: Array<[number, string]> = [[86_400_000, "d"], [3_600_000, "h"], [60_000, "m"], [1000, "s"]];
  let text = "now";
  for (const [ms, unit] of units) {
    if (abs >= ms) {
      text = `${Math.floor(abs / ms)}${unit}`;
      break;
    }
  }
  if (text === "now") return abs < 1000 ? "now" : text;
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

/** Milliseconds as "850ms", "12.3s", "4m05s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, "0")}s`;
}

/** Shortens long text for a table cell. */
export function truncate(text: string, max = 48): string {
  const oneLine = text.replace(/\s+/g, " ");
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** What a job's command last reported ($QUEUECTL_PROGRESS): "40% copying table 3/7", or "-" for nothing. */
export function progressText(j: { progress_pct: number | null; progress_message: string | null }): string {
  const parts = [j.progress_pct === null ? null : `${j.progress_pct}%`, j.progress_message].filter((p) => p !== null);
  return parts.length === 0 ? "-" : parts.join(" ");
}
