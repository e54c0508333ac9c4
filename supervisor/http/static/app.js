// go-trader dashboard: reads /api/* with the operator's token; draws candles with the book's
// trades as markers (lightweight-charts, vendored), the overview, sparklines and trade history.
// The tuner, trade actions, ops panels and stop/target lines are in panels.js (state.onLoad).
(function () {
  "use strict";

  var TOKEN_KEY = window.goTraderStore.TOKEN_KEY; // static/store.js: the dashboard's one token
  var DARK_KEY = "goTraderDarkMode";
  var REFRESH_KEY = "goTraderRefresh";
  var CHART_LIMIT = 400;
  var SPARK_LIMIT = 40;

  var state = {
    strategies: [],
    overview: {},
    selected: null,
    candles: [],
    markers: [],
    trades: [],
    sortKey: "id",
    sortDir: 1,
    timer: null,
    loads: 0,
    api: null, // set below, for panels.js
    series: function () { return series; },
    onLoad: [] // panels.js: function (id) after a strategy's chart is drawn
  };
  window.goTraderDashboard = state; // read by the browser test and handy in the console

  var $ = function (id) { return document.getElementById(id); };

  // -- token: once from ?token= (then removed from the address bar), else local storage -------
  var storage = window.goTraderStore.storage; // static/store.js: one token for every page
  var takeTokenFromAddress = window.goTraderStore.takeTokenFromAddress;
  var token = window.goTraderStore.token;
  state.token = token;

  function showLogin(message) {
    stopTimer();
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-error").hidden = !message;
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  function Unauthorized() { this.message = "unauthorized"; }

  function api(path) {
    return fetch(path, {
      headers: { "Authorization": "Bearer " + token() },
      cache: "no-store",
      credentials: "omit"
    }).then(function (resp) {
      if (resp.status === 401) { throw new Unauthorized(); }
      return resp.json().then(function (body) {
        if (!resp.ok) { throw new Error((body && (body.error || body.status)) || resp.statusText); }
        return body;
      });
    });
  }

  state.api = api;

  // -- formatting ---------------------------------------------------------------------------------
  function num(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) { return "—"; }
    return Number(x).toLocaleString(undefined, {
      minimumFractionDigits: digits, maximumFractionDigits: digits
    });
  }
  function signClass(x) { return x > 0 ? "pos" : (x < 0 ? "neg" : ""); }
  function utc(t) { return new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }

  // -- the chart ------------------------------------------------------------------------------------
  var chart = null;
  var series = null;

  function themeColors() {
    var css = window.getComputedStyle(document.documentElement);
    return {
      bg: css.getPropertyValue("--card").trim(),
      text: css.getPropertyValue("--text").trim(),
      line: css.getPropertyValue("--line").trim()
    };
  }

  function chartOptions() {
    var c = themeColors();
    return {
      autoSize: true,
      layout: { background: { type: "solid", color: c.bg }, textColor: c.text },
      grid: { vertLines: { color: c.line }, horzLines: { color: c.line } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: c.line, rightOffset: 6 },
      rightPriceScale: { borderColor: c.line }
    };
  }

  function ensureChart() {
    if (chart) { return; }
    chart = window.LightweightCharts.createChart($("chart"), chartOptions());
    series = chart.addCandlestickSeries({
      upColor: "#059669", downColor: "#dc2626", borderVisible: false,
      wickUpColor: "#059669", wickDownColor: "#dc2626"
    });
  }

  // A trade is drawn on the bar it happened in: the last candle opening at or before it.
  function snap(markers, candles) {
    if (!candles.length) { return []; }
    var out = [];
    var j = 0;
    for (var i = 0; i < markers.length; i++) {
      var m = markers[i];
      while (j + 1 < candles.length && candles[j + 1].time <= m.time) { j++; }
      var barTime = m.time < candles[0].time ? candles[0].time : candles[j].time;
      out.push({
        time: barTime, position: m.position, color: m.color, shape: m.shape, text: m.text
      });
    }
    return out;
  }

  // -- rendering -------------------------------------------------------------------------------------
  function renderSidebar() {
    var list = $("strategy-list");
    var filter = $("search").value.trim().toLowerCase();
    list.textContent = "";
    state.strategies.forEach(function (s) {
      if (filter && (s.id + " " + s.symbol + " " + s.platform).toLowerCase().indexOf(filter) < 0) {
        return;
      }
      var li = el("li");
      li.dataset.id = s.id;
      if (s.id === state.selected) { li.className = "active"; }
      li.appendChild(el("span", s.id, "sid"));
      var row = state.overview[s.id];
      var pnl = row ? " · " + num(row.pnl_pct, 2) + "%" : "";
      li.appendChild(el("span", s.symbol + " " + s.timeframe + pnl, "meta"));
      var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("viewBox", "0 0 80 32");
      svg.dataset.spark = s.id;
      li.appendChild(svg);
      li.addEventListener("click", function () { select(s.id); closeDrawer(); });
      list.appendChild(li);
    });
    state.strategies.forEach(function (s) { loadSpark(s.id); });
  }

  function loadSpark(id) {
    api("/api/strategies/" + encodeURIComponent(id) + "/equity?limit=" + SPARK_LIMIT)
      .then(function (doc) { drawSpark(id, doc.points || []); })
      .catch(handleError);
  }

  function drawSpark(id, points) {
    var svg = document.querySelector('svg[data-spark="' + CSS.escape(id) + '"]');
    if (!svg) { return; }
    svg.textContent = "";
    if (points.length < 2) { return; }
    var vs = points.map(function (p) { return p.v; });
    var lo = Math.min.apply(null, vs);
    var hi = Math.max.apply(null, vs);
    var span = hi - lo || 1;
    var coords = vs.map(function (v, i) {
      var x = (i / (vs.length - 1)) * 78 + 1;
      var y = 31 - ((v - lo) / span) * 30;
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" ");
    var line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", coords);
    line.setAttribute("class", "spark " + (vs[vs.length - 1] >= vs[0] ? "up" : "down"));
    svg.appendChild(line);
  }

  function renderOverview() {
    var body = document.querySelector("#overview tbody");
    body.textContent = "";
    var rows = Object.keys(state.overview).map(function (k) { return state.overview[k]; });
    var key = state.sortKey;
    var dir = state.sortDir;
    rows.sort(function (a, b) {
      var x = a[key];
      var y = b[key];
      if (x === undefined || x === null) { return 1; }
      if (y === undefined || y === null) { return -1; }
      return (x > y ? 1 : (x < y ? -1 : 0)) * dir;
    });
    rows.forEach(function (r) {
      var tr = el("tr");
      tr.dataset.id = r.id;
      if (r.id === state.selected) { tr.className = "active"; }
      tr.appendChild(el("td", r.id));
      tr.appendChild(el("td", r.platform));
      tr.appendChild(el("td", r.symbol));
      tr.appendChild(el("td", num(r.pnl_pct, 2), "num " + signClass(r.pnl_pct)));
      tr.appendChild(el("td", r.win_rate === undefined ? "—" : num(r.win_rate, 1) + "%", "num"));
      tr.appendChild(el("td", r.sharpe === undefined ? "—" : num(r.sharpe, 2), "num"));
      tr.appendChild(el("td", r.regime || "—"));
      tr.appendChild(el("td", r.direction || "long"));
      tr.addEventListener("click", function () { select(r.id); });
      body.appendChild(tr);
    });
  }

  function renderTrades(doc) {
    var body = document.querySelector("#trades tbody");
    body.textContent = "";
    $("trade-total").textContent = "(" + doc.total + ")";
    state.trades.slice().reverse().forEach(function (t) {
      var tr = el("tr");
      tr.appendChild(el("td", utc(t.time)));
      tr.appendChild(el("td", t.is_close ? "close (" + t.side + ")" : t.side,
        t.is_close ? "" : (t.side === "buy" ? "pos" : "neg")));
      tr.appendChild(el("td", num(t.price, 2), "num"));
      tr.appendChild(el("td", num(t.quantity, 6), "num"));
      var pnl = t.realized_pnl;
      tr.appendChild(el("td", pnl === undefined ? "" : num(pnl, 2), "num " + signClass(pnl || 0)));
      tr.appendChild(el("td", t.details || ""));
      body.appendChild(tr);
    });
  }

  function renderBadges() {
    var row = state.overview[state.selected] || {};
    $("regime").hidden = !row.regime;
    $("regime").textContent = row.regime ? "regime: " + row.regime : "";
    $("paused").hidden = !row.paused;
  }

  // -- loading ---------------------------------------------------------------------------------------
  function loadStrategy(id) {
    var base = "/api/strategies/" + encodeURIComponent(id);
    return Promise.all([
      api(base + "/candles?limit=" + CHART_LIMIT),
      api(base + "/trades?limit=" + CHART_LIMIT)
    ]).then(function (docs) {
      if (state.selected !== id) { return; } // the operator moved on meanwhile
      var candles = docs[0].candles || [];
      state.candles = candles;
      state.trades = docs[1].trades || [];
      state.markers = snap(docs[1].markers || [], candles);
      ensureChart();
      series.setData(candles.map(function (c) {
        return { time: c.time, open: c.open, high: c.high, low: c.low, close: c.close };
      }));
      series.setMarkers(state.markers);
      var s = state.strategies.filter(function (x) { return x.id === id; })[0] || {};
      $("chart-title").textContent = id + " · " + (s.symbol || "") + " " + (s.timeframe || "");
      $("chart-source").textContent = "candles: " + docs[0].source;
      renderTrades(docs[1]);
      state.onLoad.forEach(function (f) { f(id); });
      state.loads += 1;
      document.body.dataset.loaded = id;
    });
  }

  function select(id) {
    state.selected = id;
    if (window.location.hash !== "#" + id) {
      window.history.replaceState(null, "", "#" + encodeURIComponent(id));
    }
    document.querySelectorAll("#strategy-list li, #overview tbody tr").forEach(function (n) {
      n.classList.toggle("active", n.dataset.id === id);
    });
    renderBadges();
    return loadStrategy(id).catch(handleError);
  }

  function loadAll() {
    return Promise.all([api("/api/strategies"), api("/api/strategies/overview")])
      .then(function (docs) {
        state.strategies = docs[0].strategies || [];
        state.overview = {};
        (docs[1].strategies || []).forEach(function (r) { state.overview[r.id] = r; });
        $("login").hidden = true;
        $("app").hidden = false;
        renderSidebar();
        renderOverview();
        var want = decodeURIComponent(window.location.hash.slice(1));
        var ids = state.strategies.map(function (s) { return s.id; });
        var id = ids.indexOf(state.selected) >= 0 ? state.selected
          : (ids.indexOf(want) >= 0 ? want : ids[0]);
        if (id) { return select(id); }
        return null;
      });
  }

  function handleError(err) {
    if (err instanceof Unauthorized) {
      storage("del", TOKEN_KEY);
      showLogin("That token was refused.");
      return;
    }
    $("chart-source").textContent = "error: " + (err && err.message ? err.message : err);
  }

  // -- refresh, theme, drawer ----------------------------------------------------------------------
  function stopTimer() {
    if (state.timer) { window.clearInterval(state.timer); state.timer = null; }
  }

  function startTimer() {
    stopTimer();
    var secs = Number($("refresh").value);
    if (secs > 0) {
      state.timer = window.setInterval(function () {
        if (!document.hidden) { loadAll().catch(handleError); }
      }, secs * 1000);
    }
  }

  function toggleTheme() {
    var dark = document.documentElement.classList.toggle("dark");
    storage("set", DARK_KEY, dark ? "1" : "0");
    if (chart) { chart.applyOptions(chartOptions()); }
  }

  function closeDrawer() {
    $("sidebar").classList.remove("open");
    $("backdrop").hidden = true;
  }

  function start() {
    takeTokenFromAddress();
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      storage("set", TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      loadAll().then(startTimer).catch(handleError);
    });
    $("forget").addEventListener("click", function () {
      storage("del", TOKEN_KEY);
      showLogin("");
    });
    $("theme").addEventListener("click", toggleTheme);
    $("search").addEventListener("input", renderSidebar);
    var stored = storage("get", REFRESH_KEY);
    if (stored !== null) { $("refresh").value = stored; }
    $("refresh").addEventListener("change", function () {
      storage("set", REFRESH_KEY, $("refresh").value);
      startTimer();
    });
    $("menu").addEventListener("click", function () {
      $("sidebar").classList.add("open");
      $("backdrop").hidden = false;
    });
    $("backdrop").addEventListener("click", closeDrawer);
    document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") { closeDrawer(); } });
    document.querySelectorAll("#overview th").forEach(function (th) {
      th.addEventListener("click", function () {
        var key = th.dataset.key;
        state.sortDir = state.sortKey === key ? -state.sortDir : 1;
        state.sortKey = key;
        renderOverview();
      });
    });
    if (!token()) { showLogin(""); return; }
    loadAll().then(startTimer).catch(handleError);
  }

  start();
})();
