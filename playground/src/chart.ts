// A small line chart on a canvas (no chart library): several series of (x, y) points, axes with
// min/max labels, redrawn in full on each update (a few hundred points at most). The y axis spans
// the data, padded by 8% and kept inside `clamp` (accuracy: [0, 1]), so curves that move within a
// few percent are not flattened against a fixed 0..1 axis; the range drawn is on the canvas as
// data-y-min / data-y-max.
export interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

export class LineChart {
  private series: Series[] = [];
  constructor(
    private canvas: HTMLCanvasElement,
    private title: string,
    private opts: { yMin?: number; yMax?: number; clamp?: [number, number]; xLabel: string } = { xLabel: "step" },
  ) {
    this.draw();
  }
  set(series: Series[]): void {
    this.series = series;
    this.draw();
  }
  draw(): void {
    const c = this.canvas;
    const dpr = globalThis.devicePixelRatio || 1;
    const w = c.clientWidth || 400;
    const h = c.clientHeight || 180;
    if (c.width !== Math.round(w * dpr)) c.width = Math.round(w * dpr);
    if (c.height !== Math.round(h * dpr)) c.height = Math.round(h * dpr);
    const g = c.getContext("2d");
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#333";
    g.fillText(this.title, 8, 14);
    const L = 44,
      R = 10,
      T = 22,
      B = 22;
    const pts = this.series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
    let x0 = 0,
      x1 = 1,
      y0 = this.opts.yMin ?? Infinity,
      y1 = this.opts.yMax ?? -Infinity;
    if (pts.length > 0) {
      x0 = Math.min(...pts.map((p) => p[0]));
      x1 = Math.max(...pts.map((p) => p[0]));
      if (this.opts.yMin === undefined) y0 = Math.min(...pts.map((p) => p[1]));
      if (this.opts.yMax === undefined) y1 = Math.max(...pts.map((p) => p[1]));
    }
    if (!Number.isFinite(y0) || !Number.isFinite(y1)) [y0, y1] = this.opts.clamp ?? [0, 1];
    else if (this.opts.clamp && pts.length > 0) {
      const pad = 0.08 * Math.max(y1 - y0, 0.01);
      y0 = Math.max(this.opts.clamp[0], y0 - pad);
      y1 = Math.min(this.opts.clamp[1], y1 + pad);
    }
    c.dataset.yMin = String(y0);
    c.dataset.yMax = String(y1);
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 1e-6 + Math.abs(y0) * 0.1;
    const X = (x: number) => L + ((x - x0) / (x1 - x0)) * (w - L - R);
    const Y = (y: number) => h - B - ((y - y0) / (y1 - y0)) * (h - T - B);
    g.strokeStyle = "#bbb";
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(L, T);
    g.lineTo(L, h - B);
    g.lineTo(w - R, h - B);
    g.stroke();
    g.fillStyle = "#666";
    g.textAlign = "right";
    // short labels: the axis has ~40 pixels for them
    const tick = (v: number) => (v !== 0 && (Math.abs(v) < 0.01 || Math.abs(v) >= 1e5) ? v.toExponential(1) : v.toPrecision(3));
    g.fillText(tick(y1), L - 4, T + 4);
    g.fillText(tick(y0), L - 4, h - B);
    g.textAlign = "left";
    g.fillText(`${this.opts.xLabel} ${Math.round(x0)}`, L, h - 6);
    g.textAlign = "right";
    g.fillText(String(Math.round(x1)), w - R, h - 6);
    let lx = w - R;
    for (const s of [...this.series].reverse()) {
      g.fillStyle = s.color;
      g.fillText(s.name, lx, 14);
      lx -= g.measureText(s.name).width + 12;
    }
    g.textAlign = "left";
    for (const s of this.series) {
      g.strokeStyle = s.color;
      g.lineWidth = 1.5;
      g.beginPath();
      let started = false;
      for (const [x, y] of s.points) {
        if (!Number.isFinite(y)) continue;
        if (started) g.lineTo(X(x), Y(y));
        else g.moveTo(X(x), Y(y));
        started = true;
      }
      g.stroke();
      if (s.points.length <= 40) {
        g.fillStyle = s.color;
        for (const [x, y] of s.points) if (Number.isFinite(y)) g.fillRect(X(x) - 2, Y(y) - 2, 4, 4);
      }
    }
  }
}
