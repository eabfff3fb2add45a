/**
 * Line charts as a standalone SVG document, written by hand (no plotting dependency): panels stacked
 * vertically that share the x axis, one line per series, an optional shaded interval (e.g. while a
 * blocker ran), axes with ticks and units, and one legend for all panels.
 *
 *   renderChart({
 *     title: "…", subtitle: "…", xLabel: "minutes into the run",
 *     shade: { from: 1, to: 4, label: "blocker" },        // in x units; optional
 *     legend: [{ name: "queuectl", color: "#1f77b4", dash: "6 3" }, …],   // dash: optional
 *     panels: [{ title: "…", yLabel: "ms", log: false,
 *                series: [{ name: "queuectl", color: "#1f77b4", points: [[x, y], …] }] }],
 *   }) -> string
 *
 * A null y breaks the line (no data in that sample). A log panel drops y <= 0. A series' `dash`
 * (stroke-dasharray) keeps lines that lie on top of each other apart.
 */

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Short labels for axis ticks: 950, 1.5k, 12k, 2.5M; decimals only below 10. */
export function formatTick(v) {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 10 || a === 0) return `${+v.toFixed(0)}`;
  return `${+v.toPrecision(2)}`;
}

/** About `count` round tick values covering [min, max] (steps of 1, 2 or 5 times a power of ten). */
export function niceTicks(min, max, count = 5) {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  if (ticks[ticks.length - 1] < max) ticks.push(+(ticks[ticks.length - 1] + step).toPrecision(12));
  return ticks;
}

/** Powers of ten (and 2x, 5x between them when there are few decades) covering [min, max], min > 0. */
function logTicks(min, max) {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const mults = hi - lo <= 3 ? [1, 2, 5] : [1];
  const ticks = [];
  for (let e = lo; e <= hi; e++) for (const m of mults) ticks.push(m * 10 ** e);
  return ticks.filter((t) => t >= 10 ** lo && t <= 10 ** hi);
}

export function renderChart({ title, subtitle, xLabel, shade, legend, panels, width = 960, panelHeight = 260 }) {
  const margin = { left: 78, right: 24 };
  const headerH = subtitle ? 62 : 42;
  const legendH = 30;
  const gap = 58; // between panels: the panel's title and the x tick labels of the one above
  const plotW = width - margin.left - margin.right;
  const allX = panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)));
  const xTicks = niceTicks(0, Math.max(...allX, shade?.to ?? 0, 1e-9), 10);
  const xMax = xTicks[xTicks.length - 1];
  const sx = (x) => margin.left + (x / xMax) * plotW;
  const out = [];
  let y0 = headerH + legendH;
  const height = y0 + panels.length * (panelHeight + gap) + 10;
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`);
  if (subtitle) out.push(`<text x="${width / 2}" y="44" text-anchor="middle" fill="#444">${esc(subtitle)}</text>`);

  // Legend: one row of swatches, centred.
  const items = [...legend, ...(shade ? [{ name: shade.label, shade: true }] : [])];
  const itemW = items.map((it) => 34 + it.name.length * 7 + 18);
  let lx = (width - itemW.reduce((a, b) => a + b, 0)) / 2;
  const ly = headerH + 8;
  items.forEach((it, i) => {
    if (it.shade) out.push(`<rect x="${lx}" y="${ly - 9}" width="26" height="14" fill="#f4c7c3" fill-opacity="0.6" stroke="#d99"/>`);
    else out.push(`<line x1="${lx}" y1="${ly - 2}" x2="${lx + 26}" y2="${ly - 2}" stroke="${it.color}" stroke-width="3"${it.dash ? ` stroke-dasharray="${it.dash}"` : ""}/>`);
    out.push(`<text x="${lx + 32}" y="${ly + 2}">${esc(it.name)}</text>`);
    lx += itemW[i];
  });

  for (const panel of panels) {
    const top = y0 + 24;
    const bottom = top + panelHeight - 24;
    const ys = panel.series.flatMap((s) => s.points.map(([, y]) => y)).filter((y) => y !== null && y !== undefined && Number.isFinite(y) && (!panel.log || y > 0));
    let yTicks;
    let sy;
    if (panel.log) {
      const lo = ys.length ? Math.min(...ys) : 1;
      const hi = ys.length ? Math.max(...ys) : 10;
      yTicks = logTicks(lo, hi === lo ? lo * 10 : hi);
      const a = Math.log10(yTicks[0]);
      const b = Math.log10(yTicks[yTicks.length - 1]);
      sy = (y) => bottom - ((Math.log10(y) - a) / (b - a)) * (bottom - top);
    } else {
      yTicks = niceTicks(0, ys.length ? Math.max(...ys) : 1, 5);
      const b = yTicks[yTicks.length - 1];
      sy = (y) => bottom - (y / b) * (bottom - top);
    }
    out.push(`<text x="${margin.left}" y="${y0 + 12}" font-size="14" font-weight="bold">${esc(panel.title)}</text>`);
    if (shade) {
      out.push(`<rect x="${sx(shade.from)}" y="${top}" width="${sx(shade.to) - sx(shade.from)}" height="${bottom - top}" fill="#f4c7c3" fill-opacity="0.45"/>`);
    }
    for (const t of yTicks) {
      const y = sy(t);
      out.push(`<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#e4e4e4"/>`);
      out.push(`<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end" fill="#333">${formatTick(t)}</text>`);
    }
    for (const t of xTicks) {
      const x = sx(t);
      out.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 4}" stroke="#333"/>`);
      out.push(`<text x="${x}" y="${bottom + 17}" text-anchor="middle" fill="#333">${formatTick(t)}</text>`);
    }
    out.push(`<line x1="${margin.left}" y1="${bottom}" x2="${margin.left + plotW}" y2="${bottom}" stroke="#333"/>`);
    out.push(`<line x1="${margin.left}" y1="${top}" x2="${margin.left}" y2="${bottom}" stroke="#333"/>`);
    const yMid = (top + bottom) / 2;
    out.push(`<text transform="translate(16 ${yMid}) rotate(-90)" text-anchor="middle" fill="#333">${esc(panel.yLabel + (panel.log ? " (log scale)" : ""))}</text>`);
    out.push(`<text x="${margin.left + plotW / 2}" y="${bottom + 33}" text-anchor="middle" fill="#333">${esc(xLabel)}</text>`);
    for (const s of panel.series) {
      const segs = [];
      let cur = [];
      for (const [x, y] of s.points) {
        if (y === null || y === undefined || !Number.isFinite(y) || (panel.log && y <= 0)) {
          if (cur.length) segs.push(cur);
          cur = [];
        } else cur.push(`${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
      }
      if (cur.length) segs.push(cur);
      for (const seg of segs) {
        if (seg.length === 1) {
          const [cx, cy] = seg[0].split(",");
          out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${s.color}"/>`);
        } else out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""} points="${seg.join(" ")}"/>`);
      }
    }
    y0 += panelHeight + gap;
  }
  out.push("</svg>");
  return out.join("\n") + "\n";
}
