/**
 * The workers page (/workers): the live workers (or, with ?all=1, every one that registered) with their
 * current jobs and heartbeat age.
 */
import { h } from "../dom.js";
import { absolute, compact, duration } from "../format.js";
import { refresh } from "../live.js";
import { badge, failBox, jobLink, muted, table, time } from "../ui.js";

/** @import { WorkersAnswer } from "../../api-types.js" */
/** @import { PageContext, View } from "../live.js" */

/**
 * A worker's slots as `busy/concurrency`, and the jobs it holds beyond them as `+N ahead` (as
 * `queuectl worker list` shows them): it claims ahead only beyond its free slots, so the jobs it
 * holds past its concurrency wait for a slot.
 * @param {number} held
 * @param {number} concurrency
 */
function busyText(held, concurrency) {
  const ahead = Math.max(0, held - concurrency);
  return held - ahead + "/" + concurrency + (ahead > 0 ? " +" + ahead + " ahead" : "");
}

/**
 * @param {PageContext} ctx
 * @returns {View<WorkersAnswer>}
 */
export function workersPage({ main }) {
  let all = new URLSearchParams(location.search).get("all") === "1";
  const toggle = h("input", { type: "checkbox", id: "show-stopped", checked: all });
  toggle.addEventListener("change", () => {
    all = toggle.checked;
    history.replaceState(null, "", "/workers" + (all ? "?all=1" : ""));
    void refresh(true);
  });
  const sub = h("p", { class: "sub" }, "");
  const results = h("section", { class: "card flush" }, h("p", { class: "empty" }, "Loading…"));
  main.replaceChildren(
    h("div", { class: "page-head" }, [
      h("div", null, [h("h1", null, "Workers"), sub]),
      h("label", { class: "muted", for: "show-stopped" }, [toggle, " show stopped workers"]),
    ]),
    results,
  );
  return {
    url: () => "/api/workers" + (all ? "?all=1" : ""),
    render(d) {
      const live = d.workers.filter((w) => w.state === "running" || w.state === "stopping").length;
      const lostAfter = duration(2 * d.lease_ms);
      sub.textContent = live + (live === 1 ? " worker" : " workers") + " alive · a worker is lost when its heartbeat is older than " + lostAfter;
      const rows = d.workers.map((w) => {
        const age = w.heartbeat_age_ms;
        const ageClass = w.state === "stopped" ? "muted" : age > 2 * d.lease_ms ? "age-lost" : age > d.lease_ms / 2 ? "age-late" : "age-ok";
        return h("tr", { "data-worker-id": w.id }, [
          h("td", { class: "mono nowrap" }, w.id),
          h("td", null, w.host),
          h("td", { class: "num" }, String(w.pid)),
          h("td", null, badge(w.state)),
          h("td", null, w.queues.length ? w.queues.map((q) => h("span", { class: "chip" }, q)) : muted("all")),
          h("td", { class: "num" }, busyText(w.current_jobs.length, w.concurrency)),
          h("td", null, w.current_jobs.length ? w.current_jobs.map((id) => h("div", null, jobLink(id))) : muted("idle")),
          h("td", { class: "nowrap " + ageClass, title: absolute(w.heartbeat_at) }, w.state === "stopped" ? "-" : compact(Math.max(0, age)) + " ago"),
          h("td", { class: "nowrap" }, time(w.started_at)),
        ]);
      });
      results.replaceChildren(
        table(
          ["worker", "host", { text: "pid", cls: "num" }, "state", "queues", { text: "busy", cls: "num" }, "current jobs", "heartbeat", "started"],
          rows,
          all ? "No worker has ever registered." : "No worker is running: start some with queuectl worker start.",
        ),
      );
    },
    fail: (err) => results.replaceChildren(failBox(err)),
  };
}
