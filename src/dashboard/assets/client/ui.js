/**
 * Pieces the pages share: state badges, job links, times, the page heading, tables, the flash message
 * and the DLQ badge of the navigation.
 */
import { errorMessage } from "./api.js";
import { h } from "./dom.js";
import { absolute, relative } from "./format.js";

/** @import { JobState } from "../api-types.js" */
/** @import { Child } from "./dom.js" */

/**
 * What each job state means, for tooltips and the overview's tiles.
 * @type {Readonly<Record<JobState, string>>}
 */
export const STATE_HELP = {
  pending: "waiting to run",
  processing: "running now",
  completed: "finished successfully",
  failed: "failed, waiting for its retry",
  dead: "out of retries: in the DLQ",
  cancelled: "cancelled",
};

/**
 * A coloured badge for a job or worker state.
 * @param {string} state
 */
export function badge(state) {
  const help = Object.hasOwn(STATE_HELP, state) ? STATE_HELP[/** @type {JobState} */ (state)] : state;
  return h("span", { class: "badge state-" + state, title: help }, state);
}

/**
 * What a job's command last reported through $QUEUECTL_PROGRESS: a bar with its percentage and the
 * message, or the message alone; null when it reported nothing.
 * @param {{ progress_pct: number | null, progress_message: string | null, progress_at: string | null }} j
 */
export function progress(j) {
  if (j.progress_at === null) return null;
  /** @type {Child[]} */
  const parts = [];
  if (j.progress_pct !== null) {
    parts.push(h("progress", { value: String(j.progress_pct), max: "100", "aria-label": j.progress_pct + "%" }), " ", j.progress_pct + "%");
  }
  if (j.progress_message !== null) parts.push(" ", muted(j.progress_message));
  return h("span", { class: "progress", title: "reported " + relative(j.progress_at) }, parts);
}

/** @param {string} id */
export function jobLink(id) {
  return h("a", { class: "mono", href: "/jobs/" + encodeURIComponent(id) }, id);
}

/** @param {Child} text */
export function muted(text) {
  return h("span", { class: "muted" }, text);
}

/**
 * A time as its age ("3m ago"), with the local date and time as tooltip.
 * @param {string | null} iso
 */
export function time(iso) {
  if (!iso) return muted("-");
  return h("time", { datetime: iso, title: absolute(iso) }, relative(iso));
}

/**
 * The heading of a page, with a line below it and buttons beside it.
 * @param {Child} title
 * @param {string | null} [sub]
 * @param {Child} [actions]
 */
export function pageHead(title, sub, actions) {
  return h("div", { class: "page-head" }, [
    h("div", null, [h("h1", null, title), sub ? h("p", { class: "sub" }, sub) : null]),
    actions ? h("div", { class: "actions" }, actions) : null,
  ]);
}

/**
 * A column heading: its text, or its text and class (e.g. "num" for right-aligned numbers).
 * @typedef {string | { text: string, cls: string }} Column
 */

/**
 * A table, or a line saying why it is empty.
 * @param {readonly Column[]} headers
 * @param {readonly Node[]} rows
 * @param {string} emptyText
 */
export function table(headers, rows, emptyText) {
  if (rows.length === 0) return h("div", { class: "empty" }, emptyText);
  return h("table", null, [
    h("thead", null, h("tr", null, headers.map((c) => (typeof c === "string" ? h("th", null, c) : h("th", { class: c.cls }, c.text))))),
    h("tbody", null, rows),
  ]);
}

/**
 * The number of jobs in the DLQ, beside "Dead letters" in the navigation (hidden at 0).
 * @param {number} n
 */
export function setDlqBadge(n) {
  const b = document.getElementById("dlq-badge");
  if (!b) return;
  b.textContent = n > 999 ? "999+" : String(n);
  b.hidden = !(n > 0);
}

/** A message above the page content that stays across refreshes until replaced. */
export const flashBox = h("div", { id: "flash" });

/**
 * Shows a message in the flash box (none: clears it).
 * @param {"ok" | "err"} kind
 * @param {Child} [content]
 */
export function flash(kind, content) {
  flashBox.replaceChildren();
  if (content) flashBox.appendChild(h("div", { class: "flash " + kind, role: kind === "err" ? "alert" : "status" }, content));
}

/**
 * What a page shows when its data could not be loaded.
 * @param {unknown} err
 */
export function failBox(err) {
  return h("p", { class: "error-box", role: "alert" }, "Could not load this page: " + errorMessage(err));
}
