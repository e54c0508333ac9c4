// Before first paint: the stored theme (or the system's), so a dark page never flashes white.
(function () {
  "use strict";
  var stored = null;
  try { stored = window.localStorage.getItem("goTraderDarkMode"); } catch (e) { /* private mode */ }
  var dark = stored === null
    ? !!(window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches)
    : stored === "1";
  if (dark) { document.documentElement.classList.add("dark"); }
})();
