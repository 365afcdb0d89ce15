// Live updates: poll /api/version every second; when the coordinator's
// state moved (or every 5 s, for heartbeat ages), fetch the page's live part
// and swap it in. The toggle pauses it.
(function () {
  "use strict";
  var main = document.getElementById("live");
  var toggle = document.getElementById("live-toggle");
  if (!main || !toggle) return;
  var on = true, last = null, lastRefresh = Date.now(), busy = false;
  toggle.addEventListener("click", function () {
    on = !on;
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    toggle.textContent = "Live updates: " + (on ? "on" : "paused");
  });
  function refresh() {
    var u = new URL(location.href);
    u.searchParams.set("fragment", "1");
    return fetch(u, {cache: "no-store"}).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (html) {
      main.innerHTML = html;
      lastRefresh = Date.now();
    });
  }
  function tick() {
    if (!on || busy || document.hidden) return;
    busy = true;
    fetch("/api/version", {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (v) {
      var changed = last !== null && v.version !== last;
      last = v.version;
      main.dataset.version = v.version;
      if (changed || Date.now() - lastRefresh > 5000) return refresh();
    }).catch(function () {}).then(function () { busy = false; });
  }
  setInterval(tick, 1000);
  tick();
})();
