/**
 * The audit page (/audit): the latest operator actions, from the CLI and the dashboard, newest first:
 * when, who, what, the target and the values before and after (`queuectl audit` filters them).
 */
import { h } from "../dom.js";
import { failBox, muted, pageHead, table, time } from "../ui.js";

/** @import { AuditAnswer, AuditEntry } from "../../api-types.js" */
/** @import { PageContext, View } from "../live.js" */

/**
 * A before or after value in a line: `state: failed, attempts: 3`.
 * @param {unknown} v
 */
function brief(v) {
  if (v === null || typeof v !== "object") return "";
  return Object.entries(v)
    .filter(([k]) => k !== "job")
    .map(([k, x]) => k + ": " + (typeof x === "object" ? JSON.stringify(x) : String(x)))
    .join(", ");
}

/** @param {AuditEntry} e */
function who(e) {
  const where = e.source === "dashboard" ? "dashboard " + (e.session ?? "?") + " from " + (e.client_addr ?? "?") : (e.os_user ?? "?") + "@" + (e.host ?? "?");
  return [h("span", { class: "mono" }, e.db_role), " ", muted(where)];
}

/**
 * @param {PageContext} ctx
 * @returns {View<AuditAnswer>}
 */
export function auditPage({ main }) {
  const results = h("section", { class: "card flush" }, h("p", { class: "empty" }, "Loading…"));
  main.replaceChildren(pageHead("Audit", "Every operator action, written in the same transaction as the action. queuectl audit filters them."), results);
  return {
    url: () => "/api/audit",
    render(d) {
      const rows = d.entries.map((e) =>
        h("tr", { "data-audit-id": e.id }, [
          h("td", { class: "nowrap" }, time(e.at)),
          h("td", { class: "nowrap" }, who(e)),
          h("td", { class: "nowrap" }, e.action),
          h("td", { class: "mono" }, e.target),
          h("td", { class: "muted" }, brief(e.before) || "-"),
          h("td", null, brief(e.after) || "-"),
        ]),
      );
      results.replaceChildren(table(["when", "who", "action", "target", "before", "after"], rows, "No operator actions recorded yet."));
    },
    fail: (err) => results.replaceChildren(failBox(err)),
  };
}
