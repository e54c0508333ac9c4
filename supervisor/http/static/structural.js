// go-trader dashboard, structural actions (reference A.5): remove a strategy, switch it from
// paper to live, apply the regime gate (the selected strategy), add a strategy, and the
// ratchet-alert default. Each structural action asks /api/confirm first, shows its description
// and asks the operator to type the confirm phrase (the strategy id, compared here as upstream;
// the server binds the nonce to the action, the id and the params, "restart" included).
// Runs after panels.js (state.post).
(function () {
  "use strict";

  var state = window.goTraderDashboard;
  var $ = function (id) { return document.getElementById(id); };
  state.lastStructural = null; // the last execute reply: read by the browser test

  function say(id, text, bad) {
    var n = $(id);
    n.textContent = text || "";
    n.className = bad ? "error" : "muted";
  }

  function run(action, id, params, msg) {
    var path = action === "add-strategy"
      ? "/api/config/add-strategy"
      : "/api/strategies/" + encodeURIComponent(id) + "/" + action;
    say(msg, "asking…");
    state.post("/api/confirm", { action: action, strategy_id: id, params: params }).then(function (c) {
      if (c.httpStatus !== 200) { say(msg, c.error || "refused", true); return null; }
      var also = (c.also_activated || []).length
        ? "\nAlso activates: " + c.also_activated.join(", ") : "";
      var typed = window.prompt(
        c.description + also + "\nType " + c.confirm_phrase + " to confirm:");
      if (typed !== c.confirm_phrase) { say(msg, "not confirmed"); return null; }
      return state.post(path, { nonce: c.nonce, params: params });
    }).then(function (doc) {
      if (!doc) { return; }
      state.lastStructural = doc;
      say(msg, doc.ok ? doc.message : doc.error || "refused", !doc.ok);
    }).catch(function (e) { say(msg, e.message, true); });
  }

  function onStrategy(ev) {
    var action = ev.currentTarget.dataset.action;
    var params = { restart: $("struct-restart").checked };
    run(action, state.selected, params, "struct-msg");
  }

  function addStrategy() {
    var params = {
      name: $("add-name").value.trim(),
      platform: $("add-platform").value,
      asset: $("add-asset").value.trim().toUpperCase(),
      restart: $("add-restart").checked
    };
    run("add-strategy", "", params, "add-msg");
  }

  function loadNotify() {
    state.api("/api/config/notifications").then(function (doc) {
      var v = doc.notify_ratchet_triggers;
      $("notify-default").value = v === true ? "true" : v === false ? "false" : "";
    }).catch(function () { /* shown again on the next page load */ });
  }

  function applyNotify() {
    var v = $("notify-default").value;
    var value = v === "" ? null : v === "true";
    state.post("/api/config/notifications", { notify_ratchet_triggers: value }).then(function (doc) {
      say("notify-msg", doc.ok ? doc.message : doc.error || "refused", !doc.ok);
    });
  }

  ["struct-remove", "struct-live", "struct-gate"].forEach(function (id) {
    $(id).addEventListener("click", onStrategy);
  });
  $("add-go").addEventListener("click", addStrategy);
  $("notify-apply").addEventListener("click", applyNotify);
  state.onLoad.push(function () { loadNotify(); });
})();
