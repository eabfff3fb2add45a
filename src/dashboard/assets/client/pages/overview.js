/**
 * The overview (/): jobs per state, DLQ and workers, the last hour's throughput, and the queues with
 * their pause buttons.
 */
import { errorMessage, request } from "../api.js";
import { button, h, svg } from "../dom.js";
import { absolute, duration, num, short } from "../format.js";
import { refresh } from "../live.js";
import { failBox, muted, pageHead, setDlqBadge, STATE_HELP, table } from "../ui.js";

/** @import { OverviewAnswer, ThroughputMinute } from "../../api-types.js" */
/** @import { HealthFinding } from "../../api-types.js" */
/** @import { Child } from "../dom.js" */
/** @import { PageContext, View } from "../live.js" */

/**
 * Finished attempts per minute as stacked bars (completed below, failed on top), one column per minute.
 * @param {readonly ThroughputMinute[]} minutes
 */
function chart(minutes) {
  const W = 600;
  const H = 150;
  const slot = W / (minutes.length || 1);
  const gap = Math.min(2, slot * 0.25);
  let max = 1;
  for (const m of minutes) max = Math.max(max, m.completed + m.failed);
  const bars = minutes.map((m, i) => {
    const x = i * slot + gap / 2;
    const w = slot - gap;
    const hc = (m.completed / max) * (H - 4);
    const hf = (m.failed / max) * (H - 4);
    const when = absolute(m.at).slice(11, 16);
    /** @type {Node[]} */
    const parts = [svg("title", null, when + " · " + m.completed + " completed, " + m.failed + " failed")];
    if (m.completed + m.failed === 0) parts.push(svg("rect", { x, y: H - 1.5, width: w, height: 1.5, class: "bar-empty" }));
    if (hc > 0) parts.push(svg("rect", { x, y: H - hc, width: w, height: hc, class: "bar-completed" }));
    if (hf > 0) parts.push(svg("rect", { x, y: H - hc - hf, width: w, height: hf, class: "bar-failed" }));
    // A full-height transparent rect makes the whole column hoverable for its tooltip.
    parts.push(svg("rect", { x: i * slot, y: 0, width: slot, height: H, fill: "transparent" }));
    return svg("g", { class: "slot" }, parts);
  });
  const grid = [0.25, 0.5, 0.75].map((f) =>
    svg("line", { x1: 0, x2: W, y1: H - f * (H - 4), y2: H - f * (H - 4), class: "grid", "vector-effect": "non-scaling-stroke" }),
  );
  return h("div", { class: "chart" }, [
    svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img", "aria-label": "finished attempts per minute, last hour" }, [
      ...grid,
      ...bars,
    ]),
    h("span", { class: "ymax" }, max + "/min"),
  ]);
}

/**
 * `queuectl doctor`'s findings: one line each with its remedy, problems first.
 * @param {OverviewAnswer["health"]} health
 */
function healthCard(health) {
  /** @param {HealthFinding} f */
  const line = (f) =>
    h("li", { class: "finding " + f.level, "data-check": f.check }, [
      h("span", { class: "finding-check" }, f.level + " · " + f.check),
      " " + f.message + ". ",
      muted("Fix: " + f.remedy),
    ]);
  const body =
    health === null
      ? muted("The health checks could not be read.")
      : health.findings.length === 0
        ? h("p", { class: "healthy" }, "No problems found.")
        : h("ul", { class: "findings" }, health.findings.map(line));
  const title = health === null || health.healthy ? "Health" : "Health: problems found";
  return h("section", { class: "card", id: "health" }, [h("h2", null, title), body]);
}

/**
 * @param {string} label
 * @param {Child} value
 */
function stat(label, value) {
  return h("div", { class: "stat" }, [h("div", { class: "label" }, label), value]);
}

/**
 * @param {string} queue
 * @param {boolean} pause
 * @param {HTMLButtonElement} b
 */
async function togglePause(queue, pause, b) {
  b.disabled = true;
  try {
    await request("POST", "/api/queues/" + encodeURIComponent(queue) + (pause ? "/pause" : "/resume"), {});
  } catch (err) {
    window.alert(errorMessage(err));
  }
  await refresh(true);
}

/**
 * @param {PageContext} ctx
 * @returns {View<OverviewAnswer>}
 */
export function overviewPage({ main, jobStates, canAct }) {
  return {
    url: () => "/api/overview",
    render(d) {
      setDlqBadge(d.dlq);
      const tiles = h(
        "section",
        { class: "tiles" },
        jobStates.map((s) =>
          h("a", { class: "tile state-" + s, href: "/jobs?state=" + s, "data-state": s }, [
            h("div", { class: "label" }, s),
            h("div", { class: "value" }, num(d.jobs[s])),
            h("div", { class: "hint" }, STATE_HELP[s]),
          ]),
        ),
      );
      let done = 0;
      let failed = 0;
      for (const m of d.throughput) {
        done += m.completed;
        failed += m.failed;
      }
      const lag = d.oldest_runnable_age_ms;
      const stats = h("section", { class: "stats" }, [
        stat(
          "Dead letter queue",
          h("a", { class: "value" + (d.dlq > 0 ? " bad" : ""), href: "/dlq", id: "stat-dlq" }, num(d.dlq) + (d.dlq === 1 ? " job" : " jobs")),
        ),
        stat("Active workers", h("a", { class: "value" + (d.workers === 0 ? " warn" : ""), href: "/workers", id: "stat-workers" }, num(d.workers))),
        stat("Average duration", h("div", { class: "value", id: "stat-avg" }, d.avg_duration_ms === null ? "-" : duration(d.avg_duration_ms))),
        stat(
          "Oldest runnable job",
          h(
            "div",
            { class: "value" + (lag !== null && lag > 60000 ? " warn" : ""), id: "stat-lag" },
            lag === null ? "none waiting" : "waiting " + duration(lag),
          ),
        ),
        stat(
          "Last hour",
          h(
            "div",
            { class: "value", id: "stat-hour", title: num(done) + " attempts completed, " + num(failed) + " failed" },
            short(done) + " done" + (failed ? " · " + short(failed) + " failed" : ""),
          ),
        ),
      ]);
      const chartCard = h("section", { class: "card" }, [
        h("div", { class: "chart-head" }, [
          h("h2", null, "Throughput, last 60 minutes"),
          h("div", { class: "legend" }, [
            h("span", { class: "state-completed" }, "completed"),
            h("span", { class: "state-dead" }, "failed attempts"),
          ]),
        ]),
        chart(d.throughput),
        h("div", { class: "axis" }, [h("span", null, "60 min ago"), h("span", null, "30 min ago"), h("span", null, "now")]),
      ]);
      const queueRows = d.queues.map((q) => {
        const inQueue = "/jobs?queue=" + encodeURIComponent(q.queue);
        return h("tr", null, [
          h("td", null, h("a", { class: "mono", href: inQueue }, q.queue)),
          ...jobStates.map((s) => {
            const n = q.counts[s];
            return h("td", { class: "num" + (n === 0 ? " zero" : "") }, n === 0 ? "0" : h("a", { href: inQueue + "&state=" + s }, num(n)));
          }),
          h("td", { class: "num" }, num(q.total)),
          h("td", { class: "num" }, q.concurrency_limit === null ? muted("-") : String(q.concurrency_limit)),
          h(
            "td",
            null,
            canAct
              ? button({ class: "btn small" + (q.paused ? " paused" : ""), "data-queue": q.queue }, q.paused ? "Resume" : "Pause", (b) => {
                  void togglePause(q.queue, !q.paused, b);
                })
              : q.paused
                ? "paused"
                : muted("-"),
          ),
        ]);
      });
      const queues = h("section", { class: "card flush" }, [
        h("h2", null, "Queues"),
        table(
          ["queue", ...jobStates.map((s) => ({ text: s, cls: "num" })), { text: "total", cls: "num" }, { text: "limit", cls: "num" }, "paused"],
          queueRows,
          "No jobs yet: enqueue one with queuectl enqueue.",
        ),
      ]);
      const sub = num(d.total) + " jobs in " + d.queues.length + (d.queues.length === 1 ? " queue" : " queues");
      main.replaceChildren(pageHead("Overview", sub), tiles, stats, healthCard(d.health), chartCard, queues);
    },
    fail: (err) => main.replaceChildren(pageHead("Overview"), failBox(err)),
  };
}
