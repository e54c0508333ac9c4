// go-trader tuning runs (/tuning): launch a run, list runs, show one run's ranked suggestions with
// their param diff against the live params, and apply a survivor through the confirm flow
// (/api/confirm nonce, typed phrase, then /api/tuning/apply). Polls every 3 s, as upstream.
(function () {
  "use strict";

  var TOKEN_KEY = window.goTraderStore.TOKEN_KEY; // static/store.js: the dashboard's one token
  var DARK_KEY = "goTraderDarkMode";
  var POLL_MS = 3000;
  var state = { open: null, timer: null, runs: [] };
  window.goTraderTuning = state; // handy in the console and for tests

  var $ = function (id) { return document.getElementById(id); };

  var storage = window.goTraderStore.storage; // static/store.js: one token for every page
  var token = window.goTraderStore.token;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }

  function showLogin(message) {
    if (state.timer) { window.clearInterval(state.timer); state.timer = null; }
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
  }

  function request(path, body) {
    var opts = {
      headers: { "Authorization": "Bearer " + token() },
      cache: "no-store",
      credentials: "omit"
    };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(path, opts).then(function (resp) {
      if (resp.status === 401) { showLogin("That token was refused."); throw new Error("unauthorized"); }
      return resp.json().then(function (doc) { doc.httpStatus = resp.status; return doc; });
    });
  }

  function say(id, text, bad) {
    $(id).textContent = text || "";
    $(id).className = bad ? "error" : "muted";
  }

  // -- launch ---------------------------------------------------------------------------------
  function loadStrategies() {
    return request("/api/strategies").then(function (doc) {
      var sel = $("launch-ids");
      sel.textContent = "";
      (doc.strategies || []).forEach(function (s) {
        var o = el("option", s.id + " (" + (s.strategy || "") + " " + (s.symbol || "") + ")");
        o.value = s.id;
        sel.appendChild(o);
      });
    });
  }

  function launch(ev) {
    ev.preventDefault();
    var ids = Array.prototype.map.call($("launch-ids").selectedOptions, function (o) { return o.value; });
    var body = { strategy_ids: ids };
    var text = $("launch-overrides").value.trim();
    if (text) {
      try { body.overrides = JSON.parse(text); } catch (e) { say("launch-msg", "overrides: not JSON", true); return; }
    }
    request("/api/tuning/runs", body).then(function (doc) {
      if (doc.httpStatus === 202) {
        say("launch-msg", "queued " + doc.id);
        state.open = doc.id;
      } else {
        say("launch-msg", doc.error || ("refused (" + doc.httpStatus + ")"), true);
      }
      refresh();
    }).catch(function (e) { say("launch-msg", String(e && e.message || e), true); });
  }

  // -- runs list and detail -------------------------------------------------------------------
  function drawRuns(doc) {
    state.runs = doc.runs || [];
    var body = $("runs").tBodies[0];
    body.textContent = "";
    state.runs.forEach(function (r) {
      var tr = el("tr");
      tr.dataset.id = r.id;
      if (r.id === state.open) { tr.className = "active"; }
      [r.id, r.status, (r.strategy_ids || []).join(", "), r.created_at || "", r.completed_at || "", r.error || ""]
        .forEach(function (v) { tr.appendChild(el("td", v)); });
      tr.addEventListener("click", function () { state.open = r.id; refresh(); });
      body.appendChild(tr);
    });
  }

  function fmt(v, digits) {
    return (v === null || v === undefined) ? "n/a" : Number(v).toFixed(digits === undefined ? 2 : digits);
  }

  function diffCell(params, live) {
    var td = el("td");
    Object.keys(params || {}).sort().forEach(function (k) {
      var changed = live && live[k] !== params[k];
      var span = el("span", k + "=" + params[k] + (changed ? " (was " + live[k] + ")" : "") + " ",
        changed ? "diff-new" : "");
      td.appendChild(span);
    });
    return td;
  }

  function drawStrategy(run, block) {
    var box = el("div");
    box.appendChild(el("h3", block.strategy_id + (block.open_strategy ? " · " + block.open_strategy : "")));
    if (block.error) { box.appendChild(el("p", block.error, "error")); return box; }
    var table = el("table");
    var head = el("tr");
    ["Key", "Verdict", "Params (diff vs live)", "OOS mean %", "OOS trades", "Worst DD %", "Reasons", ""]
      .forEach(function (h) { head.appendChild(el("th", h)); });
    table.appendChild(el("thead")).appendChild(head);
    var tbody = table.appendChild(el("tbody"));
    (block.ranked || []).forEach(function (row) {
      var tr = el("tr");
      var m = row.metrics || {};
      tr.appendChild(el("td", row.key));
      tr.appendChild(el("td", row.verdict, row.verdict));
      tr.appendChild(diffCell(row.params, block.live_params));
      tr.appendChild(el("td", fmt(m.oos_mean_return_pct)));
      tr.appendChild(el("td", m.oos_total_trades));
      tr.appendChild(el("td", fmt(m.oos_worst_drawdown_pct)));
      tr.appendChild(el("td", (row.reasons || []).join("; ")));
      var cell = el("td");
      var elig = row.apply_eligibility || {};
      if (row.applied_at) {
        cell.appendChild(el("span", "applied " + row.applied_at, "muted"));
      } else if (row.key !== "baseline") {
        var b = el("button", "Apply");
        b.type = "button";
        b.disabled = !elig.eligible;
        b.title = elig.eligible ? "write these params to the config" : (elig.message || elig.reason || "");
        b.addEventListener("click", function () { apply(run.id, block.strategy_id, row.key); });
        cell.appendChild(b);
        if (!elig.eligible) { cell.appendChild(el("span", " " + (elig.reason || ""), "muted")); }
      }
      tr.appendChild(cell);
      tbody.appendChild(tr);
    });
    var wrap = el("div", null, "scroll");
    wrap.appendChild(table);
    box.appendChild(wrap);
    return box;
  }

  function drawDetail(doc) {
    $("detail").hidden = false;
    $("detail-title").textContent = "Run " + doc.run.id + " · " + doc.run.status;
    var prog = doc.progress && doc.progress.strategies;
    $("detail-progress").textContent = prog ? Object.keys(prog).map(function (sid) {
      var p = prog[sid];
      var bt = p.backtests ? ", " + (p.backtests_done || 0) + "/" + p.backtests + " backtests" : "";
      return sid + ": " + p.status + " (" + (p.steps_done || 0) + "/" + (p.steps || "?") + " walk-forwards" + bt + ")";
    }).join(" · ") : "";
    var body = $("detail-body");
    body.textContent = "";
    var results = doc.results;
    if (!results) { return; }
    (results.strategies || []).forEach(function (block) { body.appendChild(drawStrategy(doc.run, block)); });
  }

  function apply(runId, sid, key) {
    var params = { run_id: runId, suggestion_key: key };
    request("/api/confirm", { action: "tuning-apply", strategy_id: sid, params: params }).then(function (c) {
      if (!c.nonce) { say("detail-msg", c.error || "refused", true); return null; }
      var typed = window.prompt(c.description + "\nType " + c.confirm_phrase + " to confirm:");
      if (typed !== c.confirm_phrase) { say("detail-msg", "not confirmed"); return null; }
      return request("/api/tuning/apply", { nonce: c.nonce, run_id: runId, strategy_id: sid, suggestion_key: key });
    }).then(function (out) {
      if (!out) { return; }
      var ok = out.httpStatus === 200;
      say("detail-msg", ok ? (out.message || out.reason) : (out.error || out.reason), !ok);
      refresh();
    }).catch(function (e) { say("detail-msg", String(e && e.message || e), true); });
  }

  function refresh() {
    return request("/api/tuning/runs").then(function (doc) {
      drawRuns(doc);
      if (!state.open) { return null; }
      return request("/api/tuning/runs/" + encodeURIComponent(state.open)).then(function (d) {
        if (d.httpStatus === 200) { drawDetail(d); }
      });
    }).catch(function () { /* shown by the login prompt or the next poll */ });
  }

  function start() {
    $("login").hidden = true;
    $("app").hidden = false;
    loadStrategies().then(refresh).catch(function () { /* login shown */ });
    if (!state.timer) { state.timer = window.setInterval(refresh, POLL_MS); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("launch").addEventListener("submit", launch);
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      storage("set", TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      start();
    });
    $("theme").addEventListener("click", function () {
      var dark = !document.documentElement.classList.contains("dark");
      document.documentElement.classList.toggle("dark", dark);
      storage("set", DARK_KEY, dark ? "1" : "0");
    });
    if (!token()) { showLogin(""); return; }
    start();
  });
})();
