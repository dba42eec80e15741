// Optional: hover details on the charts and a refresh every 30 s. The page is complete without it.
// Values are read back from the drawing: the line's points (x = middle of a step, y scaled
// to data-top ms) and the red failure marks; plot area x 44..594, y 8..124 of 600 x 150.
(function () {
  document.documentElement.dataset.js = "on";
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var tip = svg.parentNode.querySelector(".tip");
    var from = +svg.dataset.from, step = +svg.dataset.step, top = +svg.dataset.top;
    var span = +svg.dataset.span || 24 * 3600 * 1000;
    // Steps are aligned to multiples of step (UTC), from base, the first at or before from.
    var base = from - from % step;
    var index = function (x) { return Math.floor(((x - 44) / 550 * span + from - base) / step); };
    var pts = {}, fails = {};
    var line = svg.querySelector("path.line");
    var nums = line ? line.getAttribute("d").match(/-?[\d.]+/g) || [] : [];
    for (var k = 0; k + 1 < nums.length; k += 2) {
      pts[index(+nums[k])] = (124 - nums[k + 1]) / 116 * top;
    }
    svg.querySelectorAll("rect.fail").forEach(function (r) {
      fails[index(+r.getAttribute("x") + r.getAttribute("width") / 2)] = true;
    });
    function show(ev) {
      var r = svg.getBoundingClientRect();
      var i = index((ev.clientX - r.left) / r.width * 600);
      var v = pts[i];
      if (!tip || (v === undefined && !fails[i])) return;
      var iso = new Date(base + i * step).toISOString();
      var at = span > 864e5 ? iso.slice(5, 10) + " " + iso.slice(11, 16) : iso.slice(11, 16);
      var ms = v === undefined ? "" : (v < 10 ? v.toFixed(2) : v.toFixed(1)) + " ms median";
      tip.textContent = at + " UTC: " + (v === undefined ? "no answer" : ms) +
        (fails[i] && v !== undefined ? ", some probes failed" : "");
    }
    svg.addEventListener("mousemove", show);
  });
  setTimeout(function () { if (!document.hidden) location.reload(); }, 30000);
})();
