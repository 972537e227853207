// The report's only script (a constant: no user string is ever written into it): the smoothing
// slider redraws the smoothed per-step curves (and a drag across a per-step plot zooms into that
// range of steps, redrawing its x axis; a double click zooms out) from the numbers embedded in
// <script type="application/json" id="dnnc-steps">, mapping them with each plot's data-* attributes
// (svg.ts); the log-scale checkbox switches between the linear and log renderings of the loss plots
// (both drawn by svg.ts); the settings live in the address's #fragment (#s=0.6&log=1&z=100-200), so a reload (the live
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
  // the step range shown (null: the whole run); a drag across a per-step plot zooms into it,
  // a double click zooms out
  var zoom = null;
  var NS = "http://www.w3.org/2000/svg";
  function niceStep(range) {
    var raw = range / 7, e = Math.floor(Math.log10(raw)), f = raw / Math.pow(10, e);
    return Math.max(1, (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * Math.pow(10, e));
  }
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function range(d) { return zoom || [+d.xMin, +d.xMax]; }
  function redraw(w) {
    if (!data) return;
    var svgs = document.querySelectorAll("svg[data-steps]");
    for (var s = 0; s !== svgs.length; s++) {
      var g = svgs[s].querySelector("g.plot"), d = g.dataset, xr = range(d);
      var x0 = xr[0], x1 = xr[1], y0 = +d.yMin, y1 = +d.yMax, lg = d.yLog === "1";
      var left = +d.left, top = +d.top, W = +d.width, H = +d.height;
      var tx = function (x) { return left + ((x - x0) / (x1 - x0)) * W; };
      var ty = lg
        ? function (y) { return top + H - ((Math.log10(y) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0))) * H; }
        : function (y) { return top + H - ((y - y0) / (y1 - y0)) * H; };
      var ticks = svgs[s].querySelector("g.xticks");
      if (ticks) {
        while (ticks.firstChild) ticks.firstChild.remove();
        var step = niceStep(x1 - x0);
        for (var t = Math.ceil(x0 / step) * step; t <= x1 + 1e-9; t += step) {
          var X = String(Math.round(tx(t) * 100) / 100);
          ticks.appendChild(el("line", { x1: X, y1: String(top), x2: X, y2: String(top + H), stroke: "#f0f0f0" }));
          ticks.appendChild(el("line", { x1: X, y1: String(top + H), x2: X, y2: String(top + H + 5), stroke: "#888" }));
          ticks.appendChild(el("text", { x: X, y: String(top + H + 18), "text-anchor": "middle" }, String(Math.round(t))));
        }
      }
      data.runs.forEach(function (r) {
        ["raw-", "smooth-"].forEach(function (kind) {
          var old = g.querySelectorAll('polyline[data-key="' + kind + r.run + '"]');
          if (old.length === 0) return;
          var proto = old[0].cloneNode(false);
          for (var o = 0; o !== old.length; o++) old[o].remove();
          var ys = kind === "raw-" ? r.y : ema(r.y, w), seg = [];
          var first = Math.max(0, Math.ceil((x0 - r.x0) / r.dx)), last = Math.min(ys.length - 1, Math.floor((x1 - r.x0) / r.dx));
          var stride = Math.max(1, Math.ceil((last - first + 1) / 2000));
          var flush = function () {
            if (seg.length === 0) return;
            var line = proto.cloneNode(false);
            line.setAttribute("points", seg.join(" "));
            g.appendChild(line);
            seg = [];
          };
          for (var i = first; i <= last; i++) {
            if ((i - first) % stride !== 0 && i !== last) continue;
            var y = ys[i];
            if (y === null || (lg && !(y > 0))) { flush(); continue; }
            seg.push(Math.round(tx(r.x0 + i * r.dx) * 100) / 100 + "," + Math.round(ty(y) * 100) / 100);
          }
          flush();
        });
      });
    }
  }
  function toData(svg, ev) {
    var p = svg.createSVGPoint();
    p.x = ev.clientX;
    p.y = ev.clientY;
    var q = p.matrixTransform(svg.getScreenCTM().inverse()), d = svg.querySelector("g.plot").dataset, xr = range(d);
    return { px: q.x, x: xr[0] + ((q.x - +d.left) / +d.width) * (xr[1] - xr[0]) };
  }
  function setZoom(z) {
    zoom = z;
    apply();
    save();
  }
  Array.prototype.forEach.call(document.querySelectorAll("svg[data-steps]"), function (svg) {
    var start = null, box = null;
    svg.addEventListener("mousedown", function (ev) {
      start = toData(svg, ev);
      var d = svg.querySelector("g.plot").dataset;
      box = el("rect", { x: String(start.px), y: d.top, width: "0", height: d.height, fill: "#0072B2", "fill-opacity": "0.12", class: "zoom-box" });
      svg.appendChild(box);
      ev.preventDefault();
    });
    svg.addEventListener("mousemove", function (ev) {
      if (!start) return;
      var p = toData(svg, ev);
      box.setAttribute("x", String(Math.min(p.px, start.px)));
      box.setAttribute("width", String(Math.abs(p.px - start.px)));
    });
    svg.addEventListener("mouseup", function (ev) {
      if (!start) return;
      var p = toData(svg, ev), a = Math.min(p.x, start.x), b = Math.max(p.x, start.x);
      box.remove();
      var wide = Math.abs(p.px - start.px) > 5;
      start = null;
      if (wide && b - a >= 2) setZoom([Math.max(1, Math.floor(a)), Math.ceil(b)]);
    });
    svg.addEventListener("dblclick", function () { setZoom(null); });
  });
  function state() {
    var m = /s=([0-9.]+)/.exec(location.hash), l = /log=1/.test(location.hash), z = /z=(\\d+)-(\\d+)/.exec(location.hash);
    return { s: m ? Math.min(0.99, Math.max(0, Number(m[1]))) : null, log: l, z: z && +z[2] > +z[1] ? [+z[1], +z[2]] : null };
  }
  function save() {
    var h = "#s=" + (slider ? slider.value : "") + (logBox && logBox.checked ? "&log=1" : "") + (zoom ? "&z=" + zoom[0] + "-" + zoom[1] : "");
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
  zoom = st.z;
  if (slider && st.s !== null) slider.value = String(st.s);
  if (logBox) logBox.checked = st.log;
  apply();
  if (slider) slider.addEventListener("input", function () { apply(); save(); });
  if (logBox) logBox.addEventListener("change", function () { apply(); save(); });
  var live = Number(document.body.dataset.live);
  if (live > 0) setTimeout(function () { location.reload(); }, live);
})();
`;
