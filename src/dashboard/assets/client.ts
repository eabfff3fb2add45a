/**
 * The page script, served as /assets/client.js: it fills <main data-page=...> from the JSON API and
 * refreshes it every few seconds without reloading the page (paused while the tab is hidden, while the
 * user selects text or edits a form, or by the "live" button).
 *
 * Kept as a string in a module so the build ships it inside dist/ with no bundler; it is plain browser
 * JavaScript (no template literals, so the string needs no escaping). Every value from the API reaches
 * the page through textContent or setAttribute (the h() helper), never through innerHTML.
 * test/dashboard.assets.test.ts checks that it parses.
 */
export const CLIENT_JS = String.raw`
(function () {
  "use strict";

  var REFRESH_MS = 3000;
  var main = document.getElementById("app");
  if (!main) return;
  var PAGE = main.getAttribute("data-page");
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var STATES = ["pending", "processing", "completed", "failed", "dead", "cancelled"];
  var STATE_HELP = {
    pending: "waiting to run",
    processing: "running now",
    completed: "finished successfully",
    failed: "failed, waiting for its retry",
    dead: "out of retries: in the DLQ",
    cancelled: "cancelled"
  };

  // ------------------------------------------------------------------ DOM helpers

  function setAttrs(el, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") el.textContent = String(v);
      else if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "value") el.value = v;
      else if (k === "checked") el.checked = !!v;
      else el.setAttribute(k, v === true ? "" : String(v));
    });
  }
  function append(el, children) {
    if (children === null || children === undefined || children === false) return;
    if (Array.isArray(children)) {
      children.forEach(function (c) { append(el, c); });
      return;
    }
    el.appendChild(children instanceof Node ? children : document.createTextNode(String(children)));
  }
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }
  function svg(tag, attrs, children) {
    var el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }

  // ------------------------------------------------------------------ formatting

  var clockOffset = 0; // database clock minus browser clock, from each answer's "now"
  function serverNow() { return Date.now() + clockOffset; }

  function compact(ms) {
    var units = [[86400000, "d"], [3600000, "h"], [60000, "m"], [1000, "s"]];
    for (var i = 0; i < units.length; i++) {
      if (ms >= units[i][0]) return Math.floor(ms / units[i][0]) + units[i][1];
    }
    return Math.round(ms) + "ms";
  }
  function relative(iso) {
    if (!iso) return "-";
    var diff = new Date(iso).getTime() - serverNow();
    if (Math.abs(diff) < 1000) return "now";
    return diff < 0 ? compact(-diff) + " ago" : "in " + compact(diff);
  }
  function duration(ms) {
    if (ms === null || ms === undefined) return "-";
    if (ms < 1000) return Math.round(ms) + "ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + "s";
    if (ms < 3600000) {
      var s = Math.floor((ms % 60000) / 1000);
      return Math.floor(ms / 60000) + "m" + (s < 10 ? "0" : "") + s + "s";
    }
    var m = Math.floor((ms % 3600000) / 60000);
    return Math.floor(ms / 3600000) + "h" + (m < 10 ? "0" : "") + m + "m";
  }
  function absolute(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    function p(n) { return (n < 10 ? "0" : "") + n; }
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }
  function time(iso) {
    if (!iso) return h("span", { class: "muted" }, "-");
    return h("time", { datetime: iso, title: absolute(iso) }, relative(iso));
  }
  function num(n) { return Number(n || 0).toLocaleString("en-US"); }
  /** Short form for small cards: 950, 12.4k, 3.1M. */
  function short(n) {
    n = Number(n || 0);
    if (n < 10000) return num(n);
    if (n < 1000000) return (n / 1000).toFixed(n < 100000 ? 1 : 0) + "k";
    return (n / 1000000).toFixed(1) + "M";
  }
  function badge(state) {
    return h("span", { class: "badge state-" + state, title: STATE_HELP[state] || state }, state);
  }
  function jobLink(id) {
    return h("a", { class: "mono", href: "/jobs/" + encodeURIComponent(id) }, id);
  }
  function muted(text) { return h("span", { class: "muted" }, text); }
  function pageHead(title, sub, actions) {
    return h("div", { class: "page-head" }, [
      h("div", null, [h("h1", null, title), sub ? h("p", { class: "sub" }, sub) : null]),
      actions ? h("div", { class: "actions" }, actions) : null
    ]);
  }
  function table(headers, rows, emptyText) {
    if (rows.length === 0) return h("div", { class: "empty" }, emptyText);
    return h("table", null, [
      h("thead", null, h("tr", null, headers.map(function (c) {
        return typeof c === "string" ? h("th", null, c) : h("th", { class: c.cls }, c.text);
      }))),
      h("tbody", null, rows)
    ]);
  }
  function setDlqBadge(n) {
    var b = document.getElementById("dlq-badge");
    if (!b) return;
    b.textContent = n > 999 ? "999+" : String(n);
    b.hidden = !(n > 0);
  }

  // ------------------------------------------------------------------ network

  function request(method, url, body) {
    var opts = { method: method, headers: { accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      opts.headers["content-type"] = "application/json";
      opts.headers["x-csrf-token"] = CSRF;
      opts.body = JSON.stringify(body || {});
    }
    return fetch(url, opts).then(function (res) {
      if (res.status === 401) {
        location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
        throw new Error("login required");
      }
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          var err = new Error(data.error || "the dashboard answered HTTP " + res.status);
          err.status = res.status;
          throw err;
        }
        if (data.now) clockOffset = new Date(data.now).getTime() - Date.now();
        return data;
      });
    });
  }

  // ------------------------------------------------------------------ refresh loop and live indicator

  var view = null;
  var timer = null;
  var inflight = null;
  var again = false; // a forced refresh asked for while one was running (e.g. a filter changed)
  var paused = false;
  var lastUpdate = 0;
  var lastError = null;
  var liveButton = document.getElementById("live");
  var liveText = document.getElementById("live-text");

  function selecting() {
    var sel = window.getSelection();
    return !!sel && !sel.isCollapsed && main.contains(sel.anchorNode);
  }
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(function () { refresh(false); }, REFRESH_MS);
  }
  function refresh(force) {
    clearTimeout(timer);
    if (!force && (paused || document.hidden || selecting() || (view.busy && view.busy()))) {
      schedule();
      return Promise.resolve();
    }
    if (inflight) {
      if (force) again = true;
      return inflight;
    }
    inflight = request("GET", view.url())
      .then(function (data) {
        lastError = null;
        lastUpdate = Date.now();
        view.render(data);
      })
      .catch(function (err) {
        lastError = err;
        if (view.fail) view.fail(err);
      })
      .then(function () {
        inflight = null;
        updateLive();
        if (again) {
          again = false;
          refresh(true);
        } else {
          schedule();
        }
      });
    return inflight;
  }
  function updateLive() {
    if (!liveButton || !liveText) return;
    liveButton.classList.toggle("paused", paused);
    liveButton.classList.toggle("offline", !!lastError && !paused);
    if (paused) liveText.textContent = "paused";
    else if (lastError) liveText.textContent = "offline: retrying";
    else if (lastUpdate) liveText.textContent = "live · updated " + compact(Math.max(1000, Date.now() - lastUpdate)) + " ago";
    else liveText.textContent = "live";
    liveButton.title = lastError ? String(lastError.message) : paused ? "Paused: click to resume auto-refresh" : "Auto-refresh every 3 s; click to pause";
  }
  if (liveButton) {
    liveButton.addEventListener("click", function () {
      paused = !paused;
      updateLive();
      if (!paused) refresh(true);
    });
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !paused) refresh(true);
  });
  setInterval(updateLive, 1000);

  /** A message above the page content that stays across refreshes until replaced. */
  var flashBox = h("div", { id: "flash" });
  function flash(kind, content) {
    flashBox.replaceChildren();
    if (content) flashBox.appendChild(h("div", { class: "flash " + kind, role: kind === "err" ? "alert" : "status" }, content));
  }
  function failBox(err) {
    return h("p", { class: "error-box", role: "alert" }, "Could not load this page: " + err.message);
  }

  // ------------------------------------------------------------------ overview

  function chart(minutes) {
    var W = 600, H = 150, n = minutes.length || 1, slot = W / n, gap = Math.min(2, slot * 0.25);
    var max = 1;
    minutes.forEach(function (m) { max = Math.max(max, m.completed + m.failed); });
    var bars = minutes.map(function (m, i) {
      var x = i * slot + gap / 2, w = slot - gap;
      var hc = (m.completed / max) * (H - 4), hf = (m.failed / max) * (H - 4);
      var when = absolute(m.at).slice(11, 16);
      var parts = [svg("title", null, when + " · " + m.completed + " completed, " + m.failed + " failed")];
      if (m.completed + m.failed === 0) parts.push(svg("rect", { x: x, y: H - 1.5, width: w, height: 1.5, class: "bar-empty" }));
      if (hc > 0) parts.push(svg("rect", { x: x, y: H - hc, width: w, height: hc, class: "bar-completed" }));
      if (hf > 0) parts.push(svg("rect", { x: x, y: H - hc - hf, width: w, height: hf, class: "bar-failed" }));
      // A full-height transparent rect makes the whole column hoverable for its tooltip.
      parts.push(svg("rect", { x: i * slot, y: 0, width: slot, height: H, fill: "transparent" }));
      return svg("g", { class: "slot" }, parts);
    });
    var grid = [0.25, 0.5, 0.75].map(function (f) {
      return svg("line", { x1: 0, x2: W, y1: H - f * (H - 4), y2: H - f * (H - 4), class: "grid", "vector-effect": "non-scaling-stroke" });
    });
    return h("div", { class: "chart" }, [
      svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img", "aria-label": "finished attempts per minute, last hour" }, grid.concat(bars)),
      h("span", { class: "ymax" }, max + "/min")
    ]);
  }

  var overview = {
    url: function () { return "/api/overview"; },
    render: function (d) {
      setDlqBadge(d.dlq);
      var tiles = h("section", { class: "tiles" }, STATES.map(function (s) {
        return h("a", { class: "tile state-" + s, href: "/jobs?state=" + s, "data-state": s }, [
          h("div", { class: "label" }, s),
          h("div", { class: "value" }, num(d.jobs[s])),
          h("div", { class: "hint" }, STATE_HELP[s])
        ]);
      }));
      var done = 0, failed = 0;
      d.throughput.forEach(function (m) { done += m.completed; failed += m.failed; });
      var lag = d.oldest_runnable_age_ms;
      var stats = h("section", { class: "stats" }, [
        stat("Dead letter queue", h("a", { class: "value" + (d.dlq > 0 ? " bad" : ""), href: "/dlq", id: "stat-dlq" }, num(d.dlq) + (d.dlq === 1 ? " job" : " jobs"))),
        stat("Active workers", h("a", { class: "value" + (d.workers === 0 ? " warn" : ""), href: "/workers", id: "stat-workers" }, num(d.workers))),
        stat("Average duration", h("div", { class: "value", id: "stat-avg" }, d.avg_duration_ms === null ? "-" : duration(d.avg_duration_ms))),
        stat("Oldest runnable job", h("div", { class: "value" + (lag !== null && lag > 60000 ? " warn" : ""), id: "stat-lag" }, lag === null ? "none waiting" : "waiting " + duration(lag))),
        stat("Last hour", h("div", { class: "value", id: "stat-hour", title: num(done) + " attempts completed, " + num(failed) + " failed" }, short(done) + " done" + (failed ? " · " + short(failed) + " failed" : "")))
      ]);
      var chartCard = h("section", { class: "card" }, [
        h("div", { class: "chart-head" }, [
          h("h2", null, "Throughput, last 60 minutes"),
          h("div", { class: "legend" }, [
            h("span", { class: "state-completed" }, "completed"),
            h("span", { class: "state-dead" }, "failed attempts")
          ])
        ]),
        chart(d.throughput),
        h("div", { class: "axis" }, [h("span", null, "60 min ago"), h("span", null, "30 min ago"), h("span", null, "now")])
      ]);
      var queueRows = d.queues.map(function (q) {
        return h("tr", null, [h("td", null, h("a", { class: "mono", href: "/jobs?queue=" + encodeURIComponent(q.queue) }, q.queue))].concat(
          STATES.map(function (s) {
            var n = q.counts[s];
            return h("td", { class: "num" + (n === 0 ? " zero" : "") }, n === 0 ? "0" : h("a", { href: "/jobs?queue=" + encodeURIComponent(q.queue) + "&state=" + s }, num(n)));
          }),
          [h("td", { class: "num" }, num(q.total)),
           h("td", { class: "num" }, q.concurrency_limit === null ? muted("-") : String(q.concurrency_limit)),
           h("td", null, h("button", { type: "button", class: "btn small" + (q.paused ? " paused" : ""), "data-queue": q.queue, onclick: function (ev) { togglePause(q.queue, !q.paused, ev.currentTarget); } }, q.paused ? "Resume" : "Pause"))]
        ));
      });
      var queues = h("section", { class: "card flush" }, [
        h("h2", null, "Queues"),
        table(["queue"].concat(STATES.map(function (s) { return { text: s, cls: "num" }; }), [{ text: "total", cls: "num" }, { text: "limit", cls: "num" }, "paused"]), queueRows, "No jobs yet: enqueue one with queuectl enqueue.")
      ]);
      main.replaceChildren(
        pageHead("Overview", num(d.total) + " jobs in " + d.queues.length + (d.queues.length === 1 ? " queue" : " queues")),
        tiles, stats, chartCard, queues
      );
    },
    fail: function (err) { main.replaceChildren(pageHead("Overview"), failBox(err)); }
  };
  function togglePause(queue, pause, button) {
    button.disabled = true;
    request("POST", "/api/queues/" + encodeURIComponent(queue) + (pause ? "/pause" : "/resume"), {})
      .catch(function (err) { window.alert(err.message); })
      .then(function () { refresh(true); });
  }
  function stat(label, value) {
    return h("div", { class: "stat" }, [h("div", { class: "label" }, label), value]);
  }

  // ------------------------------------------------------------------ jobs

  function jobsPage() {
    var params = new URLSearchParams(location.search);
    var st = { state: params.get("state") || "", queue: params.get("queue") || "", q: params.get("q") || "", offset: Number(params.get("offset")) || 0, limit: 50 };
    var stateSelect = h("select", { name: "state", "aria-label": "state" }, [h("option", { value: "" }, "all states")].concat(STATES.map(function (s) {
      return h("option", { value: s }, s);
    })));
    stateSelect.value = st.state;
    var queueSelect = h("select", { name: "queue", "aria-label": "queue" }, [h("option", { value: "" }, "all queues")]);
    if (st.queue) queueSelect.appendChild(h("option", { value: st.queue }, st.queue));
    queueSelect.value = st.queue;
    var search = h("input", { type: "search", name: "q", placeholder: "Search id or command…", value: st.q, "aria-label": "search", maxlength: 200 });
    var results = h("div", { class: "card flush" }, h("p", { class: "empty" }, "Loading…"));
    var sub = h("p", { class: "sub" }, "");

    function syncUrl() {
      var p = new URLSearchParams();
      if (st.state) p.set("state", st.state);
      if (st.queue) p.set("queue", st.queue);
      if (st.q) p.set("q", st.q);
      if (st.offset) p.set("offset", String(st.offset));
      var qs = p.toString();
      history.replaceState(null, "", "/jobs" + (qs ? "?" + qs : ""));
    }
    function changed() {
      st.state = stateSelect.value;
      st.queue = queueSelect.value;
      st.q = search.value.trim();
      st.offset = 0;
      syncUrl();
      refresh(true);
    }
    stateSelect.addEventListener("change", changed);
    queueSelect.addEventListener("change", changed);
    var debounce = null;
    search.addEventListener("input", function () {
      clearTimeout(debounce);
      debounce = setTimeout(changed, 300);
    });
    var clear = h("a", { href: "/jobs", class: "small" }, "clear filters");

    main.replaceChildren(
      h("div", { class: "page-head" }, [h("div", null, [h("h1", null, "Jobs"), sub])]),
      h("form", { class: "filters", role: "search", onsubmit: function (e) { e.preventDefault(); changed(); } }, [stateSelect, queueSelect, search, clear]),
      results
    );

    return {
      url: function () {
        var p = new URLSearchParams();
        if (st.state) p.set("state", st.state);
        if (st.queue) p.set("queue", st.queue);
        if (st.q) p.set("q", st.q);
        p.set("limit", String(st.limit));
        p.set("offset", String(st.offset));
        return "/api/jobs?" + p.toString();
      },
      render: function (d) {
        var keep = queueSelect.value;
        var names = d.queues.slice();
        if (keep && names.indexOf(keep) < 0) names.unshift(keep);
        queueSelect.replaceChildren.apply(queueSelect, [h("option", { value: "" }, "all queues")].concat(names.map(function (q) {
          return h("option", { value: q }, q);
        })));
        queueSelect.value = keep;

        var filters = [st.state ? st.state : "", st.queue ? "queue " + st.queue : "", st.q ? "matching “" + st.q + "”" : ""].filter(Boolean);
        sub.textContent = "Newest first" + (filters.length ? " · " + filters.join(" · ") : "");
        var rows = d.jobs.map(function (j) {
          return h("tr", { "data-job-id": j.id }, [
            h("td", { class: "nowrap" }, jobLink(j.id)),
            h("td", null, badge(j.state)),
            h("td", { class: "mono" }, j.queue),
            h("td", { class: "command", title: j.command }, j.command),
            h("td", { class: "num" }, j.attempts + "/" + (j.max_retries + 1)),
            h("td", { class: "nowrap" }, time(j.created_at)),
            h("td", { class: "num nowrap" }, duration(j.duration_ms)),
            h("td", { class: "error", title: j.last_error || "" }, j.last_error || (j.exit_code !== null && j.exit_code !== 0 ? "exit " + j.exit_code : ""))
          ]);
        });
        var first = d.offset + 1, last = d.offset + d.jobs.length;
        var newer = h("button", { type: "button", class: "btn", disabled: d.offset === 0, onclick: function () {
          st.offset = Math.max(0, st.offset - st.limit); syncUrl(); refresh(true);
        } }, "← Newer");
        var older = h("button", { type: "button", class: "btn", disabled: !d.more, onclick: function () {
          st.offset = st.offset + st.limit; syncUrl(); refresh(true);
        } }, "Older →");
        results.replaceChildren(
          table(["id", "state", "queue", "command", { text: "attempts", cls: "num" }, "created", { text: "duration", cls: "num" }, "last error"], rows,
            filters.length ? "No jobs match these filters." : "No jobs yet."),
          h("div", { class: "pager" }, [
            h("span", null, d.jobs.length ? "Showing " + num(first) + "–" + num(last) + (d.more ? "" : " (the oldest)") : ""),
            h("div", { class: "actions" }, [newer, older])
          ])
        );
      },
      busy: function () { return document.activeElement === search && search.value.trim() !== st.q; },
      fail: function (err) { results.replaceChildren(failBox(err)); }
    };
  }

  // ------------------------------------------------------------------ one job

  function jobPage() {
    var id = main.getAttribute("data-job-id");
    var openAttempts = {};
    var retrying = false;

    function field(label, value) { return [h("dt", null, label), h("dd", null, value)]; }
    function cancelButton() {
      return h("button", { type: "button", class: "danger", id: "cancel-job", onclick: function (e) {
        var b = e.currentTarget;
        b.disabled = true;
        retrying = true;
        request("POST", "/api/jobs/" + encodeURIComponent(id) + "/cancel", {})
          .then(function (r) {
            flash("ok", r.state === "processing" ? "Cancel of job " + id + " sent: its command is being stopped." : "Job " + id + " cancelled.");
          })
          .catch(function (err) { flash("err", err.message); })
          .then(function () { retrying = false; refresh(true); });
      } }, "Cancel job");
    }
    function retryButton() {
      return h("button", { type: "button", class: "primary", id: "retry-job", onclick: function (e) {
        var b = e.currentTarget;
        b.disabled = true;
        retrying = true;
        request("POST", "/api/dlq/" + encodeURIComponent(id) + "/retry", {})
          .then(function () { flash("ok", "Job " + id + " is pending again (attempts reset)."); })
          .catch(function (err) { flash("err", err.message); })
          .then(function () { retrying = false; refresh(true); });
      } }, "Retry job");
    }

    return {
      url: function () { return "/api/jobs/" + encodeURIComponent(id); },
      render: function (d) {
        var j = d.job;
        var stateText = [badge(j.state)];
        if ((j.state === "pending" || j.state === "failed") && new Date(j.run_at).getTime() > serverNow()) stateText.push(" ", muted("runs " + relative(j.run_at)));
        if (j.state === "processing") stateText.push(" ", muted("attempt " + j.attempts + " on " + (j.worker_id || "?")));
        var fields = h("dl", { class: "fields" }, [].concat(
          field("state", stateText),
          field("queue", h("span", { class: "mono" }, j.queue)),
          field("command", h("pre", { class: "command" }, j.command)),
          field("priority", String(j.priority)),
          field("attempts", j.attempts + " of " + (j.max_retries + 1) + " (max_retries " + j.max_retries + ")"),
          field("timeout", j.timeout_ms === null ? muted("config default") : j.timeout_ms === 0 ? "none" : duration(j.timeout_ms)),
          field("run at", time(j.run_at)),
          field("created", time(j.created_at)),
          field("started", time(j.started_at)),
          field("finished", time(j.finished_at)),
          field("duration", duration(j.duration_ms)),
          field("worker", j.worker_id ? h("span", { class: "mono" }, j.worker_id) : muted("-")),
          field("exit code", j.exit_code === null ? muted("-") : String(j.exit_code)),
          field("last error", j.last_error ? h("span", { class: "mono" }, j.last_error) : muted("-")),
          field("cwd", j.cwd ? h("span", { class: "mono" }, j.cwd) : muted("-")),
          field("env", j.env && Object.keys(j.env).length ? h("pre", { class: "command", id: "job-env" }, Object.keys(j.env).map(function (k) { return k + "=" + j.env[k]; }).join("\n")) : muted("-"))
        ));
        function chainList(links, empty) {
          if (!links.length) return h("p", { class: "muted" }, empty);
          return h("ul", { class: "chain" }, links.map(function (l) {
            return h("li", { "data-chain-id": l.id, class: "depth-" + Math.min(l.depth, 6) }, [jobLink(l.id), " ", badge(l.state), " ", h("span", { class: "muted mono" }, l.command)]);
          }));
        }
        var chain = (d.upstream.length || d.downstream.length) ? h("section", { class: "card", id: "dependencies" }, [
          h("h2", null, "Dependencies"),
          j.state === "pending" && j.deps_pending > 0 ? h("p", null, "Waiting for " + j.deps_pending + (j.deps_pending === 1 ? " dependency" : " dependencies") + " to complete.") : null,
          h("h3", null, "Runs after"),
          chainList(d.upstream, "nothing: it does not wait for other jobs"),
          h("h3", null, "Runs before"),
          chainList(d.downstream, "nothing waits for it")
        ]) : null;
        var dead = d.dead_letter ? h("section", { class: "card dead-box", id: "dead-letter" }, [
          h("h2", null, "In the dead letter queue"),
          h("dl", { class: "fields" }, [].concat(
            field("reason", d.dead_letter.reason),
            field("last error", d.dead_letter.last_error || "-"),
            field("died", time(d.dead_letter.failed_at))
          ))
        ]) : null;

        var history = d.history.slice().reverse();
        var latest = history.length ? history[0].attempt + "@" + history[0].started_at : null;
        var attempts = history.map(function (a) {
          var key = a.attempt + "@" + a.started_at;
          var open = key in openAttempts ? openAttempts[key] : key === latest;
          var outcome = a.finished_at === null ? badge("processing") : a.error ? h("span", { class: "badge state-dead" }, "failed") : h("span", { class: "badge state-completed" }, "succeeded");
          var details = h("details", { class: "attempt", open: open, "data-attempt": a.attempt }, [
            h("summary", null, [
              h("span", { class: "num" }, "Attempt " + a.attempt),
              outcome,
              h("span", { class: "muted" }, "started "), time(a.started_at),
              h("span", { class: "muted" }, a.finished_at ? "took " + duration(a.duration_ms) : "running"),
              a.exit_code !== null ? h("span", { class: "muted" }, "exit " + a.exit_code) : null,
              h("span", { class: "muted mono" }, a.worker_id)
            ]),
            h("div", { class: "body" }, [
              a.error ? h("p", { class: "field-error mono" }, a.error) : null,
              a.output === null ? muted(a.finished_at ? "no output captured" : "output appears when the attempt ends") :
                a.output === "" ? muted("no output") : h("pre", { class: "output" }, a.output)
            ])
          ]);
          details.addEventListener("toggle", function () { openAttempts[key] = details.open; });
          return details;
        });

        main.replaceChildren(
          pageHead(h("span", { class: "mono" }, j.id), null, [
            j.state === "dead" ? retryButton() : null,
            j.state === "pending" || j.state === "failed" || j.state === "processing" ? cancelButton() : null,
            h("a", { class: "btn", href: "/jobs" }, "All jobs")
          ]),
          flashBox,
          h("div", { class: "grid-2 section" }, [
            h("section", { class: "card" }, [h("h2", null, "Job"), fields]),
            h("div", null, [dead, chain, h("section", { class: "card" }, [
              h("h2", null, "Summary"),
              h("p", null, [badge(j.state), " ", STATE_HELP[j.state]]),
              h("p", { class: "muted" }, d.history.length + (d.history.length === 1 ? " attempt" : " attempts") + " recorded")
            ])])
          ]),
          h("section", { class: "section", id: "history" }, [
            h("h2", null, "Attempts"),
            attempts.length ? attempts : h("p", { class: "muted" }, "No attempt yet: the job has not been claimed by a worker.")
          ])
        );
      },
      busy: function () { return retrying; },
      fail: function (err) {
        main.replaceChildren(pageHead(h("span", { class: "mono" }, id), null, [h("a", { class: "btn", href: "/jobs" }, "All jobs")]),
          err.status === 404 ? h("p", { class: "error-box" }, "There is no job " + id + " (it may have been removed).") : failBox(err));
      }
    };
  }

  // ------------------------------------------------------------------ dead letter queue

  function dlqPage() {
    var st = { offset: Number(new URLSearchParams(location.search).get("offset")) || 0, limit: 50 };
    var working = false;

    function retry(url, body, done) {
      working = true;
      return request("POST", url, body)
        .then(function (r) { flash("ok", done(r.retried)); })
        .catch(function (err) { flash("err", err.message); })
        .then(function () { working = false; refresh(true); });
    }
    function retryOne(id, button) {
      button.disabled = true;
      retry("/api/dlq/" + encodeURIComponent(id) + "/retry", {}, function () {
        return ["Job ", jobLink(id), " is pending again (attempts reset to 0)."];
      });
    }
    function retryAll(button) {
      if (!window.confirm("Send every job in the DLQ back to the queue?")) return;
      button.disabled = true;
      retry("/api/dlq/retry-all", { all: true }, function (ids) {
        return ids.length === 0 ? "The DLQ was already empty." : "Sent " + ids.length + (ids.length === 1 ? " job" : " jobs") + " back to the queue.";
      });
    }

    return {
      url: function () { return "/api/dlq?limit=" + st.limit + "&offset=" + st.offset; },
      render: function (d) {
        setDlqBadge(d.total);
        var rows = d.entries.map(function (e) {
          return h("tr", { "data-job-id": e.job_id }, [
            h("td", { class: "nowrap" }, jobLink(e.job_id)),
            h("td", { class: "mono" }, e.queue),
            h("td", { class: "command", title: e.command }, e.command),
            h("td", { class: "num" }, String(e.attempts)),
            h("td", null, e.reason),
            h("td", { class: "error", title: e.last_error || "" }, e.last_error || "-"),
            h("td", { class: "nowrap" }, time(e.failed_at)),
            h("td", null, h("button", { type: "button", class: "btn small retry", onclick: function (ev) { retryOne(e.job_id, ev.currentTarget); } }, "Retry"))
          ]);
        });
        var pager = d.total > d.limit ? h("div", { class: "pager" }, [
          h("span", null, "Showing " + num(d.offset + 1) + "–" + num(d.offset + d.entries.length) + " of " + num(d.total)),
          h("div", { class: "actions" }, [
            h("button", { type: "button", class: "btn", disabled: d.offset === 0, onclick: function () { st.offset = Math.max(0, st.offset - st.limit); refresh(true); } }, "← Newer"),
            h("button", { type: "button", class: "btn", disabled: d.offset + d.entries.length >= d.total, onclick: function () { st.offset += st.limit; refresh(true); } }, "Older →")
          ])
        ]) : null;
        main.replaceChildren(
          pageHead("Dead letter queue", d.total === 0 ? "Empty: no job has run out of retries." : num(d.total) + (d.total === 1 ? " job" : " jobs") + " ran out of retries. Retrying resets attempts to 0.",
            d.total > 0 ? [h("button", { type: "button", class: "danger", id: "retry-all", onclick: function (ev) { retryAll(ev.currentTarget); } }, "Retry all")] : null),
          flashBox,
          h("section", { class: "card flush" }, [
            table(["job", "queue", "command", { text: "attempts", cls: "num" }, "reason", "last error", "died", ""], rows, "The dead letter queue is empty."),
            pager
          ])
        );
      },
      busy: function () { return working; },
      fail: function (err) { main.replaceChildren(pageHead("Dead letter queue"), flashBox, failBox(err)); }
    };
  }

  // ------------------------------------------------------------------ schedules

  function schedulesPage() {
    var results = h("section", { class: "card flush" }, h("p", { class: "empty" }, "Loading…"));
    main.replaceChildren(pageHead("Schedules", "Cron schedules: every worker checks them; exactly one job is enqueued per tick."), results);
    return {
      url: function () { return "/api/schedules"; },
      render: function (d) {
        var rows = d.schedules.map(function (s) {
          return h("tr", { "data-schedule": s.name }, [
            h("td", { class: "mono nowrap" }, s.name),
            h("td", { class: "mono nowrap" }, s.cron),
            h("td", null, s.timezone),
            h("td", null, s.paused ? h("span", { class: "badge state-cancelled" }, "paused") : h("span", { class: "badge state-completed" }, "active")),
            h("td", { class: "muted" }, s.missed === "catch-up" ? "catch up (" + s.catch_up_limit + ")" : "skip"),
            h("td", { class: "nowrap" }, s.next_runs.length ? s.next_runs.map(function (t) { return h("div", null, time(t)); }) : muted("-")),
            h("td", null, s.last_job_id ? jobLink(s.last_job_id) : muted("none yet")),
            h("td", { class: "mono" }, s.job.command)
          ]);
        });
        results.replaceChildren(table(["name", "cron", "time zone", "state", "missed ticks", "next runs", "last job", "command"], rows,
          "No schedules: add one with queuectl schedule add."));
      },
      fail: function (err) { results.replaceChildren(failBox(err)); }
    };
  }

  // ------------------------------------------------------------------ workers

  function workersPage() {
    var all = new URLSearchParams(location.search).get("all") === "1";
    var toggle = h("input", { type: "checkbox", id: "show-stopped", checked: all });
    toggle.addEventListener("change", function () {
      all = toggle.checked;
      history.replaceState(null, "", "/workers" + (all ? "?all=1" : ""));
      refresh(true);
    });
    var sub = h("p", { class: "sub" }, "");
    var results = h("section", { class: "card flush" }, h("p", { class: "empty" }, "Loading…"));
    main.replaceChildren(
      h("div", { class: "page-head" }, [
        h("div", null, [h("h1", null, "Workers"), sub]),
        h("label", { class: "muted", for: "show-stopped" }, [toggle, " show stopped workers"])
      ]),
      results
    );
    return {
      url: function () { return "/api/workers" + (all ? "?all=1" : ""); },
      render: function (d) {
        var live = d.workers.filter(function (w) { return w.state === "running" || w.state === "stopping"; }).length;
        sub.textContent = live + (live === 1 ? " worker" : " workers") + " alive · a worker is lost when its heartbeat is older than " + duration(2 * d.lease_ms);
        var rows = d.workers.map(function (w) {
          var age = w.heartbeat_age_ms;
          var ageClass = w.state === "stopped" ? "muted" : age > 2 * d.lease_ms ? "age-lost" : age > d.lease_ms / 2 ? "age-late" : "age-ok";
          return h("tr", { "data-worker-id": w.id }, [
            h("td", { class: "mono nowrap" }, w.id),
            h("td", null, w.host),
            h("td", { class: "num" }, String(w.pid)),
            h("td", null, badge(w.state)),
            h("td", null, w.queues.length ? w.queues.map(function (q) { return h("span", { class: "chip" }, q); }) : muted("all")),
            h("td", { class: "num" }, w.current_jobs.length + "/" + w.concurrency),
            h("td", null, w.current_jobs.length ? w.current_jobs.map(function (id) { return h("div", null, jobLink(id)); }) : muted("idle")),
            h("td", { class: "nowrap " + ageClass, title: absolute(w.heartbeat_at) }, w.state === "stopped" ? "-" : compact(Math.max(0, age)) + " ago"),
            h("td", { class: "nowrap" }, time(w.started_at))
          ]);
        });
        results.replaceChildren(table(["worker", "host", { text: "pid", cls: "num" }, "state", "queues", { text: "busy", cls: "num" }, "current jobs", "heartbeat", "started"], rows,
          all ? "No worker has ever registered." : "No worker is running: start some with queuectl worker start."));
      },
      fail: function (err) { results.replaceChildren(failBox(err)); }
    };
  }

  // ------------------------------------------------------------------ config

  function configPage() {
    var dirty = {};
    var saving = false;
    var tbody = h("tbody");
    var inputs = {};

    function save(key, input, note, button) {
      saving = true;
      button.disabled = true;
      input.classList.remove("invalid");
      note.textContent = "";
      note.className = "field-error";
      request("POST", "/api/config/" + encodeURIComponent(key), { value: input.value.trim() })
        .then(function (r) {
          delete dirty[key];
          input.value = String(r.value);
          input.setAttribute("data-saved", String(r.value));
          note.className = "muted small saved";
          note.textContent = "saved";
          flash("ok", key + " is now " + r.value + ".");
        })
        .catch(function (err) {
          input.classList.add("invalid");
          note.textContent = err.message;
        })
        .then(function () { saving = false; button.disabled = false; });
    }

    function row(item) {
      var input = h("input", { name: item.key, value: String(item.value), "data-saved": String(item.value), inputmode: typeof item.default === "number" ? "decimal" : "text", "aria-label": item.key, maxlength: 100, size: 12 });
      var note = h("div", { class: "field-error" });
      var button = h("button", { type: "submit", class: "btn small" }, "Save");
      input.addEventListener("input", function () {
        if (input.value !== input.getAttribute("data-saved")) dirty[item.key] = true; else delete dirty[item.key];
      });
      inputs[item.key] = input;
      var form = h("form", { class: "actions", "data-key": item.key, onsubmit: function (e) { e.preventDefault(); save(item.key, input, note, button); } }, [input, button]);
      var def = h("td", { class: "num muted", "data-default": true }, String(item.default));
      return h("tr", { "data-key": item.key }, [
        h("td", { class: "mono nowrap" }, item.key),
        h("td", null, [form, note]),
        def,
        h("td", { class: "muted" }, item.help)
      ]);
    }

    main.replaceChildren(
      pageHead("Config", "Shared by every worker and CLI (stored in the database). Values are checked before they are saved."),
      flashBox,
      h("section", { class: "card flush" }, h("table", null, [
        h("thead", null, h("tr", null, [h("th", null, "key"), h("th", null, "value"), h("th", { class: "num" }, "default"), h("th", null, "meaning")])),
        tbody
      ]))
    );

    return {
      url: function () { return "/api/config"; },
      render: function (d) {
        if (tbody.children.length === 0) {
          tbody.replaceChildren.apply(tbody, d.config.map(row));
          return;
        }
        d.config.forEach(function (item) {
          var input = inputs[item.key];
          if (input && !dirty[item.key] && document.activeElement !== input) {
            input.value = String(item.value);
            input.setAttribute("data-saved", String(item.value));
          }
        });
      },
      busy: function () { return saving || Object.keys(dirty).length > 0 || main.contains(document.activeElement) && document.activeElement.tagName === "INPUT"; },
      fail: function (err) { flash("err", "Could not load the config: " + err.message); }
    };
  }

  // ------------------------------------------------------------------ start

  var pages = { overview: function () { return overview; }, jobs: jobsPage, job: jobPage, dlq: dlqPage, schedules: schedulesPage, workers: workersPage, config: configPage };
  view = (pages[PAGE] || pages.overview)();
  refresh(true);
})();
`;
