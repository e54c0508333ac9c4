// go-trader report pages: the theme toggle on every page; on /reports/strategy-audit, the audit
// read from /api/reports/strategy-audit with the dashboard's token (the page holds no data),
// drawn as a sortable table, and its CSV fetched with the token and saved as a file.
(function () {
  "use strict";

  var TOKEN_KEY = window.goTraderStore.TOKEN_KEY; // static/store.js: the dashboard's one token
  var DARK_KEY = "goTraderDarkMode";
  var AUDIT = "/api/reports/strategy-audit";
  var state = { doc: null, sortKey: "id", sortDir: 1, loads: 0 };
  window.goTraderReports = state; // read by the browser test

  var $ = function (id) { return document.getElementById(id); };

  var storage = window.goTraderStore.storage; // static/store.js: one token for every page
  var takeTokenFromAddress = window.goTraderStore.takeTokenFromAddress;
  var token = window.goTraderStore.token;

  function Unauthorized() { this.message = "unauthorized"; }

  function get(path) {
    return fetch(path, {
      headers: { "Authorization": "Bearer " + token() },
      cache: "no-store",
      credentials: "omit"
    }).then(function (resp) {
      if (resp.status === 401) { throw new Unauthorized(); }
      if (!resp.ok) {
        return resp.json().then(function (body) {
          throw new Error((body && (body.error || body.status)) || resp.statusText);
        });
      }
      return resp;
    });
  }

  function toggleTheme() {
    var dark = document.documentElement.classList.toggle("dark");
    storage("set", DARK_KEY, dark ? "1" : "0");
  }

  // -- the audit --------------------------------------------------------------------------------
  function num(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) { return "—"; }
    return Number(x).toLocaleString(undefined, {
      minimumFractionDigits: digits, maximumFractionDigits: digits
    });
  }
  function signClass(x) { return x > 0 ? "pos" : (x < 0 ? "neg" : ""); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }

  function query() {
    return "?dead_days=" + encodeURIComponent($("dead-days").value || "14") +
      "&min_trades=" + encodeURIComponent($("min-trades").value || "10");
  }

  function showLogin(message) {
    $("audit").hidden = true;
    $("login").hidden = false;
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
  }

  function fail(err) {
    if (err instanceof Unauthorized) {
      storage("del", TOKEN_KEY);
      showLogin("That token was refused.");
      return;
    }
    $("audit-error").hidden = false;
    $("audit-error").textContent = "error: " + (err && err.message ? err.message : err);
  }

  function reasons(map) {
    return Object.keys(map || {}).map(function (k) { return k + " " + map[k]; }).join(", ");
  }

  function render() {
    var doc = state.doc;
    var rows = doc.strategies.slice();
    var key = state.sortKey;
    var dir = state.sortDir;
    rows.sort(function (a, b) {
      var x = a[key];
      var y = b[key];
      if (x === undefined || x === null) { return 1; }
      if (y === undefined || y === null) { return -1; }
      return (x > y ? 1 : (x < y ? -1 : 0)) * dir;
    });
    var body = document.querySelector("#audit-table tbody");
    body.textContent = "";
    var counts = {};
    rows.forEach(function (r) {
      counts[r.verdict] = (counts[r.verdict] || 0) + 1;
      var tr = el("tr");
      tr.dataset.id = r.id;
      tr.dataset.verdict = r.verdict;
      tr.appendChild(el("td", r.id));
      var v = el("td");
      v.appendChild(el("span", r.verdict, "verdict " + r.verdict));
      tr.appendChild(v);
      tr.appendChild(el("td", r.platform));
      tr.appendChild(el("td", r.symbol));
      tr.appendChild(el("td", r.mode + (r.paused ? " (paused)" : "")));
      tr.appendChild(el("td", r.direction));
      tr.appendChild(el("td", r.leverage === null ? "—" : num(r.leverage, 1) + "x", "num"));
      tr.appendChild(el("td", String(r.trades), "num"));
      tr.appendChild(el("td", r.win_rate === null ? "—" : num(r.win_rate, 1) + "%", "num"));
      tr.appendChild(el("td", num(r.realized_pnl, 2), "num " + signClass(r.realized_pnl)));
      tr.appendChild(el("td", num(r.unrealized_pnl, 2), "num " + signClass(r.unrealized_pnl)));
      tr.appendChild(el("td", num(r.pnl_pct, 2), "num " + signClass(r.pnl_pct)));
      tr.appendChild(el("td", num(r.max_drawdown_pct, 2), "num"));
      tr.appendChild(el("td", num(r.sharpe, 2), "num"));
      tr.appendChild(el("td", num(r.fees, 2), "num"));
      tr.appendChild(el("td", num(r.days_since_last_trade, 1), "num"));
      tr.appendChild(el("td", reasons(r.close_reasons), "wrap"));
      tr.appendChild(el("td", r.stops || "—", "wrap"));
      tr.appendChild(el("td", r.regime_gate || "—", "wrap"));
      tr.appendChild(el("td", r.why || "", "wrap"));
      body.appendChild(tr);
    });
    $("audit-rule").textContent = doc.rule;
    $("audit-at").textContent = doc.generated_at;
    $("audit-summary").textContent = Object.keys(counts).sort().map(function (k) {
      return counts[k] + " " + k;
    }).join(" · ");
  }

  function loadAudit() {
    return get(AUDIT + query()).then(function (resp) { return resp.json(); }).then(function (doc) {
      state.doc = doc;
      $("login").hidden = true;
      $("audit").hidden = false;
      $("audit-error").hidden = true;
      render();
      state.loads += 1;
      document.body.dataset.loaded = "strategy-audit";
    });
  }

  function downloadCsv() {
    get(AUDIT + query() + "&format=csv").then(function (resp) { return resp.blob(); })
      .then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = "strategy-audit-" + new Date().toISOString().slice(0, 10) + ".csv";
        document.body.appendChild(a);
        a.click();
        window.setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      }).catch(fail);
  }

  function startAudit() {
    takeTokenFromAddress();
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      storage("set", TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      loadAudit().catch(fail);
    });
    $("reload").addEventListener("click", function () { loadAudit().catch(fail); });
    $("csv").addEventListener("click", downloadCsv);
    document.querySelectorAll("#audit-table th[data-key]").forEach(function (th) {
      th.addEventListener("click", function () {
        var key = th.dataset.key;
        state.sortDir = state.sortKey === key ? -state.sortDir : 1;
        state.sortKey = key;
        if (state.doc) { render(); }
      });
    });
    if (!token()) { showLogin(""); return; }
    loadAudit().catch(fail);
  }

  $("theme").addEventListener("click", toggleTheme);
  if (document.body.dataset.page === "strategy-audit") { startAudit(); }
  else { document.body.dataset.loaded = "reports"; }
})();
