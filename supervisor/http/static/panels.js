// go-trader dashboard, the acting side: stop-loss and take-profit lines of the open position,
// the tuner (live preview of simulated vs live markers, Apply writes the config), pause, trade
// actions behind an /api/confirm nonce, and the ops panels. Runs after app.js (its state).
(function () {
  "use strict";

  var state = window.goTraderDashboard;
  var $ = function (id) { return document.getElementById(id); };
  var PREVIEW_DEBOUNCE_MS = 450;
  var SIM_STYLE = { color: "#d97706", shape: "square", text: "SIM" };

  state.post = post; // shared with structural.js
  state.priceLines = []; // {kind, price}: read by the browser test
  state.simMarkers = [];
  state.lastAction = null;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  function base(id) { return "/api/strategies/" + encodeURIComponent(id); }

  // Every POST: the token, JSON, and the browser's own Origin (the server requires all three).
  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Authorization": "Bearer " + state.token(), "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
      credentials: "omit"
    }).then(function (resp) {
      return resp.json().then(function (doc) { doc.httpStatus = resp.status; return doc; });
    });
  }

  function say(id, text, bad) {
    var n = $(id);
    n.textContent = text || "";
    n.className = bad ? "error" : "muted";
  }

  // -- stop-loss and take-profit lines: the book's guard, as /status and inspect show it ------
  var drawn = [];
  function drawLines(id) {
    state.api(base(id) + "/status").then(function (doc) {
      var series = state.series();
      if (state.selected !== id || !series) { return; }
      drawn.forEach(function (l) { series.removePriceLine(l); });
      drawn = [];
      state.priceLines = [];
      Object.keys(doc.positions || {}).forEach(function (sym) {
        var p = doc.positions[sym];
        var lines = [];
        if (p.stop) { lines.push({ kind: "stop", price: p.stop, color: "#dc2626", title: "SL" }); }
        (p.targets || []).forEach(function (t, i) {
          lines.push({ kind: "target", price: t.price, color: "#059669", title: "TP" + (i + 1) });
        });
        lines.forEach(function (l) {
          drawn.push(series.createPriceLine({
            price: l.price, color: l.color, lineWidth: 1, lineStyle: 2,
            axisLabelVisible: true, title: l.title
          }));
          state.priceLines.push({ kind: l.kind, price: l.price });
        });
      });
      var paused = $("pause-toggle");
      paused.dataset.paused = doc.paused ? "1" : "0";
      paused.textContent = doc.paused ? "Resume" : "Pause";
    }).catch(function () { /* the chart stays; the error shows on the next load */ });
  }

  // -- the tuner -------------------------------------------------------------------------------
  var tuned = null; // strategy id the form was built for
  var timer = null;

  function overrides() {
    var out = {};
    document.querySelectorAll("#tuner-form [data-key]").forEach(function (input) {
      var f = JSON.parse(input.dataset.field);
      var v;
      if (f.type === "bool") { v = input.checked; }
      else if (f.type === "int") { v = parseInt(input.value, 10); }
      else if (f.type === "number") { v = parseFloat(input.value); }
      else { v = input.value; }
      if (f.type !== "bool" && f.type !== "choice" && f.type !== "text" && !isFinite(v)) { return; }
      if (JSON.stringify(v) !== JSON.stringify(f.value)) { out[f.key] = v; }
    });
    return out;
  }

  function buildTuner(id) {
    if (tuned === id) { return; }
    tuned = id;
    var form = $("tuner-form");
    form.textContent = "";
    say("tuner-msg", "");
    state.api(base(id) + "/config").then(function (doc) {
      if (state.selected !== id) { return; }
      (doc.editable_fields || []).forEach(function (f) {
        var label = el("label", f.label, "field");
        var input;
        if (f.type === "choice") {
          input = el("select");
          (f.options || []).forEach(function (o) { input.appendChild(el("option", o)); });
          input.value = f.value;
        } else {
          input = el("input");
          input.type = f.type === "bool" ? "checkbox" : (f.type === "text" ? "text" : "number");
          if (f.type === "bool") { input.checked = !!f.value; } else { input.value = f.value; }
          if (f.type === "number") { input.step = "any"; }
        }
        input.dataset.key = f.key;
        input.dataset.field = JSON.stringify(f);
        input.addEventListener("input", schedulePreview);
        input.addEventListener("change", schedulePreview);
        label.appendChild(input);
        form.appendChild(label);
      });
    }).catch(function (e) { say("tuner-msg", "tuner: " + e.message, true); });
  }

  function schedulePreview() {
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(preview, PREVIEW_DEBOUNCE_MS);
  }

  function preview() {
    var id = state.selected;
    var o = overrides();
    if (!Object.keys(o).length) { showSim(id, []); return; }
    say("tuner-msg", "simulating…");
    post(base(id) + "/simulate", { overrides: o, limit: 400 }).then(function (doc) {
      if (doc.httpStatus !== 200) { say("tuner-msg", doc.error || "simulate failed", true); return; }
      var sim = (doc.markers && doc.markers.simulated) || [];
      var live = (doc.markers && doc.markers.live) || [];
      say("tuner-msg", "preview: " + live.length + " live vs " + sim.length + " simulated markers");
      showSim(id, sim);
    });
  }

  // simulated markers drawn next to the book's own, on the same bars
  function showSim(id, sim) {
    var series = state.series();
    if (state.selected !== id || !series) { return; }
    state.simMarkers = sim;
    var candles = state.candles;
    var extra = sim.map(function (m) {
      var t = m.time;
      for (var i = candles.length - 1; i >= 0; i--) { if (candles[i].time <= t) { t = candles[i].time; break; } }
      return { time: t, position: m.position, color: SIM_STYLE.color, shape: SIM_STYLE.shape, text: SIM_STYLE.text };
    });
    var all = state.markers.concat(extra).sort(function (a, b) { return a.time - b.time; });
    series.setMarkers(all);
  }

  function apply() {
    var id = state.selected;
    var o = overrides();
    if (!Object.keys(o).length) { say("tuner-msg", "nothing changed"); return; }
    post(base(id) + "/config", { overrides: o }).then(function (doc) {
      state.lastAction = doc;
      if (doc.ok) {
        say("tuner-msg", doc.message);
        tuned = null;
        buildTuner(id);
      } else {
        say("tuner-msg", doc.error || "refused", true);
      }
    });
  }

  function togglePause() {
    var id = state.selected;
    var paused = $("pause-toggle").dataset.paused === "1";
    post(base(id) + "/pause", { paused: !paused }).then(function (doc) {
      state.lastAction = doc;
      say("tuner-msg", doc.ok ? doc.message : (doc.error || "refused"), !doc.ok);
    });
  }

  // -- trade actions: confirm (nonce), the operator types the phrase, then the action once ------
  function parseParams(text) {
    var out = {};
    text.split(",").forEach(function (part) {
      var kv = part.split("=");
      if (kv.length !== 2) { return; }
      var k = kv[0].trim();
      var v = kv[1].trim();
      out[k] = (k === "side" || k === "symbol") ? v : Number(v);
    });
    return out;
  }

  function tradeAction() {
    var id = state.selected;
    var action = $("action").value;
    var params = parseParams($("action-params").value);
    post("/api/confirm", { action: action, strategy_id: id, params: params }).then(function (c) {
      if (c.httpStatus !== 200) { say("action-msg", c.error || "refused", true); return null; }
      var typed = window.prompt(c.description + "\nType " + c.confirm_phrase + " to confirm:");
      if (typed !== c.confirm_phrase) { say("action-msg", "not confirmed"); return null; }
      state.lastNonce = c.nonce;
      return post(base(id) + "/" + action, { nonce: c.nonce, params: params });
    }).then(function (doc) {
      if (!doc) { return; }
      state.lastAction = doc;
      say("action-msg", doc.ok ? doc.message || "queued" : doc.error || "refused", !doc.ok);
    });
  }

  // -- ops panels: one generic table per route ---------------------------------------------------
  var PANELS = {
    leaderboard: ["/api/leaderboard", "entries"],
    diagnostics: ["/api/diagnostics?limit=25", "rows"],
    cashflow: ["/api/cashflow", "journal"],
    dead: ["/api/strategies/dead", "dead"],
    closers: ["/api/closing-strategies", "evaluators"],
    correlation: ["/api/correlation", "correlation"],
    regime: ["/api/regime", "regimes"]
  };

  function cell(v) {
    if (v === null || v === undefined) { return "—"; }
    if (typeof v === "number") { return String(Math.round(v * 10000) / 10000); }
    if (typeof v === "object") { return JSON.stringify(v).slice(0, 80); }
    return String(v);
  }

  function loadPanel() {
    var spec = PANELS[$("ops-panel").value];
    state.api(spec[0]).then(function (doc) {
      var rows = doc[spec[1]];
      if (rows && !Array.isArray(rows)) { rows = [rows]; }
      rows = rows || [];
      var table = $("ops-table");
      table.textContent = "";
      $("ops-count").textContent = "(" + (doc.total !== undefined ? doc.total : rows.length) + ")";
      if (!rows.length) { table.appendChild(el("caption", "nothing to show", "muted")); return; }
      var cols = Object.keys(rows[0]);
      var head = el("tr");
      cols.forEach(function (c) { head.appendChild(el("th", c)); });
      table.appendChild(el("thead")).appendChild(head);
      var body = table.appendChild(el("tbody"));
      rows.forEach(function (r) {
        var tr = el("tr");
        cols.forEach(function (c) { tr.appendChild(el("td", cell(r[c]))); });
        body.appendChild(tr);
      });
    }).catch(function (e) { $("ops-count").textContent = "error: " + e.message; });
  }

  state.onLoad.push(function (id) { drawLines(id); buildTuner(id); });
  $("tuner-apply").addEventListener("click", apply);
  $("pause-toggle").addEventListener("click", togglePause);
  $("action-go").addEventListener("click", tradeAction);
  $("ops-panel").addEventListener("change", loadPanel);
  $("ops-load").addEventListener("click", loadPanel);
})();
