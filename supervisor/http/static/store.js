// The pages' shared browser storage (dashboard, tuning, reports): one token, taken once from
// ?token= (then removed from the address bar, so it is never in history or a Referer), else kept
// in local storage. Loaded before each page's own script.
window.goTraderStore = (function () {
  "use strict";
  var TOKEN_KEY = "goTraderStatusToken";

  function storage(op, key, value) {
    try {
      if (op === "get") { return window.localStorage.getItem(key); }
      if (op === "set") { window.localStorage.setItem(key, value); }
      if (op === "del") { window.localStorage.removeItem(key); }
    } catch (e) { /* storage disabled: the token prompt comes back next time */ }
    return null;
  }

  function takeTokenFromAddress() {
    var url = new URL(window.location.href);
    var t = url.searchParams.get("token");
    if (t) {
      storage("set", TOKEN_KEY, t);
      url.searchParams.delete("token");
      window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
  }

  function token() { return storage("get", TOKEN_KEY) || ""; }

  return { TOKEN_KEY: TOKEN_KEY, storage: storage, takeTokenFromAddress: takeTokenFromAddress, token: token };
})();
