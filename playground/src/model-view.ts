// Drawing what the worker shows of the model (src/insights.ts): the decision boundary of a
// two-feature classifier on a canvas (each grid cell coloured by the predicted class, paler where
// the model is unsure, the test points on top, as TensorFlow Playground draws it), and a grid of
// test images with their true and predicted classes.
import type { Insight } from "./insights";

/** Class colours (Okabe–Ito), as [r, g, b]. */
export const CLASS_RGB: [number, number, number][] = [
  [0, 114, 178],
  [213, 94, 0],
  [0, 158, 115],
  [204, 121, 167],
  [230, 159, 0],
  [86, 180, 233],
  [240, 228, 66],
  [0, 0, 0],
];

export function drawBoundary(canvas: HTMLCanvasElement, b: Extract<Insight, { type: "boundary" }>): void {
  const size = 320;
  canvas.width = size;
  canvas.height = size;
  const g = canvas.getContext("2d");
  if (!g) return;
  const img = g.createImageData(size, size);
  for (let py = 0; py < size; py++)
    for (let px = 0; px < size; px++) {
      // canvas y grows downwards, the grid's row 0 is y0 (the bottom)
      const gx = Math.min(b.n - 1, Math.floor((px / size) * b.n));
      const gy = Math.min(b.n - 1, Math.floor(((size - 1 - py) / size) * b.n));
      const c = b.cls[gy * b.n + gx];
      // confidence 1/classes .. 1 → tint 0.15 .. 0.6
      const conf = (b.prob[gy * b.n + gx] - 1 / b.classes) / (1 - 1 / b.classes);
      const t = 0.15 + 0.45 * Math.max(0, Math.min(1, conf));
      const [r, gg, bb] = CLASS_RGB[c % CLASS_RGB.length];
      const o = (py * size + px) * 4;
      img.data[o] = Math.round(255 + (r - 255) * t);
      img.data[o + 1] = Math.round(255 + (gg - 255) * t);
      img.data[o + 2] = Math.round(255 + (bb - 255) * t);
      img.data[o + 3] = 255;
    }
  g.putImageData(img, 0, 0);
  for (const [x, y, label] of b.points) {
    const cx = ((x - b.x0) / (b.x1 - b.x0)) * size;
    const cy = size - ((y - b.y0) / (b.y1 - b.y0)) * size;
    const [r, gg, bb] = CLASS_RGB[label % CLASS_RGB.length];
    g.beginPath();
    g.arc(cx, cy, 3, 0, 2 * Math.PI);
    g.fillStyle = `rgb(${r},${gg},${bb})`;
    g.fill();
    g.strokeStyle = "#fff";
    g.lineWidth = 1;
    g.stroke();
  }
  // the share of test points on the side of their class, for the page and its tests
  let right = 0;
  for (const [x, y, label] of b.points) {
    const gx = Math.min(b.n - 1, Math.max(0, Math.floor(((x - b.x0) / (b.x1 - b.x0)) * b.n)));
    const gy = Math.min(b.n - 1, Math.max(0, Math.floor(((y - b.y0) / (b.y1 - b.y0)) * b.n)));
    if (b.cls[gy * b.n + gx] === label) right++;
  }
  canvas.dataset.points = String(b.points.length);
  canvas.dataset.agree = b.points.length > 0 ? (right / b.points.length).toFixed(4) : "";
}

/** A grid of test images, each with "true → predicted (probability)", wrong ones marked. */
export function renderSamples(host: HTMLElement, s: Extract<Insight, { type: "samples" }>, classNames?: string[]): void {
  const [C, H, W] = s.shape;
  const name = (c: number) => classNames?.[c] ?? String(c);
  host.replaceChildren(
    ...s.images.map((im) => {
      const fig = document.createElement("figure");
      fig.className = im.pred === im.label ? "right" : "wrong";
      fig.dataset.label = String(im.label);
      fig.dataset.pred = String(im.pred);
      const c = document.createElement("canvas");
      c.width = W;
      c.height = H;
      const g = c.getContext("2d");
      if (g) {
        const img = g.createImageData(W, H);
        for (let k = 0; k < H * W; k++) for (let ch = 0; ch < 3; ch++) img.data[k * 4 + ch] = im.pixels[(C === 3 ? ch : 0) * H * W + k];
        for (let k = 0; k < H * W; k++) img.data[k * 4 + 3] = 255;
        g.putImageData(img, 0, 0);
      }
      const cap = document.createElement("figcaption");
      cap.textContent = im.pred === im.label ? `${name(im.pred)} ${(100 * im.prob).toFixed(0)}%` : `${name(im.label)} → ${name(im.pred)}`;
      fig.append(c, cap);
      return fig;
    }),
  );
}
