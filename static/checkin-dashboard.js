// Live check-in dashboard: poll the counts JSON (same origin) and update the page in place.
// A static file, not an inline script, so the Content-Security-Policy can forbid inline scripts;
// without JavaScript the page refreshes itself (<noscript> meta refresh).
(function () {
  "use strict";
  var live = document.getElementById("checkin-live");
  if (!live || !window.fetch) { return; }
  var url = live.getAttribute("data-url");
  var chart = document.getElementById("chart");
  function put(key, value) {
    document.querySelectorAll('[data-k="' + key + '"]').forEach(function (el) {
      var target = el.querySelector("a") || el;
      target.textContent = value;
    });
  }
  function tick() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
      if (!d) return;
      var shown = chart ? chart.querySelectorAll("g").length : 0;
      if (d.provinces.length !== shown) { location.reload(); return; }
      ["safe", "need_help", "no_response", "total"].forEach(function (a) { put("|" + a, d.totals[a]); });
      var biggest = Math.max.apply(null, d.provinces.map(function (p) { return p.total; }).concat([1]));
      d.provinces.forEach(function (p) {
        ["safe", "need_help", "no_response", "total"].forEach(function (a) { put(p.code + "|" + a, p[a]); });
        var g = chart && chart.querySelector('g[data-province="' + p.code + '"]');
        if (!g) return;
        var x = 0;
        ["safe", "need_help", "no_response"].forEach(function (a) {
          var w = p[a] ? Math.max(1, Math.round(p[a] * 480 / biggest)) : 0;
          var rect = g.querySelector('rect[data-a="' + a + '"]');
          rect.setAttribute("x", 170 + x); rect.setAttribute("width", w);
          rect.querySelector("title").textContent = p[a];
          x += w;
        });
        var tot = g.querySelector("text.tot");
        tot.setAttribute("x", 170 + x + 6);
        tot.textContent = p.safe + " / " + p.need_help + " / " + p.no_response;
      });
    }).catch(function () {});
  }
  setInterval(tick, parseInt(live.getAttribute("data-poll-ms"), 10) || 10000);
})();
