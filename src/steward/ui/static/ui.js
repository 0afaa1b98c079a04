// Steward dashboard: draw the charts (plotly.js from the installed plotly package) and
// small partial updates with plain JavaScript (no build step).
(function () {
  "use strict";
  function draw(root) {
    if (!window.Plotly) { return; }
    root.querySelectorAll("div.chart[data-figure]").forEach(function (el) {
      var fig = JSON.parse(el.getAttribute("data-figure"));
      window.Plotly.newPlot(el, fig.data, fig.layout, { responsive: true, displaylogo: false });
      el.setAttribute("data-drawn", "1");
    });
  }
  // Buttons that change state ask first: each is a governed action in the ledger.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });
  // Partial update: a section with data-refresh re-reads itself from the same page.
  function refresh(el) {
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(el.id);
        if (fresh) { el.innerHTML = fresh.innerHTML; drawAll(el); }
      });
  }
  // plotly.js (4.6 MB) is fetched only by pages with charts, and only once the page has
  // loaded: the text is readable at once, the charts follow (the browser caches the file).
  var loading = null;
  function withPlotly(done) {
    if (window.Plotly) { done(); return; }
    if (!loading) {
      loading = [];
      var s = document.createElement("script");
      s.src = "/ui/static/plotly.min.js";
      s.async = true;
      s.onload = function () { loading.forEach(function (f) { f(); }); };
      document.head.appendChild(s);
    }
    loading.push(done);
  }
  function drawAll(root) {
    if (root.querySelector("div.chart[data-figure]")) { withPlotly(function () { draw(root); }); }
  }
  window.addEventListener("load", function () { drawAll(document); });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-refresh]").forEach(function (el) {
      var every = parseInt(el.getAttribute("data-refresh"), 10) * 1000;
      if (every > 0 && el.id) { setInterval(function () { refresh(el); }, every); }
    });
  });
})();
