/**
 * The schedules page (/schedules): each cron schedule with its next runs and the job it enqueues.
 */
import { h } from "../dom.js";
import { failBox, jobLink, muted, pageHead, table, time } from "../ui.js";

/** @import { SchedulesAnswer } from "../../api-types.js" */
/** @import { PageContext, View } from "../live.js" */

/**
 * @param {PageContext} ctx
 * @returns {View<SchedulesAnswer>}
 */
export function schedulesPage({ main }) {
  const results = h("section", { class: "card flush" }, h("p", { class: "empty" }, "Loading…"));
  main.replaceChildren(pageHead("Schedules", "Cron schedules: every worker checks them; exactly one job is enqueued per tick."), results);
  return {
    url: () => "/api/schedules",
    render(d) {
      const rows = d.schedules.map((s) =>
        h("tr", { "data-schedule": s.name }, [
          h("td", { class: "mono nowrap" }, s.name),
          h("td", { class: "mono nowrap" }, s.cron),
          h("td", null, s.timezone),
          h("td", null, s.paused ? h("span", { class: "badge state-cancelled" }, "paused") : h("span", { class: "badge state-completed" }, "active")),
          h("td", { class: "muted" }, s.missed === "catch-up" ? "catch up (" + s.catch_up_limit + ")" : "skip"),
          h("td", { class: "nowrap" }, s.next_runs.length ? s.next_runs.map((t) => h("div", null, time(t))) : muted("-")),
          h("td", null, s.last_job_id ? jobLink(s.last_job_id) : muted("none yet")),
          h("td", { class: "mono" }, s.job.command),
        ]),
      );
      results.replaceChildren(
        table(
          ["name", "cron", "time zone", "state", "missed ticks", "next runs", "last job", "command"],
          rows,
          "No schedules: add one with queuectl schedule add.",
        ),
      );
    },
    fail: (err) => results.replaceChildren(failBox(err)),
  };
}
