/**
 * The refresh loop and the "live" indicator of the header: the page's view is loaded at once and then
 * every few seconds without reloading the page, paused while the tab is hidden, while the user selects
 * text in the page or is in the middle of something (View.busy), or by the "live" button.
 */
import { errorMessage, request } from "./api.js";
import { compact } from "./format.js";

/** @import { JobState } from "../api-types.js" */

const REFRESH_MS = 3000;

/**
 * What a page gets from main.js to build itself.
 * @typedef {object} PageContext
 * @property {HTMLElement} main <main id="app">, which the page fills
 * @property {readonly JobState[]} jobStates the job states, in the server's order (queue/job.ts)
 * @property {boolean} canAct whether the dashboard's database role may act (false for a viewer: no action buttons)
 */

/**
 * A page: where its data comes from (T: the answer's shape) and how it shows it.
 * @template T
 * @typedef {object} View
 * @property {() => string} url the API address (GET) of its data, asked again on every refresh
 * @property {(data: T) => void} render shows an answer
 * @property {() => boolean} [busy] true while a refresh would disturb the user (an unsaved edit, a request running)
 * @property {(err: unknown) => void} [fail] shows that loading failed (the live indicator says so too)
 */

/**
 * The running view, its answer's type no longer needed.
 * @typedef {object} Loop
 * @property {HTMLElement} main
 * @property {() => Promise<void>} load
 * @property {() => boolean} busy
 * @property {(err: unknown) => void} fail
 */

/** @type {Loop | null} */
let current = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
/** @type {Promise<void> | null} */
let inflight = null;
/** A forced refresh was asked for while one was running (e.g. a filter changed): run it when that ends. */
let again = false;
let paused = false;
/** When the latest refresh succeeded (browser clock, ms); 0: none yet. */
let lastUpdate = 0;
/** Why the latest refresh failed; null: it did not. */
let lastError = /** @type {{ cause: unknown } | null} */ (null);

/** Whether the user is selecting text in the page (a refresh would drop the selection). */
function selecting() {
  const sel = window.getSelection();
  return !!current && !!sel && !sel.isCollapsed && current.main.contains(sel.anchorNode);
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(() => void refresh(false), REFRESH_MS);
}

/**
 * Loads the view's data and shows it; `force` (the user changed something) skips the pause rules.
 * Resolves when this refresh, or the one already running, has ended; it never rejects.
 * @param {boolean} force
 * @returns {Promise<void>}
 */
export function refresh(force) {
  clearTimeout(timer);
  const view = current;
  if (!view) return Promise.resolve();
  if (!force && (paused || document.hidden || selecting() || view.busy())) {
    schedule();
    return Promise.resolve();
  }
  if (inflight) {
    if (force) again = true;
    return inflight;
  }
  inflight = (async () => {
    try {
      await view.load();
      lastError = null;
      lastUpdate = Date.now();
    } catch (err) {
      lastError = { cause: err };
      view.fail(err);
    }
    inflight = null;
    updateLive();
    if (again) {
      again = false;
      void refresh(true);
    } else {
      schedule();
    }
  })();
  return inflight;
}

function updateLive() {
  const button = document.getElementById("live");
  const text = document.getElementById("live-text");
  if (!button || !text) return;
  button.classList.toggle("paused", paused);
  button.classList.toggle("offline", !!lastError && !paused);
  if (paused) text.textContent = "paused";
  else if (lastError) text.textContent = "offline: retrying";
  else if (lastUpdate) text.textContent = "live · updated " + compact(Math.max(1000, Date.now() - lastUpdate)) + " ago";
  else text.textContent = "live";
  if (lastError) button.title = errorMessage(lastError.cause);
  else button.title = paused ? "Paused: click to resume auto-refresh" : "Auto-refresh every 3 s; click to pause";
}

/**
 * Shows the page's view and keeps it fresh (main.js calls it once).
 * @template T
 * @param {PageContext} ctx
 * @param {View<T>} view
 */
export function start(ctx, view) {
  current = {
    main: ctx.main,
    load: async () => {
      /** @type {T} */
      const data = await request("GET", view.url());
      view.render(data);
    },
    busy: () => view.busy?.() ?? false,
    fail: (err) => view.fail?.(err),
  };
  document.getElementById("live")?.addEventListener("click", () => {
    paused = !paused;
    updateLive();
    if (!paused) void refresh(true);
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !paused) void refresh(true);
  });
  setInterval(updateLive, 1000);
  void refresh(true);
}
