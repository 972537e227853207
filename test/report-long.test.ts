// A run of 200,000 epochs (issue 16, item 6): `Math.max(...xs)` over the points overflowed the
// stack ("internal error", exit 70). The report now takes extents by a loop and draws at most
// MAX_DRAWN points per series, from a min/max envelope, so the SVGs stay small and the spikes stay.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderReport, type Run } from "../compiler/report";
import { drawnPoints, envelope, extent, MAX_DRAWN, type Pt } from "../compiler/report/series";

const E = 200_000;
const spiky = (e: number) => 1 / Math.sqrt(e) + (e % 997 === 0 ? 5 : 0); // 200 spikes of +5

function longRun(): Run {
  const metrics = Array.from({ length: E }, (_, i) => {
    const e = i + 1;
    return {
      epoch: e,
      train_loss: spiky(e),
      train_acc: 0.5,
      val_loss: e === 1234 ? null : 1.1 / Math.sqrt(e),
      val_acc: 0.6,
      lr: 0.1 * 0.5 ** Math.floor(e / 50_000),
      seconds: 0.01,
    };
  });
  return { name: "long", metrics, final: { test_loss: 0.1, test_acc: 0.9 } };
}

/** The (x, y) pairs of a polyline's points attribute, mapped back through the plot's data-* attributes. */
function polylines(svg: string): { series: string; pts: [number, number][] }[] {
  const plot =
    /<g class="plot" data-x-min="([^"]+)" data-x-max="([^"]+)" data-y-min="([^"]+)" data-y-max="([^"]+)" data-y-log="0" data-left="([^"]+)" data-top="([^"]+)" data-width="([^"]+)" data-height="([^"]+)"/.exec(
      svg,
    );
  expect(plot).not.toBeNull();
  const [x0, x1, y0, y1, left, top, w, h] = plot!.slice(1).map(Number);
  return [...svg.matchAll(/<polyline class="series" data-series="([^"]*)" points="([^"]*)"/g)].map((m) => ({
    series: m[1],
    pts: m[2].split(" ").map((p) => {
      const [px, py] = p.split(",").map(Number);
      return [x0 + ((px - left) / w) * (x1 - x0), y0 + ((top + h - py) / h) * (y1 - y0)] as [number, number];
    }),
  }));
}

describe("a metrics.jsonl of 200,000 epochs", () => {
  it("renders, with SVGs the size of a short run's, every spike kept", () => {
    const rep = renderReport([longRun()]);
    const bytes = (s: string) => Buffer.byteLength(s);
    for (const [k, svg] of Object.entries(rep.svgs)) expect(bytes(svg), k).toBeLessThan(200_000);
    expect(bytes(rep.html)).toBeLessThan(600_000);
    const lines = polylines(rep.svgs.loss);
    const train = lines.filter((l) => l.series.endsWith("training"));
    expect(train).toHaveLength(1);
    const pts = train[0].pts;
    expect(pts.length).toBeLessThanOrEqual(MAX_DRAWN + 2);
    // the first and last epochs, and the spikes' height (within a pixel's worth of loss)
    const perPixel = 6 / 240;
    const perPixelX = E / 500; // the plot is 552 pixels wide
    expect(Math.abs(pts[0][0] - 1)).toBeLessThan(perPixelX);
    expect(Math.abs(pts.at(-1)![0] - E)).toBeLessThan(perPixelX);
    expect(Math.max(...pts.map((p) => p[1]))).toBeGreaterThan(5 - perPixel);
    const spikesSeen = new Set(pts.filter((p) => p[1] > 4).map((p) => Math.round(p[0] / 997)));
    expect(spikesSeen.size).toBe(Math.floor(E / 997));
    // the missing validation loss at epoch 1234 still breaks the line in two
    expect(lines.filter((l) => l.series.endsWith("validation"))).toHaveLength(2);
  });

  it("dnnc report on the run directory exits 0", () => {
    const dir = join(mkdtempSync(join(tmpdir(), "dnnc-report-long-")), "run");
    mkdirSync(dir);
    const run = longRun();
    writeFileSync(join(dir, "metrics.jsonl"), run.metrics.map((m) => JSON.stringify(m)).join("\n") + "\n" + JSON.stringify(run.final) + "\n");
    const r = spawnSync(process.execPath, ["bin/dnnc.mjs", "report", dir], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(statSync(join(dir, "loss.svg")).size).toBeLessThan(200_000);
    expect(readFileSync(join(dir, "report.html"), "utf8")).toContain("200000");
  });
});

describe("series helpers", () => {
  it("extent loops (no spread), skipping NaN", () => {
    const big = new Float64Array(1_000_000).map((_, i) => Math.sin(i));
    big[5] = 7;
    big[9] = -8;
    big[11] = NaN;
    expect(extent(big)).toEqual([-8, 7]);
    expect(extent([])).toEqual([Infinity, -Infinity]);
  });

  it("envelope keeps the ends, the min and max of each bucket, in order; short segments pass through", () => {
    const seg: Pt[] = Array.from({ length: 10_000 }, (_, i) => ({ x: i, y: Math.cos(i / 50) + (i === 4321 ? 9 : 0) + (i === 777 ? -9 : 0) }));
    const e = envelope(seg, 200);
    expect(e.length).toBeLessThanOrEqual(200);
    expect(e[0]).toBe(seg[0]);
    expect(e.at(-1)).toBe(seg.at(-1));
    expect(e).toContain(seg[4321]);
    expect(e).toContain(seg[777]);
    for (let i = 1; i < e.length; i++) expect(e[i].x).toBeGreaterThan(e[i - 1].x);
    expect(envelope(seg.slice(0, 50), 200)).toEqual(seg.slice(0, 50));
  });

  it("drawnPoints keeps gaps between segments and leaves short series alone", () => {
    const pts: Pt[] = Array.from({ length: 9000 }, (_, i) => ({ x: i, y: i === 3000 || i === 3001 ? null : i % 10 }));
    const ok = (p: Pt) => p.y !== null;
    const d = drawnPoints(pts, ok, 600);
    expect(d.filter(ok).length).toBeLessThanOrEqual(600 + 4);
    const gaps = d.flatMap((p, i) => (ok(p) ? [] : [i]));
    expect(gaps).toHaveLength(1);
    expect(d[gaps[0] - 1].x).toBeLessThan(3000);
    expect(d[gaps[0] + 1].x).toBeGreaterThan(3001);
    const short = pts.slice(0, 100);
    expect(drawnPoints(short, ok, 600)).toBe(short);
  });
});
