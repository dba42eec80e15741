// Optional: hover details on the charts and a refresh every 30 s. The page is complete without it.
(function () {
  document.documentElement.dataset.js = "on";
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var tip = svg.parentNode.querySelector(".tip");
    var from = +svg.dataset.from, step = +svg.dataset.step, pts = {};
    (svg.dataset.v || "").split(",").forEach(function (kv) {
      var p = kv.split(":");
      if (p.length === 2) pts[p[0]] = p[1];
    });
    var span = 24 * 3600 * 1000;
    function show(ev) {
      var r = svg.getBoundingClientRect();
      var x = (ev.clientX - r.left) / r.width * 600;
      var t = from + (x - 44) / 550 * span;
      var i = Math.floor((t - from) / step);
      var v = pts[i];
      if (!tip || v === undefined) return;
      var at = new Date(from + i * step).toISOString().slice(11, 16);
      tip.textContent = at + " UTC: " + (v === "x" ? "no answer" : v + " ms median");
    }
    svg.addEventListener("mousemove", show);
  });
  setTimeout(function () { if (!document.hidden) location.reload(); }, 30000);
})();
