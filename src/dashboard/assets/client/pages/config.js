/**
 * The config page (/config): every key with its value, default and meaning; a value is edited and saved
 * in place (the server validates it with the rules workers read it with). Refreshes never overwrite a
 * value being edited.
 */
import { errorMessage, request } from "../api.js";
import { h } from "../dom.js";
import { flash, flashBox, pageHead } from "../ui.js";

/** @import { ConfigAnswer, ConfigItem, ConfigSaved } from "../../api-types.js" */
/** @import { PageContext, View } from "../live.js" */

/**
 * @param {PageContext} ctx
 * @returns {View<ConfigAnswer>}
 */
export function configPage({ main, canAct }) {
  /**
   * Keys whose input differs from the saved value.
   * @type {Set<string>}
   */
  const dirty = new Set();
  let saving = false;
  const tbody = h("tbody");
  /** @type {Map<string, HTMLInputElement>} */
  const inputs = new Map();

  /**
   * @param {string} key
   * @param {HTMLInputElement} input
   * @param {HTMLElement} note where the outcome is written
   * @param {HTMLButtonElement} button
   */
  async function save(key, input, note, button) {
    saving = true;
    button.disabled = true;
    input.classList.remove("invalid");
    note.textContent = "";
    note.className = "field-error";
    try {
      /** @type {ConfigSaved} */
      const r = await request("POST", "/api/config/" + encodeURIComponent(key), { value: input.value.trim() });
      dirty.delete(key);
      input.value = String(r.value);
      input.setAttribute("data-saved", String(r.value));
      note.className = "muted small saved";
      note.textContent = "saved";
      flash("ok", key + " is now " + r.value + ".");
    } catch (err) {
      input.classList.add("invalid");
      note.textContent = errorMessage(err);
    }
    saving = false;
    button.disabled = false;
  }

  /** @param {ConfigItem} item */
  function row(item) {
    const input = h("input", {
      name: item.key,
      value: String(item.value),
      "data-saved": String(item.value),
      inputmode: typeof item.default === "number" ? "decimal" : "text",
      "aria-label": item.key,
      maxlength: 100,
      size: 12,
    });
    const note = h("div", { class: "field-error" });
    const button = h("button", { type: "submit", class: "btn small" }, "Save");
    input.addEventListener("input", () => {
      if (input.value !== input.getAttribute("data-saved")) dirty.add(item.key);
      else dirty.delete(item.key);
    });
    inputs.set(item.key, input);
    // A viewer's dashboard shows the values only.
    if (!canAct) input.readOnly = true;
    const form = h("form", { class: "actions", "data-key": item.key }, canAct ? [input, button] : [input]);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      void save(item.key, input, note, button);
    });
    return h("tr", { "data-key": item.key }, [
      h("td", { class: "mono nowrap" }, item.key),
      h("td", null, [form, note]),
      h("td", { class: "num muted", "data-default": true }, String(item.default)),
      h("td", { class: "muted" }, item.help),
    ]);
  }

  main.replaceChildren(
    pageHead(
      "Config",
      canAct
        ? "Shared by every worker and CLI (stored in the database). Values are checked before they are saved."
        : "Shared by every worker and CLI (stored in the database). Read only: this dashboard's database role is a viewer.",
    ),
    flashBox,
    h(
      "section",
      { class: "card flush" },
      h("table", null, [
        h(
          "thead",
          null,
          h("tr", null, [h("th", null, "key"), h("th", null, "value"), h("th", { class: "num" }, "default"), h("th", null, "meaning")]),
        ),
        tbody,
      ]),
    ),
  );

  return {
    url: () => "/api/config",
    render(d) {
      if (tbody.children.length === 0) {
        tbody.replaceChildren(...d.config.map(row));
        return;
      }
      for (const item of d.config) {
        const input = inputs.get(item.key);
        if (input && !dirty.has(item.key) && document.activeElement !== input) {
          input.value = String(item.value);
          input.setAttribute("data-saved", String(item.value));
        }
      }
    },
    busy() {
      const focused = document.activeElement;
      return saving || dirty.size > 0 || (focused !== null && main.contains(focused) && focused.tagName === "INPUT");
    },
    fail: (err) => flash("err", "Could not load the config: " + errorMessage(err)),
  };
}
