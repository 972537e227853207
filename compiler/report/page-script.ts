// The report's only script (a constant: no user string is ever written into it): the smoothing
// slider redraws the smoothed per-step curves from the numbers embedded in
// <script type="application/json" id="dnnc-steps">, mapping them with each plot's data-* attributes
// (svg.ts); the log-scale checkbox switches between the linear and log renderings of the loss plots
// (both drawn by svg.ts); both settings live in the address's #fragment, so a reload (the live
// report's: <body data-live="MS">) keeps them.
export const LIVE_RELOAD_MS = 3000;

export const PAGE_SCRIPT = `
(function () {
  "use strict";
  var slider = document.getElementById("smoothing");
  var shown = document.getElementById("smoothing-value");
  var logBox = document.getElementById("log-toggle");
  var dataEl = document.getElementById("dnnc-steps");
  var data = dataEl ? JSON.parse(dataEl.textContent) : null;
  function ema(ys, w) {
    var out = new Array(ys.length), last = 0, k = 0;
    for (var i = 0; i !== ys.length; i++) {
      var v = ys[i];
      if (v === null || !isFinite(v)) { out[i] = null; continue; }
      k++;
      last = last * w + (1 - w) * v;
      out[i] = w > 0 ? last / (1 - Math.pow(w, k)) : v;
    }
    return out;
  }
  function redraw(w) {
    if (!data) return;
    var svgs = document.querySelectorAll("svg[data-steps]");
    for (var s = 0; s !== svgs.length; s++) {
      var g = svgs[s].querySelector("g.plot"), d = g.dataset;
      var x0 = +d.xMin, x1 = +d.xMax, y0 = +d.yMin, y1 = +d.yMax, lg = d.yLog === "1";
      var left = +d.left, top = +d.top, W = +d.width, H = +d.height;
      var tx = function (x) { return left + ((x - x0) / (x1 - x0)) * W; };
      var ty = lg
        ? function (y) { return top + H - ((Math.log10(y) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * H; }
        : function (y) { return top + H - ((y - y0) / (y1 - y0)) * H; };
      data.runs.forEach(function (r) {
        var old = g.querySelectorAll('polyline[data-key="smooth-' + r.run + '"]');
        if (old.length === 0) return;
        var proto = old[0].cloneNode(false);
        for (var o = 0; o !== old.length; o++) old[o].remove();
        var ys = ema(r.y, w), stride = Math.max(1, Math.ceil(ys.length / 2000)), seg = [];
        var flush = function () {
          if (seg.length === 0) return;
          var line = proto.cloneNode(false);
          line.setAttribute("points", seg.join(" "));
          g.appendChild(line);
          seg = [];
        };
        for (var i = 0; i !== ys.length; i++) {
          if (i % stride !== 0 && i !== ys.length - 1) continue;
          var y = ys[i];
          if (y === null || (lg && !(y > 0))) { flush(); continue; }
          var x = r.x0 + i * r.dx;
          seg.push(Math.round(tx(x) * 100) / 100 + "," + Math.round(ty(y) * 100) / 100);
        }
        flush();
      });
    }
  }
  function state() {
    var m = /s=([0-9.]+)/.exec(location.hash), l = /log=1/.test(location.hash);
    return { s: m ? Math.min(0.99, Math.max(0, Number(m[1]))) : null, log: l };
  }
  function save() {
    var h = "#s=" + (slider ? slider.value : "") + (logBox && logBox.checked ? "&log=1" : "");
    history.replaceState(null, "", h);
  }
  function apply() {
    if (slider) {
      var w = Number(slider.value);
      if (shown) shown.textContent = w.toFixed(2);
      redraw(w);
    }
    document.body.classList.toggle("log", !!(logBox && logBox.checked));
  }
  var st = state();
  if (slider && st.s !== null) slider.value = String(st.s);
  if (logBox) logBox.checked = st.log;
  apply();
  if (slider) slider.addEventListener("input", function () { apply(); save(); });
  if (logBox) logBox.addEventListener("change", function () { apply(); save(); });
  var live = Number(document.body.dataset.live);
  if (live > 0) setTimeout(function () { location.reload(); }, live);
})();
`;
