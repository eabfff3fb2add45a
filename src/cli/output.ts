/**
 * Rendering, kept apart from fetching: each command builds its result once and renders it either as
 * JSON (scripts) or as a table (people). Times in JSON are ISO 8601; in tables, relative.
 */
import { createRequire } from "node:module";
import type TableConstructor from "cli-table3";
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

/** cli-table3 (CommonJS), loaded by the first table printed: commands that print none skip its modules. */
let table3: typeof TableConstructor | undefined;
function cliTable3(): typeof TableConstructor {
  return (table3 ??= createRequire(import.meta.url)("cli-table3") as typeof TableConstructor);
}

/** A borderless table that scans in a second; empty → a one-line note instead. */
export function printTable(head: string[], rows: Array<Array<string | number>>, empty = "(none)"): void {
  if (rows.length === 0) {
    printLine(empty);
    return;
  }
  const table = new (cliTable3())({
    head,
    chars: {
      top: "", "top-mid": "", "top-left": "", "top-right": "",
      bottom: "", "bottom-mid": "", "bottom-left": "", "bottom-right": "",
      left: "", "left-mid": "", mid: "", "mid-mid": "", right: "", "right-mid": "", middle: "  ",
    },
    style: { head: process.stdout.isTTY ? ["bold"] : [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const r of rows) table.push(r.map((c) => forStdout(String(c), true)));
  printLine(table.toString());
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
