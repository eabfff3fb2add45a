/**
 * The dead letter queue (/dlq): jobs that ran out of retries, newest first, 50 a page; each can be
 * retried, or all at once (after a confirmation).
 */
import { errorMessage, request } from "../api.js";
import { button, h } from "../dom.js";
import { num } from "../format.js";
import { refresh } from "../live.js";
import { failBox, flash, flashBox, jobLink, pageHead, setDlqBadge, table, time } from "../ui.js";

/** @import { DlqAnswer, RetryAnswer } from "../../api-types.js" */
/** @import { Child } from "../dom.js" */
/** @import { PageContext, View } from "../live.js" */

/**
 * @param {PageContext} ctx
 * @returns {View<DlqAnswer>}
 */
export function dlqPage({ main, canAct }) {
  const st = { offset: Number(new URLSearchParams(location.search).get("offset")) || 0, limit: 50 };
  /** A retry is running: refreshes wait for it. */
  let working = false;

  /**
   * Sends jobs back to the queue and says what happened.
   * @param {string} url
   * @param {object} body
   * @param {(retried: string[]) => Child} done the message for the ids retried
   */
  async function retry(url, body, done) {
    working = true;
    try {
      /** @type {RetryAnswer} */
      const r = await request("POST", url, body);
      flash("ok", done(r.retried));
    } catch (err) {
      flash("err", errorMessage(err));
    }
    working = false;
    await refresh(true);
  }
  /**
   * @param {string} id
   * @param {HTMLButtonElement} b
   */
  function retryOne(id, b) {
    b.disabled = true;
    void retry("/api/dlq/" + encodeURIComponent(id) + "/retry", {}, () => ["Job ", jobLink(id), " is pending again (attempts reset to 0)."]);
  }
  /** @param {HTMLButtonElement} b */
  function retryAll(b) {
    if (!window.confirm("Send every job in the DLQ back to the queue?")) return;
    b.disabled = true;
    void retry("/api/dlq/retry-all", { all: true }, (ids) =>
      ids.length === 0 ? "The DLQ was already empty." : "Sent " + ids.length + (ids.length === 1 ? " job" : " jobs") + " back to the queue.",
    );
  }
  /** @param {number} offset */
  function goTo(offset) {
    st.offset = offset;
    void refresh(true);
  }

  return {
    url: () => "/api/dlq?limit=" + st.limit + "&offset=" + st.offset,
    render(d) {
      setDlqBadge(d.total);
      const rows = d.entries.map((e) =>
        h("tr", { "data-job-id": e.job_id }, [
          h("td", { class: "nowrap" }, jobLink(e.job_id)),
          h("td", { class: "mono" }, e.queue),
          h("td", { class: "command", title: e.command }, e.command),
          h("td", { class: "num" }, String(e.attempts)),
          h("td", null, e.reason),
          h("td", { class: "error", title: e.last_error || "" }, e.last_error || "-"),
          h("td", { class: "nowrap" }, time(e.failed_at)),
          h("td", null, canAct ? button({ class: "btn small retry" }, "Retry", (b) => retryOne(e.job_id, b)) : null),
        ]),
      );
      const pager =
        d.total > d.limit
          ? h("div", { class: "pager" }, [
              h("span", null, "Showing " + num(d.offset + 1) + "–" + num(d.offset + d.entries.length) + " of " + num(d.total)),
              h("div", { class: "actions" }, [
                button({ class: "btn", disabled: d.offset === 0 }, "← Newer", () => goTo(Math.max(0, st.offset - st.limit))),
                button({ class: "btn", disabled: d.offset + d.entries.length >= d.total }, "Older →", () => goTo(st.offset + st.limit)),
              ]),
            ])
          : null;
      main.replaceChildren(
        pageHead(
          "Dead letter queue",
          d.total === 0
            ? "Empty: no job has run out of retries."
            : num(d.total) + (d.total === 1 ? " job" : " jobs") + " ran out of retries. Retrying resets attempts to 0.",
          d.total > 0 && canAct ? [button({ class: "danger", id: "retry-all" }, "Retry all", retryAll)] : null,
        ),
        flashBox,
        h("section", { class: "card flush" }, [
          table(
            ["job", "queue", "command", { text: "attempts", cls: "num" }, "reason", "last error", "died", ""],
            rows,
            "The dead letter queue is empty.",
          ),
          pager,
        ]),
      );
    },
    busy: () => working,
    fail: (err) => main.replaceChildren(pageHead("Dead letter queue"), flashBox, failBox(err)),
  };
}
