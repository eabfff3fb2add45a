/**
 * The dashboard's stylesheet, served as /assets/style.css (kept in a module so the build ships it
 * inside dist/ and the pages work offline). One colour per job state, used everywhere a state shows.
 */
export const STYLE_CSS = `
:root {
  --bg: #f5f6f8;
  --panel: #ffffff;
  --text: #1d2330;
  --muted: #6b7280;
  --border: #e3e6eb;
  --row-hover: #f8fafc;
  --accent: #2563eb;
  --topbar: #131826;
  --topbar-text: #c7ccd8;
  --code-bg: #0f1422;
  --code-text: #dbe2ee;
  --pending: #3b82f6;
  --processing: #8b5cf6;
  --completed: #16a34a;
  --failed: #d97706;
  --dead: #dc2626;
  --cancelled: #6b7280;
  --mono: ui-monospace, "SFMono-Regular", "JetBrains Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  --radius: 10px;
  color-scheme: light;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0e121b;
    --panel: #161b27;
    --text: #e5e8ef;
    --muted: #8d96a8;
    --border: #262d3d;
    --row-hover: #1b2130;
    --accent: #60a5fa;
    --topbar: #0a0d14;
    --code-bg: #0a0d14;
    color-scheme: dark;
  }
}
* { box-sizing: border-box; }
html { font-size: 14px; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--text);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  line-height: 1.45;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, .mono { font-family: var(--mono); font-size: 0.92em; }
h1 { font-size: 1.45rem; margin: 0 0 4px; font-weight: 650; letter-spacing: -0.01em; }
h2 { font-size: 1.02rem; margin: 0 0 12px; font-weight: 620; }
.muted { color: var(--muted); }
.small { font-size: 0.88rem; }

/* Top bar */
.topbar {
  display: flex; align-items: center; gap: 28px;
  background: var(--topbar); color: var(--topbar-text);
  padding: 0 24px; height: 52px; position: sticky; top: 0; z-index: 5;
}
.brand { color: #fff; font-weight: 700; font-size: 1.08rem; display: flex; align-items: center; gap: 9px; letter-spacing: -0.01em; }
.brand:hover { text-decoration: none; }
.logo {
  display: inline-block; width: 18px; height: 16px; border-radius: 3px;
  background: linear-gradient(var(--pending) 0 30%, transparent 30% 36%, var(--processing) 36% 64%, transparent 64% 70%, var(--completed) 70% 100%);
}
.topbar nav { display: flex; gap: 4px; height: 100%; }
.topbar nav a {
  color: var(--topbar-text); padding: 0 12px; display: flex; align-items: center; gap: 6px;
  border-bottom: 2px solid transparent; height: 100%;
}
.topbar nav a:hover { color: #fff; text-decoration: none; }
.topbar nav a.active { color: #fff; border-bottom-color: var(--pending); }
.nav-badge { background: var(--dead); color: #fff; border-radius: 9px; font-size: 0.75rem; padding: 0 6px; font-weight: 600; line-height: 1.4; }
.topbar-right { margin-left: auto; display: flex; align-items: center; gap: 16px; }
.live {
  background: transparent; border: 1px solid #2b3245; color: var(--topbar-text); border-radius: 14px;
  padding: 3px 10px; font: inherit; font-size: 0.85rem; cursor: pointer; display: flex; align-items: center; gap: 7px;
}
.live:hover { border-color: #48516a; color: #fff; }
.live-dot { width: 8px; height: 8px; border-radius: 50%; background: var(--completed); box-shadow: 0 0 0 3px rgba(22,163,74,.25); }
.live.paused .live-dot { background: var(--cancelled); box-shadow: none; }
.live.offline .live-dot { background: var(--dead); box-shadow: 0 0 0 3px rgba(220,38,38,.25); }
.logout { margin: 0; }
button.link { background: none; border: none; color: var(--topbar-text); font: inherit; cursor: pointer; padding: 0; }
button.link:hover { color: #fff; text-decoration: underline; }

/* Page */
main { max-width: 1280px; margin: 0 auto; padding: 24px; }
main.narrow { max-width: 520px; padding-top: 64px; }
.page-head { display: flex; align-items: flex-end; justify-content: space-between; gap: 16px; margin-bottom: 18px; flex-wrap: wrap; }
.page-head .sub { color: var(--muted); margin: 0; }
.actions { display: flex; gap: 8px; align-items: center; }
.card { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius); padding: 18px 20px; margin-bottom: 18px; }
.card.flush { padding: 0; overflow: hidden; }
.findings { margin: 0; padding-left: 18px; }
.finding { margin: 4px 0; }
.finding-check { font-weight: 600; }
.finding.problem .finding-check { color: var(--dead); }
.finding.notice .finding-check { color: var(--muted); }
.card.flush h2 { padding: 16px 20px 0; }
.grid-2 { display: grid; grid-template-columns: 2fr 1fr; gap: 18px; }
.grid-2 > .card { margin-bottom: 0; }
.section { margin-bottom: 18px; }

/* State tiles */
.tiles { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 12px; margin-bottom: 18px; }
.tile {
  background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius);
  padding: 14px 16px 12px; border-top: 3px solid var(--c, var(--border)); color: var(--text); display: block;
}
.tile:hover { text-decoration: none; border-color: var(--c); border-top-width: 3px; }
.tile .label { color: var(--muted); font-size: 0.78rem; text-transform: uppercase; letter-spacing: 0.06em; font-weight: 600; display: flex; align-items: center; gap: 6px; }
.tile .label::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--c); }
.tile .value { font-size: 1.9rem; font-weight: 650; letter-spacing: -0.02em; margin-top: 2px; font-variant-numeric: tabular-nums; }
.tile .hint { color: var(--muted); font-size: 0.8rem; }
.stats { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 12px; margin-bottom: 18px; }
.stat { background: var(--panel); border: 1px solid var(--border); border-radius: var(--radius); padding: 12px 16px; }
.stat .label { color: var(--muted); font-size: 0.8rem; }
.stat .value { font-size: 1.25rem; font-weight: 620; font-variant-numeric: tabular-nums; margin-top: 2px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.stat .value.bad { color: var(--dead); }
.stat .value.warn { color: var(--failed); }
.stat a.value { display: block; color: inherit; }

/* Chart */
.chart-head { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; flex-wrap: wrap; }
.legend { display: flex; gap: 14px; color: var(--muted); font-size: 0.85rem; }
.legend span::before { content: ""; display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; background: var(--c); vertical-align: -1px; }
.chart { position: relative; margin-top: 4px; padding-top: 20px; }
.chart svg { display: block; width: 100%; height: 150px; }
.chart .bar-completed { fill: var(--completed); }
.chart .bar-failed { fill: var(--dead); }
.chart .bar-empty { fill: var(--border); }
.chart .grid { stroke: var(--border); stroke-width: 1; }
.chart g.slot:hover rect { opacity: 0.75; }
.chart .ymax { position: absolute; top: 0; left: 0; font-size: 0.75rem; color: var(--muted); background: var(--panel); padding-right: 4px; }
.axis { display: flex; justify-content: space-between; color: var(--muted); font-size: 0.78rem; margin-top: 4px; }

/* Tables */
table { width: 100%; border-collapse: collapse; }
th {
  text-align: left; font-size: 0.76rem; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted);
  font-weight: 600; padding: 10px 12px; border-bottom: 1px solid var(--border); white-space: nowrap;
}
td { padding: 9px 12px; border-bottom: 1px solid var(--border); vertical-align: middle; }
tr:last-child td { border-bottom: none; }
tbody tr:hover { background: var(--row-hover); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.zero { color: var(--muted); opacity: 0.6; }
td.command { font-family: var(--mono); font-size: 0.88rem; max-width: 420px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.error { color: var(--dead); max-width: 320px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
.empty { padding: 28px; text-align: center; color: var(--muted); }

/* Badges */
.badge {
  display: inline-flex; align-items: center; gap: 5px; padding: 1px 9px 1px 8px; border-radius: 999px;
  font-size: 0.8rem; font-weight: 600; white-space: nowrap;
  color: var(--c); background: color-mix(in srgb, var(--c) 13%, transparent);
}
.badge::before { content: ""; width: 6px; height: 6px; border-radius: 50%; background: var(--c); }
.state-pending { --c: var(--pending); }
.state-processing { --c: var(--processing); }
.state-completed { --c: var(--completed); }
.state-failed { --c: var(--failed); }
.state-dead { --c: var(--dead); }
.state-cancelled { --c: var(--cancelled); }
.state-running { --c: var(--completed); }
.state-stopping { --c: var(--failed); }
.state-stopped { --c: var(--cancelled); }
.state-lost { --c: var(--dead); }
.badge.state-processing::before { animation: pulse 1.4s ease-in-out infinite; }
.progress { display: inline-flex; align-items: center; gap: 4px; margin-left: 6px; font-size: 0.85rem; }
.progress progress { width: 80px; height: 8px; accent-color: var(--processing); }
@keyframes pulse { 50% { opacity: 0.25; } }
.chip { display: inline-block; font-family: var(--mono); font-size: 0.82rem; background: var(--row-hover); border: 1px solid var(--border); border-radius: 5px; padding: 0 6px; margin: 0 4px 2px 0; }
.age-ok { color: var(--completed); }
.age-late { color: var(--failed); font-weight: 600; }
.age-lost { color: var(--dead); font-weight: 600; }

/* Forms and buttons */
.filters { display: flex; gap: 10px; flex-wrap: wrap; align-items: center; margin-bottom: 14px; }
.filters label { color: var(--muted); font-size: 0.85rem; display: flex; align-items: center; gap: 6px; }
input, select {
  font: inherit; color: var(--text); background: var(--panel); border: 1px solid var(--border);
  border-radius: 7px; padding: 6px 10px;
}
input:focus, select:focus { outline: 2px solid color-mix(in srgb, var(--accent) 45%, transparent); outline-offset: 0; border-color: var(--accent); }
input[type="search"] { min-width: 280px; }
input.invalid { border-color: var(--dead); outline-color: color-mix(in srgb, var(--dead) 40%, transparent); }
.btn, button.primary, button.danger {
  font: inherit; font-weight: 550; border-radius: 7px; padding: 6px 14px; cursor: pointer;
  border: 1px solid var(--border); background: var(--panel); color: var(--text); white-space: nowrap;
}
.btn:hover { border-color: var(--muted); }
.btn.small { padding: 3px 10px; font-size: 0.85rem; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.primary:hover { filter: brightness(1.08); }
button.danger { border-color: color-mix(in srgb, var(--dead) 45%, transparent); color: var(--dead); }
button.danger:hover { background: color-mix(in srgb, var(--dead) 8%, transparent); }
button:disabled { opacity: 0.5; cursor: default; }
.pager { display: flex; align-items: center; justify-content: space-between; gap: 12px; padding: 12px 16px; border-top: 1px solid var(--border); color: var(--muted); font-size: 0.88rem; }
.pager .actions .btn { padding: 4px 12px; }

/* Messages */
.flash { border-radius: 8px; padding: 9px 14px; margin-bottom: 14px; border: 1px solid; }
.flash.ok { color: var(--completed); border-color: color-mix(in srgb, var(--completed) 35%, transparent); background: color-mix(in srgb, var(--completed) 8%, transparent); }
.flash.err, .error-box { color: var(--dead); border: 1px solid color-mix(in srgb, var(--dead) 35%, transparent); background: color-mix(in srgb, var(--dead) 7%, transparent); border-radius: 8px; padding: 9px 14px; }
.field-error { color: var(--dead); font-size: 0.85rem; margin-top: 4px; }

/* Job page */
.fields { display: grid; grid-template-columns: 150px 1fr; gap: 8px 16px; margin: 0; }
.fields dt { color: var(--muted); }
.fields dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
pre {
  font-family: var(--mono); font-size: 0.86rem; line-height: 1.5; background: var(--code-bg); color: var(--code-text);
  border-radius: 8px; padding: 12px 14px; margin: 0; overflow: auto; max-height: 440px;
  white-space: pre-wrap; overflow-wrap: anywhere;
}
pre.command { max-height: none; }
.attempt { border: 1px solid var(--border); border-radius: 8px; margin-bottom: 10px; background: var(--panel); }
.attempt summary { cursor: pointer; padding: 10px 14px; display: flex; gap: 14px; align-items: center; flex-wrap: wrap; list-style: none; }
.attempt summary::-webkit-details-marker { display: none; }
.attempt summary::before { content: "▸"; color: var(--muted); transition: transform .15s; }
.attempt[open] summary::before { transform: rotate(90deg); }
.attempt .body { padding: 0 14px 14px; }
.attempt .num { font-weight: 650; }
.dead-box { border-left: 3px solid var(--dead); }

/* Login */
.login h1 { display: flex; align-items: center; gap: 10px; }
.login form { display: flex; flex-direction: column; gap: 10px; margin-top: 18px; }
.login label { font-weight: 600; }

/* Dependency chain on a job's page: one step of indent per edge away. */
.chain { list-style: none; padding: 0; margin: 0 0 12px; }
.chain li { padding: 3px 0; }
.chain li.depth-2 { margin-left: 1.2em; }
.chain li.depth-3 { margin-left: 2.4em; }
.chain li.depth-4 { margin-left: 3.6em; }
.chain li.depth-5 { margin-left: 4.8em; }
.chain li.depth-6 { margin-left: 6em; }

@media (max-width: 980px) {
  .tiles { grid-template-columns: repeat(3, minmax(0, 1fr)); }
  .stats { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .grid-2 { grid-template-columns: 1fr; }
  .topbar { gap: 12px; padding: 0 12px; overflow-x: auto; }
}
`;
