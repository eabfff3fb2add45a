/**
 * Building DOM nodes. Every value from the API reaches the page through these helpers, that is through
 * textContent, a property or setAttribute, never as markup to parse (test/dashboard.assets.test.ts checks
 * that no module of the page script writes HTML).
 */

/**
 * What h() and svg() accept as content: nodes, text (numbers are written as text), nothing (skipped), or
 * lists of these.
 * @typedef {Node | string | number | null | undefined | false | ChildList} Child
 * @typedef {readonly Child[]} ChildList
 */

/**
 * Attributes of h() and svg(). `text` sets textContent; `value` and `checked` set the property; a
 * function under an `on...` name becomes an event listener; true gives an empty attribute; null,
 * undefined and false leave the attribute out.
 * @typedef {Record<string, string | number | boolean | null | undefined | ((ev: Event) => void)>} Attrs
 */

/**
 * @param {Element} el
 * @param {Attrs | null | undefined} attrs
 */
function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === "function") {
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    } else if (k === "text") el.textContent = String(v);
    else if (k === "value" && "value" in el) el.value = String(v);
    else if (k === "checked" && "checked" in el) el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

/**
 * @param {Node} el
 * @param {Child} children
 */
function append(el, children) {
  if (children === null || children === undefined || children === false) return;
  if (Array.isArray(children)) {
    for (const c of /** @type {ChildList} */ (children)) append(el, c);
    return;
  }
  el.appendChild(children instanceof Node ? children : document.createTextNode(String(children)));
}

/**
 * An HTML element: h("a", { href: "/jobs" }, "Jobs").
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {Child} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * An SVG element (the throughput chart).
 * @template {keyof SVGElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {Child} [children]
 * @returns {SVGElementTagNameMap[K]}
 */
export function svg(tag, attrs, children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * A <button type="button"> that hands itself to onClick (which usually disables it while its request runs).
 * @param {Attrs} attrs
 * @param {Child} label
 * @param {(button: HTMLButtonElement) => void} onClick
 * @returns {HTMLButtonElement}
 */
export function button(attrs, label, onClick) {
  const b = h("button", { type: "button", ...attrs }, label);
  b.addEventListener("click", () => onClick(b));
  return b;
}
