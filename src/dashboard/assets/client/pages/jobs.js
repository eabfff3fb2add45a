/**
 * The jobs page (/jobs): newest first, filtered by state and queue and searched by id or command, 50 a
 * page. The filters live in the address (?state=&queue=&q=&offset=), so a filtered list can be linked.
 */
import { button, h } from "../dom.js";
import { duration, num } from "../format.js";
import { refresh } from "../live.js";
import { badge, failBox, jobLink, progress, table, time } from "../ui.js";

/** @import { JobsAnswer } from "../../api-types.js" */
/** @import { PageContext, View } from "../live.js" */

/**
 * @param {PageContext} ctx
 * @returns {View<JobsAnswer>}
 */
export function jobsPage({ main, jobStates }) {
  const params = new URLSearchParams(location.search);
  const st = {
    state: params.get("state") || "",
    queue: params.get("queue") || "",
    q: params.get("q") || "",
    offset: Number(params.get("offset")) || 0,
    limit: 50,
  };
  const stateSelect = h("select", { name: "state", "aria-label": "state" }, [
    h("option", { value: "" }, "all states"),
    ...jobStates.map((s) => h("option", { value: s }, s)),
  ]);
  stateSelect.value = st.state;
  const queueSelect = h("select", { name: "queue", "aria-label": "queue" }, [h("option", { value: "" }, "all queues")]);
  if (st.queue) queueSelect.appendChild(h("option", { value: st.queue }, st.queue));
  queueSelect.value = st.queue;
  const search = h("input", { type: "search", name: "q", placeholder: "Search id or command…", value: st.q, "aria-label": "search", maxlength: 200 });
  const results = h("div", { class: "card flush" }, h("p", { class: "empty" }, "Loading…"));
  const sub = h("p", { class: "sub" }, "");

  /** The filters as query parameters; `limit` added for the API. */
  function query(withLimit = false) {
    const p = new URLSearchParams();
    if (st.state) p.set("state", st.state);
    if (st.queue) p.set("queue", st.queue);
    if (st.q) p.set("q", st.q);
    if (withLimit) {
      p.set("limit", String(st.limit));
      p.set("offset", String(st.offset));
    } else if (st.offset) {
      p.set("offset", String(st.offset));
    }
    return p.toString();
  }
  function syncUrl() {
    const qs = query();
    history.replaceState(null, "", "/jobs" + (qs ? "?" + qs : ""));
  }
  function changed() {
    st.state = stateSelect.value;
    st.queue = queueSelect.value;
    st.q = search.value.trim();
    st.offset = 0;
    syncUrl();
    void refresh(true);
  }
  /** @param {number} offset */
  function goTo(offset) {
    st.offset = offset;
    syncUrl();
    void refresh(true);
  }
  stateSelect.addEventListener("change", changed);
  queueSelect.addEventListener("change", changed);
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let debounce;
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(changed, 300);
  });
  const clear = h("a", { href: "/jobs", class: "small" }, "clear filters");
  const filters = h("form", { class: "filters", role: "search" }, [stateSelect, queueSelect, search, clear]);
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    changed();
  });

  main.replaceChildren(h("div", { class: "page-head" }, [h("div", null, [h("h1", null, "Jobs"), sub])]), filters, results);

  return {
    url: () => "/api/jobs?" + query(true),
    render(d) {
      const keep = queueSelect.value;
      const names = d.queues.slice();
      if (keep && !names.includes(keep)) names.unshift(keep);
      queueSelect.replaceChildren(h("option", { value: "" }, "all queues"), ...names.map((q) => h("option", { value: q }, q)));
      queueSelect.value = keep;

      const shown = [st.state, st.queue ? "queue " + st.queue : "", st.q ? "matching “" + st.q + "”" : ""].filter(Boolean);
      sub.textContent = "Newest first" + (shown.length ? " · " + shown.join(" · ") : "");
      const rows = d.jobs.map((j) =>
        h("tr", { "data-job-id": j.id }, [
          h("td", { class: "nowrap" }, jobLink(j.id)),
          h("td", null, [badge(j.state), j.state === "processing" ? progress(j) : null]),
          h("td", { class: "mono" }, j.queue),
          h("td", { class: "command", title: j.command }, j.command),
          h("td", { class: "num" }, j.attempts + "/" + (j.max_retries + 1)),
          h("td", { class: "nowrap" }, time(j.created_at)),
          h("td", { class: "num nowrap" }, duration(j.duration_ms)),
          h(
            "td",
            { class: "error", title: j.last_error || "" },
            j.last_error || (j.exit_code !== null && j.exit_code !== 0 ? "exit " + j.exit_code : ""),
          ),
        ]),
      );
      const first = d.offset + 1;
      const last = d.offset + d.jobs.length;
      const newer = button({ class: "btn", disabled: d.offset === 0 }, "← Newer", () => goTo(Math.max(0, st.offset - st.limit)));
      const older = button({ class: "btn", disabled: !d.more }, "Older →", () => goTo(st.offset + st.limit));
      results.replaceChildren(
        table(
          ["id", "state", "queue", "command", { text: "attempts", cls: "num" }, "created", { text: "duration", cls: "num" }, "last error"],
          rows,
          shown.length ? "No jobs match these filters." : "No jobs yet.",
        ),
        h("div", { class: "pager" }, [
          h("span", null, d.jobs.length ? "Showing " + num(first) + "–" + num(last) + (d.more ? "" : " (the oldest)") : ""),
          h("div", { class: "actions" }, [newer, older]),
        ]),
      );
    },
    // Typing a search that has not been sent yet: a refresh would show results for the old text.
    busy: () => document.activeElement === search && search.value.trim() !== st.q,
    fail: (err) => results.replaceChildren(failBox(err)),
  };
}
